"""The stateful half: network, Aurora cluster and every secret whose loss loses something. Never replaced by
a service rollback; the service stack only reads what `exports` hands it."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.config import LettaConfig
from stacks.data.access_logs import AccessLogsBucket
from stacks.data.app_secrets import LettaSecrets
from stacks.data.database import AuroraDatabase, ClusterRestore
from stacks.data.image_mirror import ImageMirror, ImageReference
from stacks.data.load_balancer import ApiLoadBalancer
from stacks.data.network import ExistingVpc, Network
from stacks.data.shared_redis import SharedRedis
from stacks.log_retention import LOG_ENCRYPTION_REASON, retention
from stacks.nag import acknowledge, skip_checkov
from stacks.pgvector.construct import BootstrapRun, PgvectorBootstrap
from stacks.restore.construct import RestoredSecrets


@dataclass(frozen=True)
class DataExports:
    """What the service stack may use of the data stack. Every cross-stack value is an id, an ARN or a name
    that stays the same for the life of the resource; `connection_revision` is a plain synth-time digest."""

    vpc: ec2.IVpc
    app_security_group: ec2.ISecurityGroup
    app_subnets: ec2.SubnetSelection
    cluster: rds.IDatabaseCluster
    connection_secret: secretsmanager.ISecret
    server_password: secretsmanager.ISecret
    encryption_key: secretsmanager.ISecret
    llm_keys: secretsmanager.ISecret
    # The stack's ECR repository and the immutable tag of the Letta image copied into it; the tag is None when
    # the configured image already lives in a private ECR registry and the service pulls it from there.
    image_repository: ecr.IRepository
    image_tag: str | None
    # The API's load balancer and its security group: created here, beside Aurora; the service stack adds the
    # listeners, the target group and the rule that lets the load balancer reach the tasks.
    load_balancer: elbv2.IApplicationLoadBalancer
    load_balancer_security_group: ec2.ISecurityGroup
    # Changes whenever the bootstrap writes a different LETTA_PG_URI: the service labels its task with it, so
    # that a new URI always comes with a new deployment and no task keeps a dead one.
    connection_revision: str
    # The bootstrap's custom resource, which the service stack creates (the first thing that needs the database):
    # the data stack then ends with the writer, and prod's reader stack starts without waiting for the bootstrap.
    bootstrap: BootstrapRun
    # The shared Redis's primary endpoint (fixed for the life of its replication group), or None: each task then
    # runs its own redis-server (one task only; the config refuses more).
    redis_host: str | None = None
    redis_port: int | None = None
    # What the service stack's dashboard graphs: the shared Redis's replication group id (None without one) and
    # the bootstrap Lambda's name. Both are Refs, fixed for the resource's life.
    redis_replication_group_id: str | None = None
    bootstrap_function_name: str | None = None


class DataStack(Stack):
    """VPC, security groups, the 5432 rule, the Aurora Serverless v2 cluster, its pgvector bootstrap, and the
    secrets clients and data depend on (server password, encryption key, LLM keys, database logins)."""

    def __init__(self, scope: Construct, id: str, *, config: LettaConfig, **kwargs: object) -> None:
        super().__init__(scope, id, termination_protection=config.is_prod, **kwargs)
        log_retention = retention(config.log_retention_days)
        # What happens to the data on `cdk destroy` (and on a replacement): dev deletes, prod keeps.
        keep = config.removal_behaviour == "snapshot"
        secret_removal = RemovalPolicy.RETAIN if keep else RemovalPolicy.DESTROY
        self.network = Network(
            self,
            "Network",
            nat_gateways=config.nat_gateways,
            log_retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
            cidr=config.vpc_cidr,
            existing=_existing_vpc(config),
        )
        self.database = AuroraDatabase(
            self,
            "Database",
            vpc=self.network.vpc,
            security_group=self.network.database_security_group,
            cluster_identifier=config.cluster_identifier,
            postgres_version=config.postgres_version,
            # Changing it is an in-place update (tests/test_change_safety.py); docs/memory.md has the break-even.
            storage_type=rds.DBClusterStorageType(config.storage_type.replace("-", "_").upper()),
            database_name=config.db_name,
            min_capacity=config.min_acu,
            max_capacity=config.max_acu,
            auto_pause=Duration.seconds(config.auto_pause_seconds) if config.min_acu == 0 else None,
            backup_retention=Duration.days(config.backup_retention_days),
            deletion_protection=config.deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT if keep else RemovalPolicy.DESTROY,
            log_retention=log_retention,
            telemetry=config.db_telemetry,
            restore=_cluster_restore(config),
        )
        self.bootstrap = PgvectorBootstrap(
            self,
            "Pgvector",
            cluster=self.database.cluster,
            writer=self.database.writer,
            master_secret=self.database.secret,
            database_name=config.db_name,
            app_role=config.app_db_user,
            app_password_generation=config.app_password_generation,
            log_retention=log_retention,
            secret_removal_policy=secret_removal,
        )
        self.secrets = LettaSecrets(
            self,
            "Secrets",
            llm_secret_arn=config.llm_secret_arn,
            removal_policy=secret_removal,
            copy_from=_copy_sources(config),
        )
        # A restore copies the source's secrets into this stack's own once the restored cluster exists.
        self.restored_secrets = (
            RestoredSecrets(
                self,
                "RestoredSecrets",
                copies=self.secrets.copies,
                after=self.database.cluster,
                log_retention=log_retention,
            )
            if self.secrets.copies
            else None
        )
        # The image copy sits here, not in the service stack, so that it runs while Aurora is being created (the
        # service stack starts only after this one); its contents can be copied again, so destroy loses nothing.
        in_ecr = ImageReference.parse(config.letta_image).ecr_repository is not None
        self.image_mirror = ImageMirror(
            self,
            "LettaImage",
            source=None if in_ecr else config.letta_image,
            credentials_secret_arn=config.letta_image_credentials_arn,
            log_retention=log_retention,
        )
        # Exported whether or not the service imports them now: switching letta_image to or from a private ECR
        # image must not remove an export the deployed service stack still imports.
        self.export_value(self.image_mirror.repository.repository_arn)
        self.export_value(self.image_mirror.repository.repository_name)
        # Prod's load-balancer access logs: the bucket is state (kept on destroy), so it lives here.
        self.access_logs = (
            AccessLogsBucket(
                self,
                "AccessLogs",
                expiration=Duration.days(config.log_retention_days),
                removal_policy=RemovalPolicy.RETAIN if keep else RemovalPolicy.DESTROY,
            )
            if config.is_prod
            else None
        )
        # Created here, in parallel with Aurora (a node takes ~8-10 min), not after it in the service stack.
        self.redis = (
            SharedRedis(
                self,
                "SharedRedis",
                vpc=self.network.vpc,
                app_security_group=self.network.app_security_group,
                node_type=config.cache_node_type,
            )
            if config.uses_shared_redis
            else None
        )
        # Needs nothing from the database and takes ~3 min: created here while Aurora is, not after this whole stack.
        self.api = ApiLoadBalancer(
            self,
            "ApiLoadBalancer",
            vpc=self.network.vpc,
            allowed_cidrs=config.api_allowed_cidrs,
            tls=bool(config.certificate_arn or config.domain_name),
            deletion_protection=config.deletion_protection,
            access_logs_bucket=self.access_logs.bucket if self.access_logs else None,
            access_logs_prefix=self.access_logs.prefix if self.access_logs else None,
            access_logs_policy=self.access_logs.bucket.policy if self.access_logs else None,
        )
        self._keep_exports_of_services_deployed_before_the_load_balancer_moved()
        self._allow_postgres(config)
        self._acknowledge(config)
        self._outputs()
        self.exports = DataExports(
            vpc=self.network.vpc,
            app_security_group=self.network.app_security_group,
            app_subnets=self.network.app_subnets,
            cluster=self.database.cluster,
            connection_secret=self.bootstrap.connection_secret,
            server_password=self.secrets.server_password,
            encryption_key=self.secrets.encryption_key,
            llm_keys=self.secrets.llm_keys,
            connection_revision=self.bootstrap.connection_revision,
            bootstrap=self.bootstrap.run,
            image_repository=self.image_mirror.repository,
            image_tag=self.image_mirror.tag,
            load_balancer=self.api.load_balancer,
            load_balancer_security_group=self.api.security_group,
            redis_host=self.redis.host if self.redis else None,
            redis_port=self.redis.port if self.redis else None,
            redis_replication_group_id=self.redis.replication_group.ref if self.redis else None,
            bootstrap_function_name=self.bootstrap.handler.function_name,
        )

    def _keep_exports_of_services_deployed_before_the_load_balancer_moved(self) -> None:
        """A service stack deployed while the load balancer was its own imports the public subnets and prod's
        access-log bucket. `cdk deploy --all` updates this stack first, while that service still imports them: the
        exports stay, or the update fails ("export ... in use"). tests/test_change_safety.py diffs that move."""
        subnets = self.network.vpc.select_subnets(subnet_type=ec2.SubnetType.PUBLIC).subnet_ids
        for value in [*subnets, *([self.access_logs.bucket.bucket_name] if self.access_logs else [])]:
            if Token.is_unresolved(value):  # an existing VPC's subnet ids are literals, never imported
                self.export_value(value)

    def _allow_postgres(self, config: LettaConfig) -> None:
        """The walkthrough's "PostgreSQL, 5432, My IP" rule, narrowed to the app and the listed CIDRs."""
        db_sg = self.network.database_security_group
        port = ec2.Port.tcp(self.database.port)
        db_sg.add_ingress_rule(self.network.app_security_group, port, "Letta tasks")
        for cidr in config.db_allowed_cidrs:
            peer = ec2.Peer.ipv6(cidr) if ":" in cidr else ec2.Peer.ipv4(cidr)
            db_sg.add_ingress_rule(peer, port, f"Operator {cidr} (config db_allowed_cidrs)")

    def _acknowledge(self, config: LettaConfig) -> None:
        cluster = self.database.cluster
        acknowledge(
            cluster,
            "AwsSolutions-RDS6",
            "IAM database authentication cannot serve Letta: its LETTA_PG_URI takes a fixed password and breaks "
            "on the characters IAM tokens contain (LETTA_FACTS.md). Passwords live in Secrets Manager.",
            checkov=["CKV_AWS_162"],
        )
        if not config.db_telemetry:
            skip_checkov(
                cluster,
                ["CKV_AWS_118"],
                "Enhanced monitoring is off because the operator set db_telemetry=false (it is on by default).",
            )
        skip_checkov(self, ["CKV_AWS_158"], LOG_ENCRYPTION_REASON)
        skip_checkov(
            self,
            ["CKV_AWS_149"],
            "Secrets Manager encrypts these secrets with the account's aws/secretsmanager key; who may read them is "
            "decided by the IAM grants (tests/test_iam.py), which a customer key would only repeat in a key policy "
            "at a monthly charge per key.",
        )
        if not config.deletion_protection:
            acknowledge(
                cluster,
                "AwsSolutions-RDS10",
                f"Deletion protection is off in the '{config.profile}' profile (config deletion_protection=false) "
                "so that `cdk destroy` removes a throwaway environment; prod turns it on.",
            )

    def _outputs(self) -> None:
        cluster = self.database.cluster
        secrets = self.secrets
        CfnOutput(self, "ClusterArn", value=cluster.cluster_arn, description="Aurora cluster ARN (Data API)")
        CfnOutput(self, "WriterEndpoint", value=cluster.cluster_endpoint.hostname, description="Writer endpoint")
        if self.redis:
            CfnOutput(self, "RedisEndpoint", value=self.redis.host, description="Shared Redis (Valkey) primary")
        CfnOutput(self, "Port", value=str(self.database.port), description="PostgreSQL port")
        CfnOutput(self, "DatabaseName", value=self.database.database_name, description="Database Letta uses")
        CfnOutput(
            self,
            "MasterSecretArn",
            value=self.database.secret.secret_arn,
            description="Master credentials, managed and rotated by RDS (the ARN, not the value)",
        )
        CfnOutput(
            self,
            "ConnectionSecretArn",
            value=self.bootstrap.connection_secret.secret_arn,
            description="Secret holding LETTA_PG_URI (key 'uri'); the ARN, not the value",
        )
        CfnOutput(self, "AppSecretArn", value=self.bootstrap.app_secret.secret_arn, description="App role login")
        CfnOutput(
            self,
            "ServerPasswordSecretArn",
            value=secrets.server_password.secret_arn,
            description="Secret holding the API bearer password (key 'password'); the ARN, not the value",
        )
        CfnOutput(self, "LlmKeysSecretArn", value=secrets.llm_keys.secret_arn, description="Secret holding LLM keys")
        CfnOutput(
            self,
            "EncryptionKeySecretArn",
            value=secrets.encryption_key.secret_arn,
            description="Secret holding LETTA_ENCRYPTION_KEY (key 'key'): a restore of this environment copies it",
        )
        if self.restored_secrets is not None:
            restore = self.database.restore
            source = restore.snapshot or f"{restore.source_cluster} at {restore.time}"
            CfnOutput(
                self, "RestoredFrom", value=source, description="What this environment's cluster was restored from"
            )
        CfnOutput(
            self,
            "SetLlmKeysCommand",
            # The keys come from stdin, never argv: an argument lands in shell history and in `ps` for every user.
            description="Store your LLM keys: run it, paste one JSON object such as "
            '{"OPENAI_API_KEY": "...", "ANTHROPIC_API_KEY": "..."} and press Ctrl-D '
            "(then run the service stack's RedeployCommand)",
            value=f"aws secretsmanager put-secret-value --secret-id {secrets.llm_keys.secret_arn} "
            "--secret-string file:///dev/stdin",
        )
        if self.image_mirror.tag:
            CfnOutput(
                self,
                "LettaImageUri",
                value=self.image_mirror.repository.repository_uri_for_tag(self.image_mirror.tag),
                description="The Letta image the tasks run: the stack's ECR copy of letta_image",
            )
        CfnOutput(self, "DatabaseSecurityGroupId", value=self.network.database_security_group.security_group_id)
        CfnOutput(self, "AppSecurityGroupId", value=self.network.app_security_group.security_group_id)


def _cluster_restore(config: LettaConfig) -> ClusterRestore | None:
    if config.restore_kind is None:
        return None
    return ClusterRestore(
        snapshot=config.restore_snapshot, source_cluster=config.restore_source_cluster, time=config.restore_time
    )


def _copy_sources(config: LettaConfig) -> dict[str, str]:
    """The source secrets a restored environment copies into its own (none for a new environment)."""
    sources = {
        "encryption_key": config.restore_encryption_key_arn,
        "server_password": config.restore_server_password_arn,
        "llm_keys": config.restore_llm_keys_arn,
    }
    return {what: arn for what, arn in sources.items() if arn}


def _existing_vpc(config: LettaConfig) -> ExistingVpc | None:
    """The VPC named by the vpc_* keys, or None: the stack creates its own."""
    if not config.vpc_id:
        return None
    return ExistingVpc(
        vpc_id=config.vpc_id,
        availability_zones=config.vpc_availability_zones,
        public_subnet_ids=config.vpc_public_subnet_ids,
        private_subnet_ids=config.vpc_private_subnet_ids,
        database_subnet_ids=config.vpc_database_subnet_ids,
        endpoints=config.vpc_endpoints,
        private_route_table_ids=config.vpc_private_route_table_ids,
    )
