"""Aurora's readers in a stack of their own: a reader is created only after the writer (8 minutes each), and in the
data stack it held the service stack back although the service never uses it. Here it depends on the data stack
alone, and `cdk deploy --all --concurrency 3` creates it while the service stack deploys (docs/deploy-time.md)."""

from __future__ import annotations

from aws_cdk import CfnWaitConditionHandle, RemovalPolicy, Stack
from aws_cdk import aws_rds as rds
from constructs import Construct

from stacks.config import LettaConfig
from stacks.data.database import ClusterMembership
from stacks.nag import acknowledge

# Performance Insights' free retention, as the writer has it (Database Insights standard mode).
INSIGHTS_RETENTION_DAYS = 7
MONITORING_INTERVAL_SECONDS = 60


class ReaderStack(Stack):
    """`readers` Serverless v2 readers (0 or 1) of the data stack's cluster: failover targets in the VPC's second
    AZ, in promotion tier 1 so that they scale with the writer (a failover lands on an instance already sized for
    the load). Nothing stateful: a reader's data is the cluster's volume, and deleting one loses nothing.

    The stack exists with no reader too (it then holds a no-op placeholder), so that `readers=0` is a deploy that
    deletes the reader, as it was when the reader lived in the data stack, not a stack the CLI stops selecting.
    Alarms and the dashboard follow the reader by the cluster's READER role, never by an id from this stack.
    """

    def __init__(
        self, scope: Construct, id: str, *, config: LettaConfig, membership: ClusterMembership, **kwargs: object
    ) -> None:
        super().__init__(scope, id, **kwargs)
        telemetry = membership.monitoring_role_arn is not None
        self.readers: list[rds.CfnDBInstance] = []
        for n in range(config.readers):
            reader = rds.CfnDBInstance(
                self,
                f"Reader{n}" if n else "Reader",
                db_cluster_identifier=membership.cluster_identifier,
                db_instance_class="db.serverless",
                engine="aurora-postgresql",
                # Tier 1 (CDK's scale_with_writer): the reader follows the writer's capacity.
                promotion_tier=1,
                # The VPC's second AZ. The writer's AZ stays RDS's choice (docs/scaling.md).
                availability_zone=membership.reader_zone,
                # The engine version is pinned to a minor (aws-cdk #15475), as on the writer.
                auto_minor_version_upgrade=False,
                publicly_accessible=False,
                enable_performance_insights=True if telemetry else None,
                performance_insights_retention_period=INSIGHTS_RETENTION_DAYS if telemetry else None,
                monitoring_interval=MONITORING_INTERVAL_SECONDS if telemetry else None,
                monitoring_role_arn=membership.monitoring_role_arn,
            )
            # Aurora makes the first instance of a cluster its writer: a reader is created after the writer. The
            # stack order already ensures it; the reference says so in the template (and orders scripts/deploy_path.py).
            reader.tags.set_tag("letta:created-after", membership.writer_identifier)
            # As the writer: a cluster's instance has no data of its own to snapshot; the cluster keeps it.
            reader.apply_removal_policy(RemovalPolicy.DESTROY)
            if config.vpc_id:
                acknowledge(
                    reader,
                    "CloudFormation-Validate::W3010",
                    "The reader's zone is the second of vpc_availability_zones, named by the operator.",
                )
            self.readers.append(reader)
        if not self.readers:
            # A stack needs one resource; this one creates nothing and costs nothing.
            CfnWaitConditionHandle(self, "NoReader")
