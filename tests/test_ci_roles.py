"""The CI roles stack, read from its synthesized template: who can assume which role (the GitHub token's `sub`
and `aud`, matched exactly), and what a pull request's code can reach through them. A small evaluator of IAM's
Allow/Deny logic over the synthesized statements (patterns, NotResource, the condition operators used) shows that
the preview boundary confines every preview principal to letta-pr-* stacks and resources."""

from __future__ import annotations

import fnmatch
import json
import re
from functools import cache
from typing import Any

import aws_cdk as cdk
import pytest

from stacks.ci_roles import names
from stacks.composition import compose
from stacks.config import ConfigError
from tests.cdk_app import CDK_JSON_CONTEXT, CLI_CONTEXT

pytestmark = pytest.mark.synth  # every test here composes the app (CDK, seconds each)

REPO = "acme/letta-aurora-cdk"
ACCOUNT, REGION, PARTITION = "123456789012", "eu-west-1", "aws"
ISSUER = names.GITHUB_ISSUER


@cache
def template(**extra: Any) -> dict[str, Any]:
    context = {**CLI_CONTEXT, **CDK_JSON_CONTEXT, "ci_roles": True, "github_repo": REPO, "region": REGION, **extra}
    app = cdk.App(context=context)
    compose(app, nag=True)  # any unacknowledged cdk-nag finding raises here
    return app.synth().get_stack_by_name(names.STACK_NAME).template


def resolve(value: Any) -> Any:
    """The template's values as the account sees them: pseudo parameters and joins resolved."""
    pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION}
    if isinstance(value, dict):
        if "Ref" in value and value["Ref"] in pseudo:
            return pseudo[value["Ref"]]
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(resolve(p)) for p in parts)
        if "Fn::GetAtt" in value:
            return f"<{value['Fn::GetAtt'][0]}>"
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def roles() -> dict[str, dict[str, Any]]:
    resources = resolve(template()["Resources"])
    return {k: v for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}


def role(prefix: str) -> dict[str, Any]:
    (found,) = [v for k, v in roles().items() if k.startswith(prefix)]
    return found


def policies_of(logical_prefix: str) -> list[dict[str, Any]]:
    """The statements of the inline policies attached to the role whose logical id starts with the prefix."""
    resources = resolve(template()["Resources"])
    role_id = next(k for k in resources if k.startswith(logical_prefix) and resources[k]["Type"] == "AWS::IAM::Role")
    return [
        statement
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and resource["Properties"]["Roles"] == [{"Ref": role_id}]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def boundary() -> list[dict[str, Any]]:
    resources = resolve(template()["Resources"])
    (policy,) = [v for v in resources.values() if v["Type"] == "AWS::IAM::ManagedPolicy"]
    assert policy["Properties"]["ManagedPolicyName"] == names.PREVIEW_BOUNDARY
    return policy["Properties"]["PolicyDocument"]["Statement"]


# --- Trust ------------------------------------------------------------------------------------------------------


def subjects(trust: dict[str, Any]) -> list[str]:
    found = []
    for statement in trust["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        condition = statement["Condition"]
        # Exact matches only: StringLike with a pattern would admit any branch, tag or environment.
        assert set(condition) == {"StringEquals"}, condition
        assert condition["StringEquals"][f"{ISSUER}:aud"] == names.AUDIENCE
        found += as_list(condition["StringEquals"][f"{ISSUER}:sub"])
    return found


def test_each_role_trusts_exactly_one_subject_of_the_repository() -> None:
    assert {k[:-8]: subjects(v) for k, v in roles().items()} == {
        "Diff": [f"repo:{REPO}:pull_request"],
        "Preview": [f"repo:{REPO}:pull_request"],
        "Dev": [f"repo:{REPO}:ref:refs/heads/main"],
        "Prod": [f"repo:{REPO}:environment:production"],
    }


def test_the_prod_role_trusts_exactly_the_production_environment() -> None:
    (statement,) = role("Prod")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"] == {
        "StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com", f"{ISSUER}:sub": f"repo:{REPO}:environment:production"}
    }
    assert statement["Principal"] == {"Federated": "<GithubOidc>"}


def test_an_existing_oidc_provider_is_imported_not_created() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
    imported = template(github_oidc_provider_arn=arn)
    assert not [r for r in imported["Resources"].values() if r["Type"] == "AWS::IAM::OIDCProvider"]
    trusts = [
        s["Principal"]["Federated"]
        for r in imported["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
        for s in r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    ]
    assert trusts == [arn] * 4


# --- A small evaluator of IAM's logic: an explicit Deny wins, then an Allow is needed --------------------------


def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _condition_holds(condition: dict[str, Any] | None, context: dict[str, str]) -> bool:
    for operator, keys in (condition or {}).items():
        for key, expected in keys.items():
            present = key in context
            values = as_list(expected)
            if operator == "Null":
                if (values[0] == "true") != (not present):
                    return False
            elif operator == "StringEquals":
                if not present or context[key] not in values:
                    return False
            elif operator == "StringNotEquals":
                if present and context[key] in values:
                    return False
            elif operator == "StringNotLike":
                # A missing key makes a negated operator true (IAM: "...IfExists" is implied for Not operators).
                if present and any(_matches(v, context[key]) for v in values):
                    return False
            elif operator == "StringLike":
                if not present or not any(_matches(v, context[key]) for v in values):
                    return False
            else:
                raise AssertionError(f"the evaluator does not know {operator}")
    return True


def _applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    if not any(_matches(a, action) for a in as_list(statement.get("Action", []))):
        return False
    if "NotResource" in statement:
        if any(_matches(r, resource) for r in as_list(statement["NotResource"])):
            return False
    elif not any(_matches(r, resource) for r in as_list(statement["Resource"])):
        return False
    return _condition_holds(statement.get("Condition"), context)


def allowed(statements: list[dict[str, Any]], action: str, resource: str, **context: str) -> bool:
    hits = [s for s in statements if _applies(s, action, resource, context)]
    return not any(s["Effect"] == "Deny" for s in hits) and any(s["Effect"] == "Allow" for s in hits)


def arn(service: str, resource: str, *, region: str = REGION) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT}:{resource}"


def test_the_evaluator_knows_deny_wins_and_allow_is_needed() -> None:
    statements = [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::mine/*"},
    ]
    assert allowed(statements, "s3:GetObject", "arn:aws:s3:::mine/x")
    assert not allowed(statements, "s3:GetObject", "arn:aws:s3:::theirs/x")
    assert not allowed([], "s3:GetObject", "arn:aws:s3:::mine/x")


PROD_STACK = arn("cloudformation", "stack/letta-prod-data/0f1e2d3c")
DEV_STACK = arn("cloudformation", "stack/letta-dev-service/0f1e2d3c")
PREVIEW_STACK = arn("cloudformation", "stack/letta-pr-42-data/0f1e2d3c")
DEFAULT_DEPLOY_ROLE = arn("iam", f"role/cdk-{names.DEFAULT_QUALIFIER}-deploy-role-{ACCOUNT}-{REGION}", region="")
PREVIEW_DEPLOY_ROLE = arn("iam", f"role/cdk-{names.PREVIEW_QUALIFIER}-deploy-role-{ACCOUNT}-{REGION}", region="")


@pytest.mark.parametrize("action", ["cloudformation:ExecuteChangeSet", "cloudformation:DeleteStack"])
@pytest.mark.parametrize("stack", [PROD_STACK, DEV_STACK])
def test_the_preview_boundary_changes_no_other_stack(action: str, stack: str) -> None:
    # The preview bootstrap's deploy role may change any stack by its own policy (Resource "*"): the boundary
    # it carries is what stops it, also where CloudFormation would act with the prod stack's own role.
    assert not allowed(boundary(), action, stack)
    assert allowed(boundary(), action, PREVIEW_STACK)


def test_the_preview_boundary_assumes_no_default_bootstrap_role() -> None:
    assert not allowed(boundary(), "sts:AssumeRole", DEFAULT_DEPLOY_ROLE)
    assert allowed(boundary(), "sts:AssumeRole", PREVIEW_DEPLOY_ROLE)


def test_the_preview_boundary_touches_no_resource_of_another_environment() -> None:
    cluster = arn("rds", "cluster:letta-prod")
    assert not allowed(boundary(), "rds-data:ExecuteStatement", cluster, **{"aws:ResourceTag/letta:env": "prod"})
    assert not allowed(boundary(), "rds:DeleteDBCluster", cluster, **{"aws:ResourceTag/letta:env": "dev"})
    assert allowed(
        boundary(), "rds:DeleteDBCluster", arn("rds", "cluster:letta-pr-42"), **{"aws:ResourceTag/letta:env": "pr-42"}
    )


def test_the_preview_boundary_reads_only_preview_secrets() -> None:
    secret = arn("secretsmanager", "secret:rds!cluster-0f1e2d3c-AbCdEf")
    assert not allowed(boundary(), "secretsmanager:GetSecretValue", secret)  # untagged: someone else's
    assert not allowed(boundary(), "secretsmanager:GetSecretValue", secret, **{"aws:ResourceTag/letta:env": "prod"})
    assert allowed(boundary(), "secretsmanager:GetSecretValue", secret, **{"aws:ResourceTag/letta:env": "pr-42"})
    rds_tag = {"aws:ResourceTag/aws:rds:primaryDBClusterArn": arn("rds", "cluster:letta-pr-42")}
    assert allowed(boundary(), "secretsmanager:GetSecretValue", secret, **rds_tag)
    rds_tag = {"aws:ResourceTag/aws:rds:primaryDBClusterArn": arn("rds", "cluster:letta-prod")}
    assert not allowed(boundary(), "secretsmanager:GetSecretValue", secret, **rds_tag)


def test_the_preview_boundary_cannot_be_escaped_through_a_new_role() -> None:
    boundary_arn = f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{names.PREVIEW_BOUNDARY}"
    new_role = arn("iam", "role/letta-pr-42-data-HandlerRole", region="")
    assert not allowed(boundary(), "iam:CreateRole", new_role)
    assert allowed(boundary(), "iam:CreateRole", new_role, **{"iam:PermissionsBoundary": boundary_arn})
    prod_role = arn("iam", "role/letta-prod-service-TaskRole", region="")
    for action in ("iam:PassRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"):
        assert not allowed(boundary(), action, prod_role), action
        assert allowed(boundary(), action, new_role, **{"iam:PermissionsBoundary": boundary_arn}), action
    for action in ("iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:CreateAccessKey"):
        assert not allowed(boundary(), action, boundary_arn), action


def assumable(prefix: str) -> list[str]:
    return [
        r
        for s in policies_of(prefix)
        if s["Effect"] == "Allow" and "sts:AssumeRole" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]


def test_no_pull_request_subject_can_reach_anything_that_changes_a_non_preview_stack() -> None:
    pull_request = [k for k, v in roles().items() if f"repo:{REPO}:pull_request" in subjects(v)]
    assert sorted(k[:-8] for k in pull_request) == ["Diff", "Preview"]
    for logical_id in pull_request:
        own = policies_of(logical_id)
        # What it may assume: only the preview bootstrap's roles, which carry the boundary (cdk bootstrap
        # --custom-permissions-boundary ... --apply-permissions-boundary-to-all-roles, the stack's output).
        for target in assumable(logical_id):
            assert target == arn("iam", f"role/cdk-{names.PREVIEW_QUALIFIER}-*", region=""), target
        assert not allowed(own, "sts:AssumeRole", DEFAULT_DEPLOY_ROLE)
        # What it may do itself: no change to any stack.
        for stack in (PROD_STACK, DEV_STACK):
            for action in (
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteStack",
                "cloudformation:CreateChangeSet",
            ):
                assert not allowed(own, action, stack)
    # The preview role itself carries the boundary too.
    assert role("Preview")["Properties"]["PermissionsBoundary"] == {
        "Ref": next(k for k, v in template()["Resources"].items() if v["Type"] == "AWS::IAM::ManagedPolicy")
    }
    output = json.dumps(template()["Outputs"]["PreviewBootstrapCommand"]["Value"])
    assert f"--custom-permissions-boundary {names.PREVIEW_BOUNDARY} --apply-permissions-boundary-to-all-roles" in output


def test_the_diff_role_only_reads() -> None:
    actions = {a for s in policies_of("Diff") for a in as_list(s["Action"])}
    assert actions and all(re.match(r"cloudformation:(Describe|Get|List)", a) for a in actions), actions


def test_only_the_dev_and_prod_roles_reach_the_default_bootstrap() -> None:
    default = arn("iam", f"role/cdk-{names.DEFAULT_QUALIFIER}-*", region="")
    assert {k[:-8] for k in roles() if default in assumable(k)} == {"Dev", "Prod"}


def test_the_ci_roles_stack_is_not_part_of_an_environment() -> None:
    app = cdk.App(context={**CLI_CONTEXT, **CDK_JSON_CONTEXT})
    compose(app, nag=False)
    assert names.STACK_NAME not in {s.stack_name for s in app.synth().stacks}


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"ci_roles": True}, "github_repo"),
        ({"ci_roles": True, "github_repo": "not a repo"}, "github_repo"),
        ({"github_oidc_provider_arn": "arn:aws:iam::1:oidc-provider/example.com"}, "github_oidc_provider_arn"),
        ({"permissions_boundary": "has space"}, "permissions_boundary"),
    ],
)
def test_ci_roles_config_is_refused_in_one_line(values: dict[str, Any], key: str) -> None:
    from stacks.config import LettaConfig

    with pytest.raises(ConfigError) as raised:
        LettaConfig.from_mapping({k: str(v).lower() if isinstance(v, bool) else v for k, v in values.items()})
    assert f"'{key}'" in str(raised.value) and "\n" not in str(raised.value)


def test_a_preview_environment_keeps_every_role_inside_the_boundary() -> None:
    # What scripts/deploy_steps.sh adds for pr-<n>: the preview bootstrap and the boundary on the stacks' roles.
    context = {
        **CLI_CONTEXT,
        **CDK_JSON_CONTEXT,
        "env": "pr-42",
        "@aws-cdk/core:bootstrapQualifier": names.PREVIEW_QUALIFIER,
        "permissions_boundary": names.PREVIEW_BOUNDARY,
    }
    app = cdk.App(context=context)
    compose(app, nag=True)
    stacks = {s.stack_name: s.template for s in app.synth().stacks}
    assert set(stacks) == {"letta-pr-42-data", "letta-pr-42-service", "letta-pr-42-reader"}
    policy = f":policy/{names.PREVIEW_BOUNDARY}"
    boundary_arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, policy]]}
    for name, stack in stacks.items():
        stack_roles = {k: v for k, v in stack["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
        assert stack_roles or name.endswith("-reader"), name  # the reader stack has no role (a preview: no reader)
        for logical_id, resource in stack_roles.items():
            assert resource["Properties"].get("PermissionsBoundary") == boundary_arn, f"{name}/{logical_id}"
        # The deploy goes through the preview bootstrap's roles and checks its version parameter.
        assert stack["Parameters"]["BootstrapVersion"]["Default"] == f"/cdk-bootstrap/{names.PREVIEW_QUALIFIER}/version"
