"""GitHub Actions' way into the account: an OIDC provider and one role per job's need.

| role    | trusts (token sub, exactly)              | may                                                    |
| diff    | repo:O/R:pull_request                    | read letta-* stacks' templates (cdk diff)               |
| preview | repo:O/R:pull_request                    | assume the preview bootstrap's cdk-lettapr-* roles only |
| dev     | repo:O/R:ref:refs/heads/main             | assume the default bootstrap's roles; the dev smoke test |
| prod    | repo:O/R:environment:production          | assume the default bootstrap's roles                     |

A pull request's code runs as the diff or the preview role. Neither can assume the default bootstrap's roles that
dev and prod deploy through; the preview bootstrap's roles, like the preview role itself and every role a
preview stack creates, carry the permissions boundary `letta-preview-boundary`, which denies any change to a
stack other than letta-pr-*, any action on a resource of another environment (tag letta:env), every secret
that is not a preview's, passing or assuming any other role, and creating a role without the same boundary.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.ci_roles import names
from stacks.nag import acknowledge_generated, skip_checkov

# What a CloudFormation caller can do to a stack; reads stay allowed (the CLI reads its own stacks' events).
_STACK_CHANGES = [
    "cloudformation:CancelUpdateStack",
    "cloudformation:ContinueUpdateRollback",
    "cloudformation:CreateChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DeleteStack",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:RollbackStack",
    "cloudformation:SetStackPolicy",
    "cloudformation:SignalResource",
    "cloudformation:UpdateStack",
    "cloudformation:UpdateTerminationProtection",
]
_ROLE_CHANGES = [
    "iam:AttachRolePolicy",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
]
_SECRET_ACCESS = [
    "secretsmanager:DeleteSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:PutSecretValue",
    "secretsmanager:RestoreSecret",
    "secretsmanager:RotateSecret",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "secretsmanager:UpdateSecret",
]


class CiRolesStack(Stack):
    """The GitHub OIDC provider (created, or imported by `oidc_provider_arn`) and the four CI roles of `repo`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        repo: str,
        oidc_provider_arn: str | None,
        dev_env: str = "dev",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        if oidc_provider_arn:
            provider_arn = oidc_provider_arn
        else:
            # One per account: import the existing one (ci_oidc_provider_arn) where another project created it.
            provider = iam.CfnOIDCProvider(
                self, "GithubOidc", url=f"https://{names.GITHUB_ISSUER}", client_id_list=[names.AUDIENCE]
            )
            provider_arn = provider.attr_arn
        self.provider_arn = provider_arn
        self.repo = repo
        self.boundary = self._preview_boundary()

        self.diff = self._role("Diff", "pull_request", "cdk diff of pull requests: reads letta-* stacks only")
        self.diff.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "cloudformation:DescribeStacks",
                    "cloudformation:GetTemplate",
                    "cloudformation:GetTemplateSummary",
                    "cloudformation:ListStackResources",
                ],
                resources=[self._stack_arn("letta-*")],
            )
        )
        self.preview = self._role(
            "Preview", "pull_request", "Preview environments letta-pr-*: the preview bootstrap's roles only"
        )
        self.preview.add_to_policy(self._assume(names.PREVIEW_QUALIFIER))
        iam.PermissionsBoundary.of(self.preview).apply(self.boundary)

        self.dev = self._role("Dev", "ref:refs/heads/main", f"Deploy {dev_env} from main and smoke-test it")
        self.dev.add_to_policy(self._assume(names.DEFAULT_QUALIFIER))
        self._smoke_test(self.dev, dev_env)
        self.prod = self._role(
            "Prod", "environment:production", "Deploy prod: only jobs of the approved production environment"
        )
        self.prod.add_to_policy(self._assume(names.DEFAULT_QUALIFIER))

        for name, role, variable in (
            ("DiffRoleArn", self.diff, "AWS_DIFF_ROLE_ARN"),
            ("PreviewRoleArn", self.preview, "AWS_PREVIEW_ROLE_ARN"),
            ("DevRoleArn", self.dev, "AWS_DEV_ROLE_ARN"),
            ("ProdRoleArn", self.prod, "AWS_PROD_ROLE_ARN"),
        ):
            CfnOutput(self, name, value=role.role_arn, description=f"GitHub repository variable {variable}")
        CfnOutput(
            self,
            "PreviewBootstrapCommand",
            description="Run once, with administrator credentials: the bootstrap previews deploy through",
            value=f"npx cdk bootstrap --qualifier {names.PREVIEW_QUALIFIER} --toolkit-stack-name CDKToolkit-lettapr "
            f"--custom-permissions-boundary {names.PREVIEW_BOUNDARY} --apply-permissions-boundary-to-all-roles",
        )
        self._acknowledge()

    # --- Roles ------------------------------------------------------------------------------------------

    def _role(self, id: str, subject: str, description: str) -> iam.Role:
        """A role only `repo:<repo>:<subject>` can assume, for the STS audience: both claims matched exactly."""
        return iam.Role(
            self,
            id,
            description=description,
            max_session_duration=None,
            assumed_by=iam.WebIdentityPrincipal(
                self.provider_arn,
                conditions={
                    "StringEquals": {
                        f"{names.GITHUB_ISSUER}:aud": names.AUDIENCE,
                        f"{names.GITHUB_ISSUER}:sub": f"repo:{self.repo}:{subject}",
                    }
                },
            ),
        )

    def _assume(self, qualifier: str) -> iam.PolicyStatement:
        """The CDK bootstrap roles of one qualifier (deploy, file and image publishing, lookup), no other role."""
        return iam.PolicyStatement(actions=["sts:AssumeRole", "sts:TagSession"], resources=[self._role_arn(qualifier)])

    def _smoke_test(self, role: iam.Role, env: str) -> None:
        """What scripts/smoke_test.py reads after the dev deploy: the stacks' outputs, the environment's secrets
        (by its letta:env tag) and its cluster through the Data API."""
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudformation:DescribeStacks"], resources=[self._stack_arn(f"letta-{env}-*")]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[
                    self.format_arn(
                        service="secretsmanager",
                        resource="secret",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
                conditions={"StringEquals": {"aws:ResourceTag/letta:env": env}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["rds-data:ExecuteStatement"],
                resources=[
                    self.format_arn(
                        service="rds",
                        resource="cluster",
                        resource_name=f"letta-{env}",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )

    # --- The preview boundary ---------------------------------------------------------------------------

    def _preview_boundary(self) -> iam.ManagedPolicy:
        """The most any preview principal may do: the preview role, the preview bootstrap's roles (deploy,
        CloudFormation execution, publishing, lookup) and every role a preview stack creates."""
        boundary_arn = self.format_arn(
            service="iam", region="", resource="policy", resource_name=names.PREVIEW_BOUNDARY
        )
        preview_env = f"{names.PREVIEW_ENV_PREFIX}*"
        preview_roles = [
            self._role_arn(names.PREVIEW_QUALIFIER),
            self.format_arn(service="iam", region="", resource="role", resource_name=f"letta-{preview_env}"),
        ]
        statements = [
            # A boundary grants nothing by itself (each principal's own policies decide); the denials cap them.
            iam.PolicyStatement(sid="WithinTheDenialsBelow", actions=["*"], resources=["*"]),
            iam.PolicyStatement(
                sid="OnlyPreviewStacks",
                effect=iam.Effect.DENY,
                actions=_STACK_CHANGES,
                not_resources=[self._stack_arn(f"letta-{preview_env}")],
            ),
            iam.PolicyStatement(
                sid="NothingOfAnotherEnvironment",
                effect=iam.Effect.DENY,
                actions=["*"],
                resources=["*"],
                conditions={
                    "StringNotLike": {"aws:ResourceTag/letta:env": preview_env},
                    "Null": {"aws:ResourceTag/letta:env": "false"},
                },
            ),
            # Untagged secrets count as another environment's: a preview's own carry its letta:env tag, or (the
            # master secret RDS manages) RDS's tag naming the preview's cluster.
            iam.PolicyStatement(
                sid="OnlyPreviewSecrets",
                effect=iam.Effect.DENY,
                actions=_SECRET_ACCESS,
                resources=["*"],
                conditions={
                    "StringNotLike": {
                        "aws:ResourceTag/letta:env": preview_env,
                        "aws:ResourceTag/aws:rds:primaryDBClusterArn": self.format_arn(
                            service="rds",
                            resource="cluster",
                            resource_name=f"letta-{preview_env}",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        ),
                    }
                },
            ),
            iam.PolicyStatement(
                sid="AssumeOnlyPreviewBootstrapRoles",
                effect=iam.Effect.DENY,
                actions=["sts:AssumeRole", "sts:TagSession"],
                not_resources=[self._role_arn(names.PREVIEW_QUALIFIER)],
            ),
            iam.PolicyStatement(
                sid="PassOnlyPreviewRoles",
                effect=iam.Effect.DENY,
                actions=["iam:PassRole"],
                not_resources=preview_roles,
            ),
            iam.PolicyStatement(
                sid="ChangeOnlyPreviewRoles", effect=iam.Effect.DENY, actions=_ROLE_CHANGES, not_resources=preview_roles
            ),
            iam.PolicyStatement(
                sid="NewRolesKeepThisBoundary",
                effect=iam.Effect.DENY,
                actions=["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
                resources=["*"],
                conditions={"StringNotEquals": {"iam:PermissionsBoundary": boundary_arn}},
            ),
            iam.PolicyStatement(
                sid="TheBoundaryStays",
                effect=iam.Effect.DENY,
                actions=[
                    "iam:CreatePolicyVersion",
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:DeleteRolePermissionsBoundary",
                    "iam:SetDefaultPolicyVersion",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="NoUsersOrKeys",
                effect=iam.Effect.DENY,
                actions=[
                    "iam:AttachUserPolicy",
                    "iam:CreateAccessKey",
                    "iam:CreateLoginProfile",
                    "iam:CreateUser",
                    "iam:PutUserPolicy",
                ],
                resources=["*"],
            ),
        ]
        return iam.ManagedPolicy(
            self,
            "PreviewBoundary",
            managed_policy_name=names.PREVIEW_BOUNDARY,
            description="Permissions boundary of every preview principal: letta-pr-* stacks and resources only",
            statements=statements,
        )

    # --- ARNs ---------------------------------------------------------------------------------------------

    def _stack_arn(self, name_pattern: str) -> str:
        return self.format_arn(service="cloudformation", resource="stack", resource_name=f"{name_pattern}/*")

    def _role_arn(self, qualifier: str) -> str:
        return self.format_arn(service="iam", region="", resource="role", resource_name=f"cdk-{qualifier}-*")

    def _acknowledge(self) -> None:
        # cdk-nag 3 matches a finding's full id, which spells out each pattern: accept them by where they are.
        reasons = {
            "PreviewBoundary": "A permissions boundary: its Allow * grants nothing by itself (a principal's own "
            "policies do); the Deny statements that follow, on patterns of other stacks, roles and secrets, are "
            "what it is for.",
            "Diff": "cdk diff reads the letta-* stacks' templates; a stack ARN ends in a generated id (`/*`).",
            "Preview": "The preview bootstrap's roles, named cdk-lettapr-<kind>-<account>-<region> (`cdk-lettapr-*`).",
            "Dev": "The default bootstrap's roles (`cdk-hnb659fds-*`, named with account and region); for the smoke "
            "test, the dev stacks (ARNs end in a generated id) and the dev secrets, by their letta:env tag "
            "(generated names).",
            "Prod": "The default bootstrap's roles (`cdk-hnb659fds-*`, named with account and region).",
        }
        for under, reason in reasons.items():
            acknowledge_generated(self, "AwsSolutions-IAM5", reason, under=under)
        # checkov reads the boundary's Allow * as write and permissions management without constraints: same reason.
        skip_checkov(self.boundary, ["CKV_AWS_109", "CKV_AWS_111"], reasons["PreviewBoundary"])
