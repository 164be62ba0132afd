"""The custom resource that replaces the walkthrough's `psql … CREATE EXTENSION vector;` and hand-typed URI."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from stacks.custom_provider import owned_provider
from stacks.generated_secret import generated_secret
from stacks.nag import CUSTOM_RESOURCE_LAMBDA_REASON, acknowledge, skip_checkov
from stacks.pgsql.sql_files import load_sql_files, sql_hash
from stacks.pgvector import lambda_asset

SQL_DIR = Path(__file__).resolve().parents[2] / "bootstrap_sql"
# The handler gives up a minute before its own timeout, and CloudFormation gives up soon after: a stuck
# bootstrap fails the stack in minutes, never in the hour a silent custom resource costs.
HANDLER_TIMEOUT = Duration.minutes(10)
SERVICE_TIMEOUT = Duration.minutes(14)


@dataclass(frozen=True)
class BootstrapRun:
    """The bootstrap's custom resource, as the stack that needs the database first creates it: the service stack,
    so that the data stack ends with the writer and prod's reader stack starts a minute sooner
    (docs/deploy-time.md). Every value is the data stack's: the Provider's service token, the cluster, the secrets,
    the SQL files and their hash, the writer's id (the run waits for the writer, and names it)."""

    service_token: str
    properties: Mapping[str, Any]

    def create(self, scope: Construct, id: str) -> CustomResource:
        """The `Custom::PgvectorBootstrap` resource in `scope`; its `PgvectorVersion` attribute is for outputs only
        (it changes on an extension update, so no other stack may import it)."""
        return CustomResource(
            scope,
            id,
            service_token=self.service_token,
            resource_type="Custom::PgvectorBootstrap",
            service_timeout=SERVICE_TIMEOUT,
            properties=dict(self.properties),
        )


class PgvectorBootstrap(Construct):
    """Applies `bootstrap_sql/*.sql` to the cluster through the RDS Data API, sets the app role's password and
    writes the generated connection string (`{"uri": "postgresql://…"}`) into `connection_secret`.

    A Python Lambda outside the VPC (no ENIs to wait for on destroy) behind the Provider framework, and the
    secrets it reads and writes, all in this construct's stack. The custom resource that runs it is `run`, which
    the stack that needs the database first creates (`run.create`): it names the writer instance, so it runs once
    the writer exists; changing any SQL file changes `SqlHash` and re-applies every file (each is idempotent).
    Delete leaves the data alone.

    Exposes `app_secret` (the app role's generated credentials), `connection_secret` (key `uri`, what the
    service injects as LETTA_PG_URI), `run`, `handler` and `connection_revision` (a synth-time digest of what the
    URI is made of).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: rds.DatabaseCluster,
        writer: IConstruct,
        master_secret: secretsmanager.ISecret,
        database_name: str,
        app_role: str,
        log_retention: logs.RetentionDays,
        app_password_generation: int = 1,
        secret_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        sql_dir: Path = SQL_DIR,
    ) -> None:
        super().__init__(scope, id)
        files = load_sql_files(sql_dir)
        if not files:
            raise ValueError(f"no *.sql files in {sql_dir}: the bootstrap would have nothing to apply")
        # The generator is the app password's only source: it changes exactly when the role is renamed or the
        # operator bumps `app_password_generation`, and then CloudFormation generates a new password.
        app_fields = {"username": app_role, "generation": str(app_password_generation)}
        self.app_secret = generated_secret(
            self,
            "AppCredentials",
            description=f"Login of the Letta app role '{app_role}' (generated; letters and digits only)",
            fields=app_fields,
            key="password",
        )
        # A placeholder the bootstrap overwrites with {"uri": ...}.
        self.connection_secret = generated_secret(
            self,
            "ConnectionString",
            description="LETTA_PG_URI for the Letta service, key 'uri'; written by the pgvector bootstrap",
            fields={"uri": ""},
            key="placeholder",
        )
        for secret in (self.app_secret, self.connection_secret):
            secret.apply_removal_policy(secret_removal_policy)
        # Everything the URI is made of that a config change can alter (the host changes only with the cluster).
        uri_inputs = {"role": app_role, "database": database_name, "password": app_fields}
        self.connection_revision = hashlib.sha256(json.dumps(uri_inputs, sort_keys=True).encode()).hexdigest()[:16]
        acknowledge(
            self.app_secret,
            "AwsSolutions-SMG4",
            "Rotating this secret alone would not change the role's password in PostgreSQL nor LETTA_PG_URI; "
            "change it through a deploy, which re-runs the bootstrap that applies both.",
        )
        acknowledge(
            self.connection_secret,
            "AwsSolutions-SMG4",
            "Derived from the app credentials by the bootstrap and rewritten with them; it has no rotation of its own.",
        )
        handler = self._handler(cluster, master_secret, log_retention)
        # The service stack's dashboard graphs its errors.
        self.handler = handler
        provider = owned_provider(self, handler=handler, log_retention=log_retention)
        writer_instance = writer.node.default_child
        assert isinstance(writer_instance, rds.CfnDBInstance)
        self.run = BootstrapRun(
            service_token=provider.service_token,
            properties={
                "ClusterArn": cluster.cluster_arn,
                "MasterSecretArn": master_secret.secret_arn,
                "AppSecretArn": self.app_secret.secret_arn,
                "ConnectionSecretArn": self.connection_secret.secret_arn,
                "Database": database_name,
                # The role and the password's generator are properties so that changing either re-runs the
                # bootstrap (a rename renames the role, keeping Letta's tables; a new password is set).
                "AppRole": app_role,
                "AppSecretGenerator": json.dumps(app_fields, sort_keys=True),
                "Host": cluster.cluster_endpoint.hostname,
                "Port": str(cluster.cluster_endpoint.port),
                "SqlFiles": [{"name": f.name, "sql": f.text} for f in files],
                "SqlHash": sql_hash(files),
                # The handler does not read it: naming the writer makes the run wait for it from any stack (the
                # Data API answers only once an instance exists), and a new writer re-runs the idempotent files.
                "WriterInstance": writer_instance.ref,
            },
        )
        self._acknowledge(provider, handler)
        skip_checkov(self, ["CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"], CUSTOM_RESOURCE_LAMBDA_REASON)
        skip_checkov(
            provider,
            ["CKV_AWS_173"],
            "The Provider framework's onEvent function holds only the bootstrap handler's name in its environment, "
            "no secret; Lambda encrypts it at rest with its own key.",
        )

    def _handler(
        self, cluster: rds.DatabaseCluster, master_secret: secretsmanager.ISecret, log_retention: logs.RetentionDays
    ) -> lambda_.Function:
        log_group = logs.LogGroup(self, "HandlerLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        # A role of our own instead of AWSLambdaBasicExecutionRole: it may write to its own log group only.
        role = iam.Role(self, "HandlerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        role.add_to_policy(iam.PolicyStatement(actions=["rds-data:ExecuteStatement"], resources=[cluster.cluster_arn]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[master_secret.secret_arn, self.app_secret.secret_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:PutSecretValue"], resources=[self.connection_secret.secret_arn]
            )
        )
        # The asset is staged (copied into the cloud assembly, hashed by content and relative path) while the
        # Function is constructed, so the directory it is read from need not outlive this block.
        with tempfile.TemporaryDirectory(prefix="pgvector-bootstrap-") as staging:
            lambda_asset.stage(Path(staging))
            return lambda_.Function(
                self,
                "Handler",
                description="Applies bootstrap_sql through the RDS Data API and writes LETTA_PG_URI",
                runtime=lambda_.Runtime.PYTHON_3_14,
                architecture=lambda_.Architecture.ARM_64,
                handler=lambda_asset.HANDLER,
                code=lambda_.Code.from_asset(staging),
                timeout=HANDLER_TIMEOUT,
                memory_size=256,
                role=role,
                log_group=log_group,
            )

    def _acknowledge(self, provider: cr.Provider, handler: lambda_.Function) -> None:
        # cdk-nag 3 matches a finding's full id, so each names exactly the policy or resource it accepts.
        stack = Stack.of(self)
        handler_id = stack.resolve(stack.get_logical_id(handler.node.default_child))
        acknowledge(
            self,
            f"AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
            "The Provider framework may invoke the bootstrap handler's versions (`<function arn>:*`) and nothing else.",
        )
