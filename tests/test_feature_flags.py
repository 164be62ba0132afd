"""CDK feature flags, decided before anyone deploys (docs/network.md, "CDK feature flags").

cdk.json sets every flag the pinned aws-cdk-lib knows, so that the CLI's synth reports none unconfigured. The
flags it sets beyond the 13 the project had before are the ones `npx cdk flags --unstable=flags --safe` found
template-neutral; the tests here prove that for every variant the other tests lint, and that the few flags left
off recommended each have a reason.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest

from stacks.composition import compose
from tests.cdk_app import (
    CDK_JSON_CONTEXT,
    CLI_CONTEXT,
    DOMAIN,
    EXISTING_VPC_NO_NAT,
    RESTORE_SNAPSHOT,
    ROOT,
    VARIANTS,
    synthesized,
)

# The flags cdk.json set before the flags were decided as a whole, each chosen by hand (some replace a resource
# once switched after a deploy, so their value is fixed for the project's life).
DECIDED_BY_HAND = frozenset(
    {
        "@aws-cdk/core:validateAgainstDefaultRules",
        "@aws-cdk/core:defaultCrossStackReferences",
        "@aws-cdk/aws-iam:minimizePolicies",
        "@aws-cdk/core:target-partitions",
        "@aws-cdk/aws-lambda:recognizeLayerVersion",
        "@aws-cdk/aws-ecs:removeDefaultDeploymentAlarm",
        "@aws-cdk/aws-ecs:disableExplicitDeploymentControllerForCircuitBreaker",
        "@aws-cdk/aws-rds:auroraClusterChangeScopeOfInstanceParameterGroupWithEachParameters",
        "@aws-cdk/aws-rds:setCorrectValueForDatabaseInstanceReadReplicaInstanceResourceId",
        "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup",
        "@aws-cdk/aws-ecs-patterns:removeDefaultDesiredCount",
        "@aws-cdk/aws-lambda:useCdkManagedLogGroup",
    }
)
# Flags set against aws-cdk-lib's recommendation, each with the reason docs/network.md gives.
LEFT = {
    "@aws-cdk/core:explicitStackTags": "drops the stacks' letta:env and letta:profile tags",
    "@aws-cdk/core:enablePartitionLiterals": "rewrites ARNs in every deployed stack with a region",
    "@aws-cdk/aws-lambda:useCdkManagedLogGroup": "fails with 'already exists' for a function that has run",
    "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": "adds a custom resource and a Lambda to every created VPC",
    "@aws-cdk/core:defaultCrossStackReferences": "'weak' would drop the exports the deployed service imports",
}


def flag_report(synth: Any) -> dict[str, dict[str, Any]]:
    manifest = json.loads((synth.root_dir / "manifest.json").read_text())
    return manifest["artifacts"]["aws-cdk-lib/feature-flag-report"]["properties"]["flags"]


def flags() -> dict[str, Any]:
    return {k: v for k, v in CDK_JSON_CONTEXT.items() if k.startswith("@aws-cdk")}


def test_cdk_json_configures_every_flag_the_library_reports() -> None:
    report = flag_report(synthesized(profile="dev"))
    unconfigured = sorted(name for name, flag in report.items() if "userValue" not in flag)
    # What `cdk synth` counts as "feature flags are not configured": none.
    assert unconfigured == []
    # Each flag added when the flags were decided is one this aws-cdk-lib knows (no typo sets nothing).
    assert set(flags()) - DECIDED_BY_HAND <= set(report)


def test_every_flag_off_its_recommendation_has_a_reason_in_the_docs() -> None:
    report = flag_report(synthesized(profile="dev"))
    off = {name for name, flag in report.items() if flag.get("userValue") != flag["recommendedValue"]}
    off -= {"@aws-cdk/core:target-partitions"}  # a list, not a switch: the partitions the app may deploy to
    assert off == set(LEFT)
    page = (ROOT / "docs" / "network.md").read_text()
    for name in LEFT:
        assert f"`{name}`" in page, name


def test_stack_tags_stay_on_the_stacks() -> None:
    # explicitStackTags=true would leave Tags.of(stack) on the resources only: the CLI would then remove the stacks'
    # own tags on the next deploy without any template change (which is why `cdk flags --safe` misses it).
    root = synthesized(profile="dev").root
    for stack in root.stacks:
        assert stack.tags["letta:env"] == "dev", stack.stack_name


# The variants that between them take every optional branch of the templates (all eleven were compared when the flags
# were set; these keep the proof at five extra synths): prod with certificate, ECS Exec and alarms; the pipeline; a
# snapshot restore; an existing VPC with endpoints; a domain with browser origins.
FLAG_VARIANTS = [
    next(v for v in VARIANTS if v.get("enable_ecs_exec")),
    next(v for v in VARIANTS if v.get("pipeline")),
    RESTORE_SNAPSHOT,
    {"profile": "dev", **EXISTING_VPC_NO_NAT},
    DOMAIN,
    # The account's CI roles stack (a stack of its own, outside the environment's two).
    {"ci_roles": True, "github_repo": "acme/letta-aurora-cdk", "region": "us-east-1"},
]


def _templates(overrides: dict[str, Any], *, added_flags: bool) -> dict[str, dict[str, Any]]:
    context = {
        k: v for k, v in CDK_JSON_CONTEXT.items() if added_flags or not k.startswith("@") or k in DECIDED_BY_HAND
    }
    app = cdk.App(context={**CLI_CONTEXT, **context, **overrides})
    compose(app, nag=False)
    return {s.stack_name: s.template for s in app.synth().stacks_recursively}


@pytest.mark.synth
@pytest.mark.parametrize("overrides", FLAG_VARIANTS, ids=lambda v: "-".join(f"{k}={v[k]}" for k in v)[:80])
def test_the_added_flags_change_no_template(overrides: dict[str, Any]) -> None:
    """The flags beyond the hand-decided ones leave every variant's templates exactly as they were."""
    added = set(flags()) - DECIDED_BY_HAND
    assert len(added) >= 90
    before, after = _templates(overrides, added_flags=False), _templates(overrides, added_flags=True)
    assert before.keys() == after.keys()
    for name in before:
        assert before[name] == after[name], name
