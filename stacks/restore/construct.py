"""The restored environment's own copies of the source environment's secrets, made once at deploy."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from stacks.custom_provider import owned_provider
from stacks.nag import acknowledge

HANDLER_FILE = Path(__file__).with_name("copy_handler.py")
# Two Secrets Manager calls per secret, each bounded by a 25 s client timeout: a minute is plenty, and
# CloudFormation hears of a failure within SERVICE_TIMEOUT, never after the hour a silent custom resource costs.
HANDLER_TIMEOUT = Duration.minutes(1)
SERVICE_TIMEOUT = Duration.minutes(3)


@dataclass(frozen=True)
class SecretCopy:
    """One secret to copy: what it is (for messages), the source's complete ARN, the target in this stack."""

    name: str
    source_arn: str
    target: secretsmanager.ISecret


class RestoredSecrets(Construct):
    """Copies each source secret's current value into a secret this stack owns, once, on Create.

    Not a dynamic reference (`{{resolve:secretsmanager:...}}`): CloudFormation resolves one again whenever the
    resource holding it is updated, so a restored environment would fail its next such update once the source
    environment (and its secrets) is gone, and a changed source ARN would silently swap the key. The copy is made by
    a Lambda behind the Provider framework; the handler refuses to copy a different source over a target later.

    `after` is what must exist before the copy runs (the restored cluster): adding restore keys to an environment
    that already has a cluster fails at the cluster, before any of its secrets is overwritten.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        copies: Sequence[SecretCopy],
        after: IConstruct,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id)
        if not copies:
            raise ValueError("RestoredSecrets needs at least one secret to copy")
        log_group = logs.LogGroup(self, "HandlerLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(self, "HandlerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[c.source_arn for c in copies])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:PutSecretValue"], resources=[c.target.secret_arn for c in copies]
            )
        )
        with tempfile.TemporaryDirectory(prefix="restored-secrets-") as staging:
            # The handler imports boto3 and the standard library only: the zip is this one file.
            shutil.copyfile(HANDLER_FILE, Path(staging) / "index.py")
            handler = lambda_.Function(
                self,
                "Handler",
                description="Copies the source environment's secrets into the restored environment's, once",
                runtime=lambda_.Runtime.PYTHON_3_14,
                architecture=lambda_.Architecture.ARM_64,
                handler="index.on_event",
                code=lambda_.Code.from_asset(staging),
                timeout=HANDLER_TIMEOUT,
                memory_size=128,
                role=role,
                log_group=log_group,
            )
        provider = owned_provider(self, handler=handler, log_retention=log_retention)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::RestoredSecrets",
            service_timeout=SERVICE_TIMEOUT,
            properties={
                "Copies": [{"Name": c.name, "Source": c.source_arn, "Target": c.target.secret_arn} for c in copies]
            },
        )
        self.resource.node.add_dependency(after)
        stack = self.resource.stack
        handler_id = stack.resolve(stack.get_logical_id(handler.node.default_child))
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
            "The Provider framework may invoke the copy handler's versions (`<function arn>:*`) and nothing else.",
        )
