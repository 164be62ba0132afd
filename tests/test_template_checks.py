"""The proof harness over every synthesized template, both profiles: cfn-lint, cdk-nag, CDK's own checks,
and no secret value anywhere in a template."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks

from tests.cdk_app import (
    CERTIFICATE,
    DOMAIN,
    EXISTING_VPC,
    EXISTING_VPC_NO_NAT,
    VARIANTS,
    profile_context,
    synthesize,
    synthesized,
)

PROFILES = ["dev", "prod"]


# W3005 ("dependency already enforced by a GetAtt"): CDK writes an explicit DependsOn on a Lambda's role
# policy beside the GetAtt on the role itself so the policy exists before the function runs; cfn-lint sees only
# the redundancy (aws-cdk #24578), and CDK's own template validation ignores W3005 for the same reason.
# W6001 ("an output built from an import"): the service stack's ApiUrl is the data stack's load balancer DNS name on
# purpose (clients read the URL from the stack whose listeners serve it). The service template says so in its own
# cfn-lint metadata, which a bare `cfn-lint` honours; `--ignore-checks` here replaces that list, so it is repeated.
IGNORED = ["--ignore-checks", "W3005", "W6001", "--"]


def template_files(outdir: Path) -> list[Path]:
    files = sorted(outdir.rglob("*.template.json"))
    assert files, f"no templates under {outdir}"
    return files


@pytest.mark.parametrize("overrides", VARIANTS, ids=lambda v: "-".join(f"{k}={v[k]}" for k in v))
def test_cfn_lint_finds_nothing(overrides: dict[str, object]) -> None:
    files = template_files(synthesized(**overrides).root_dir)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *IGNORED, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit code is a bitmask: 2 errors, 4 warnings, 8 informational. Zero means nothing at all.
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("overrides", VARIANTS, ids=lambda v: "-".join(f"{k}={v[k]}" for k in v))
def test_cdk_nag_aws_solutions_has_no_unacknowledged_finding(overrides: dict[str, object]) -> None:
    report = AwsSolutionsChecks().validate_scope(synthesized(**overrides).app)
    findings = [
        f"{v.rule_name}: {v.description} at {[r.construct_path for r in v.violating_resources]}"
        for v in report.violations
    ]
    assert findings == []


def test_synth_with_cdk_nag_registered_succeeds_like_app_py() -> None:
    # app.py registers the plugin; synth raises ValidationFailed on any finding.
    synthesize({"profile": "prod", "allow_plain_http": True}, nag=True)


def test_documented_public_api_synthesizes_with_cdk_nag_registered() -> None:
    synthesize({"api_allowed_cidrs": "0.0.0.0/0", "api_allow_public": True, "certificate_arn": CERTIFICATE}, nag=True)


def test_cdk_nag_would_catch_an_unacknowledged_finding() -> None:
    from aws_cdk import aws_sqs as sqs

    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    sqs.Queue(stack, "Plain")  # no DLQ, no SSL enforcement: AwsSolutions-SQS3/SQS4
    rules = {v.rule_name for v in AwsSolutionsChecks().validate_scope(app).violations}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def warnings(overrides: dict[str, object]) -> list[str]:
    synth = synthesized(**overrides)
    found = []
    for stack in (synth.stacks.data, synth.stacks.service):
        annotations = Annotations.from_stack(stack)
        assert annotations.find_error("*", Match.any_value()) == [], stack.stack_name
        found += [str(w.entry.data) for w in annotations.find_warning("*", Match.any_value())]
    return found


@pytest.mark.parametrize(
    "overrides",
    [
        {"profile": "dev"},
        {"profile": "prod", "certificate_arn": CERTIFICATE},
        # docs/network.md: an existing VPC by ids (no route-table warning per imported subnet), your domain.
        {"profile": "prod", "certificate_arn": CERTIFICATE, **EXISTING_VPC},
        {"profile": "dev", **EXISTING_VPC_NO_NAT},
        DOMAIN,
    ],
)
def test_synth_emits_no_warning_or_error_annotation(overrides: dict[str, object]) -> None:
    assert warnings(overrides) == []


def test_prod_without_certificate_warns_that_the_api_is_plain_http() -> None:
    found = warnings({"profile": "prod", "allow_plain_http": True})
    assert len(found) == 1
    assert "plain HTTP" in found[0] and "certificate_arn" in found[0]


@pytest.mark.parametrize("overrides", VARIANTS, ids=lambda v: "-".join(f"{k}={v[k]}" for k in v))
def test_cdk_template_validation_reports_nothing(overrides: dict[str, object]) -> None:
    # The validation report also carries warnings (e.g. W2508, 5432 open to the world) that never fail synth, and
    # (flag core:annotationsInValidationReport) the constructs' own warnings: only the deliberate plain-HTTP one of
    # prod with allow_plain_http=true may be there (test_prod_without_certificate_warns_that_the_api_is_plain_http).
    report = json.loads((synthesized(**overrides).root_dir / "validation-report.json").read_text())
    violations = [v for plugin in report["pluginReports"] for v in plugin["violations"]]
    expected = ["Annotation::letta:api-without-tls"] if overrides.get("allow_plain_http") else []
    assert [v["ruleName"] for v in violations] == expected
    assert all(plugin["conclusion"] == "success" for plugin in report["pluginReports"])


def test_cdk_template_validation_fails_synth_with_cdk_json_flags() -> None:
    from tests.cdk_app import CDK_JSON_CONTEXT

    app = cdk.App(context=CDK_JSON_CONTEXT)
    stack = cdk.Stack(app, "Probe")
    cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue", properties={"VisibilityTimeout": "soon"})
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()


# Values that must never appear in a template: a password, a connection string with credentials, a key.
_SECRET_PATTERNS = [
    re.compile(r"postgres(?:ql)?://[^:/\s\"]+:[^@\s\"]+@"),
    re.compile(r"\"(?:MasterUserPassword|Password|SecretString)\"\s*:\s*\""),
    re.compile(r"sk-[A-Za-z0-9]{20,}"),
]


@pytest.mark.parametrize("profile", PROFILES)
def test_no_template_contains_a_secret_value(profile: str) -> None:
    for name, template in synthesized(**profile_context(profile)).templates().items():
        text = json.dumps(template)
        for pattern in _SECRET_PATTERNS:
            assert not pattern.search(text), f"{name}: {pattern.pattern}"
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::SecretsManager::Secret":
                assert "SecretString" not in resource["Properties"], name
                assert "GenerateSecretString" in resource["Properties"], name
