"""The Aurora PostgreSQL Serverless v2 cluster Letta keeps its agents' memory in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.nag import acknowledge

MASTER_USER = "postgres"
PORT = 5432
# Enhanced monitoring's interval: 60 s is the coarsest RDS offers, enough for an incident's OS view at the least
# CloudWatch Logs volume. RDS writes every instance of the account and region into this one log group.
MONITORING_INTERVAL = Duration.seconds(60)
OS_METRICS_LOG_GROUP = "RDSOSMetrics"
LATEST = "latest"


@dataclass(frozen=True)
class ClusterRestore:
    """Where a restored cluster's data comes from: a snapshot (name or ARN), or a source cluster at a point in time
    (`time` an ISO-8601 UTC second, or "latest")."""

    snapshot: str | None = None
    source_cluster: str | None = None
    time: str | None = None

    def __post_init__(self) -> None:
        if bool(self.snapshot) == bool(self.source_cluster) or bool(self.source_cluster) != bool(self.time):
            raise ValueError("ClusterRestore takes a snapshot, or a source_cluster with a time")

    def cluster_properties(self) -> dict[str, object]:
        """The create-only AWS::RDS::DBCluster properties that make CloudFormation restore instead of create.

        CDK has no point-in-time restore construct (aws-cdk#25998), so both kinds are raw properties on the same
        cluster resource: one logical id, whatever the kind, so that changing or removing them is a replacement of
        the custom-named cluster, which CloudFormation refuses before touching it."""
        if self.snapshot:
            return {"SnapshotIdentifier": self.snapshot}
        # full-copy: the restored cluster's storage is its own, so the source can be deleted at once (a
        # copy-on-write clone shares pages with its source, and a source holds at most 15 clones).
        properties: dict[str, object] = {"SourceDBClusterIdentifier": self.source_cluster, "RestoreType": "full-copy"}
        if self.time == LATEST:
            properties["UseLatestRestorableTime"] = True
        else:
            properties["RestoreToTime"] = self.time
        return properties


@dataclass(frozen=True)
class ClusterMembership:
    """What a reader instance in another stack needs to join the cluster as the writer's instances are made: the
    cluster's identifier, the writer's (a reader is created after the writer: Aurora makes the first instance of a
    cluster its writer), the zone readers go to (the VPC's second) and enhanced monitoring's role (None: off)."""

    cluster_identifier: str
    writer_identifier: str
    reader_zone: str
    monitoring_role_arn: str | None


class AuroraDatabase(Construct):
    """Aurora PostgreSQL 17 with one Serverless v2 writer in isolated subnets.

    Storage encrypted, TLS forced by its own parameter group, the master password managed and rotated by
    RDS in Secrets Manager (it never enters LETTA_PG_URI: Letta logs in as the app role), the Data API on
    (bootstrap and inspection need no path into the VPC), the PostgreSQL log exported to a log group this
    construct owns, so that destroying the stack removes it.

    `restore` makes the cluster a restore of a snapshot or of another cluster at a point in time: the same
    Serverless v2 cluster, settings and network, with its data, roles and master user name from the source
    (CloudFormation's restore properties exclude MasterUsername, DatabaseName and StorageEncrypted: they are the
    source's, and an encrypted source restores encrypted). RDS then hands the managed master password a new secret.

    The writer only: readers live in the reader stack (stacks/reader/), which `membership` tells what they join,
    so that creating one (8 minutes after the writer) holds back nothing the service needs.

    Exposes `cluster`, `writer` (the instance the bootstrap must wait for), `membership`, `secret` (master
    credentials), `database_name` and `port`.

    With `telemetry`, every instance has Database Insights (standard mode: Performance Insights with its free
    7-day retention) and enhanced monitoring every 60 s, through `monitoring_role`, a role of the construct's own
    that may write only the account's RDSOSMetrics log group (RDS creates it on first use; it outlives the stack).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        cluster_identifier: str,
        postgres_version: str,
        database_name: str,
        storage_type: rds.DBClusterStorageType,
        min_capacity: float,
        max_capacity: float,
        auto_pause: Duration | None,
        backup_retention: Duration,
        deletion_protection: bool,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
        telemetry: bool = True,
        restore: ClusterRestore | None = None,
    ) -> None:
        super().__init__(scope, id)
        major = postgres_version.split(".")[0]
        engine = rds.DatabaseClusterEngine.aurora_postgres(
            version=rds.AuroraPostgresEngineVersion.of(f"{postgres_version}", major)
        )
        # Anything but the cluster follows DESTROY: a SNAPSHOT policy only exists for the cluster itself.
        parameter_group = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="Letta Aurora: TLS required for every connection",
            parameters={"rds.force_ssl": "1"},
            removal_policy=RemovalPolicy.DESTROY,
        )
        # RDS would create this group on first export and leave it behind on delete; creating it first, by the
        # name RDS uses, makes it the stack's.
        log_group = logs.LogGroup(
            self,
            "PostgresLog",
            log_group_name=f"/aws/rds/cluster/{cluster_identifier}/postgresql",
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.monitoring_role = self._monitoring_role() if telemetry else None
        # Performance Insights on each instance as on the cluster (CDK warns when they differ), free 7-day retention.
        insights: dict[str, Any] = (
            {
                "enable_performance_insights": True,
                "performance_insight_retention": rds.PerformanceInsightRetention.DEFAULT,
            }
            if telemetry
            else {}
        )
        self.writer_id = "Writer"
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            # A fixed identifier is needed to name the log group above before the cluster exists.
            cluster_identifier=cluster_identifier,
            # RDS owns the master password and rotates it (every 7 days by default). Only the bootstrap uses it,
            # through the Data API, which takes an RDS-managed secret like any other: "Password management with
            # Amazon Aurora and AWS Secrets Manager" lists no Data API limitation
            # (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html), and the
            # Data API reads the secret on every call, so a rotation needs no redeploy.
            manage_master_user_password=True,
            credentials=rds.Credentials.from_username(MASTER_USER),
            default_database_name=database_name,
            port=PORT,
            writer=rds.ClusterInstance.serverless_v2(
                self.writer_id,
                # The engine version is pinned to a minor; AWS upgrading it behind CloudFormation's back makes the
                # next deploy fail as a downgrade (aws-cdk #15475). Minor upgrades happen by bumping the pin.
                auto_minor_version_upgrade=False,
                publicly_accessible=False,
                **insights,
            ),
            serverless_v2_min_capacity=min_capacity,
            serverless_v2_max_capacity=max_capacity,
            serverless_v2_auto_pause_duration=auto_pause,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[security_group],
            parameter_group=parameter_group,
            storage_encrypted=True,
            storage_type=storage_type,
            enable_data_api=True,
            cloudwatch_logs_exports=["postgresql"],
            backup=rds.BackupProps(retention=backup_retention),
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
            copy_tags_to_snapshot=True,
            # Query-level (Database Insights standard, 7 days free) and OS-level (enhanced monitoring) views for an
            # incident; both are in-place updates of a deployed cluster (tests/test_change_safety.py).
            database_insights_mode=rds.DatabaseInsightsMode.STANDARD if telemetry else None,
            enable_performance_insights=telemetry or None,
            performance_insight_retention=rds.PerformanceInsightRetention.DEFAULT if telemetry else None,
            monitoring_interval=MONITORING_INTERVAL if telemetry else None,
            monitoring_role=self.monitoring_role,
        )
        self.cluster.node.add_dependency(log_group)
        self.restore = restore
        if restore is not None:
            self._restore(restore)
        self.log_group = log_group
        self.writer = self.cluster.node.find_child(self.writer_id)
        writer_instance = self.writer.node.default_child
        assert isinstance(writer_instance, rds.CfnDBInstance)
        self.membership = ClusterMembership(
            cluster_identifier=self.cluster.cluster_identifier,
            writer_identifier=writer_instance.ref,
            reader_zone=vpc.availability_zones[1],
            monitoring_role_arn=self.monitoring_role.role_arn if self.monitoring_role else None,
        )
        assert self.cluster.secret is not None  # generated credentials always come with a secret
        self.secret: secretsmanager.ISecret = self.cluster.secret
        self.database_name = database_name
        self.port = PORT

    def _monitoring_role(self) -> iam.Role:
        """Enhanced monitoring's role, written here instead of CDK's default, which attaches the AWS-managed
        AmazonRDSEnhancedMonitoringRole (every `RDS*` log group of every region)."""
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "MonitoringRole",
            description="RDS enhanced monitoring: writes OS metrics to this account's RDSOSMetrics log group only",
            assumed_by=iam.ServicePrincipal(
                "monitoring.rds.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
        )
        group = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=OS_METRICS_LOG_GROUP,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["logs:CreateLogGroup", "logs:PutRetentionPolicy"], resources=[group])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
                resources=[f"{group}:log-stream:*"],
            )
        )
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        acknowledge(
            role,
            # cdk-nag 3 matches the finding's full id, which spells the region out when the stack has one.
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:{region}:<AWS::AccountId>:log-group:"
            "RDSOSMetrics:log-stream:*]",
            "Enhanced monitoring writes one stream per instance, named by the instance's resource id (db-...), into "
            "the account's RDSOSMetrics group: the ids exist only after the instances, which need this role first.",
        )
        return role

    def _restore(self, restore: ClusterRestore) -> None:
        resource = self.cluster.node.default_child
        assert isinstance(resource, rds.CfnDBCluster)
        for name, value in restore.cluster_properties().items():
            resource.add_property_override(name, value)
        # RestoreDBClusterFromSnapshot / ToPointInTime take the source's master user, database and encryption.
        for name in ("MasterUsername", "DatabaseName", "StorageEncrypted"):
            resource.add_property_deletion_override(name)
