"""The Redis every Letta task shares when more than one can run: an ElastiCache (Valkey) node."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from constructs import Construct

from stacks.letta_contract import REDIS_DEFAULT_PORT, VERSION
from stacks.nag import acknowledge

# Valkey, the open-source Redis fork ElastiCache prices lowest; Letta's redis-py client speaks its protocol.
ENGINE = "valkey"
ENGINE_VERSION = "8.0"
# Letta's client (letta/data_sources/redis_client.py, `get_redis_client`) is built from LETTA_REDIS_HOST and
# LETTA_REDIS_PORT alone: no ssl, no password. That rules out ElastiCache Serverless (TLS only) and in-transit
# encryption or AUTH on this node; the network is the access control.
_CLIENT = (
    f"Letta {VERSION}'s Redis client takes only LETTA_REDIS_HOST and LETTA_REDIS_PORT "
    "(letta/data_sources/redis_client.py, get_redis_client): it cannot speak TLS or send AUTH."
)


class SharedRedis(Construct):
    """One node-based ElastiCache for Valkey replication group (cluster mode off) in the isolated subnets, reachable
    only from `app_security_group` on 6379.

    It holds what Letta must share across tasks and nothing that outlives them: agent and conversation locks, run-id
    mappings, resumable SSE streams. So it is one node, no snapshots, and it is deleted with the stack in every
    profile. At-rest encryption is on (invisible to the client); in-transit encryption and AUTH are off because
    Letta's client has neither.

    Exposes `host` and `port` (the primary endpoint, fixed for the life of the replication group) and
    `security_group`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        app_security_group: ec2.ISecurityGroup,
        node_type: str,
    ) -> None:
        super().__init__(scope, id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Letta shared Redis: 6379 from the Letta tasks only",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(app_security_group, ec2.Port.tcp(REDIS_DEFAULT_PORT), "Letta tasks")
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description="Letta shared Redis: the isolated subnets, beside the database",
            subnet_ids=vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids,
        )
        subnet_group.apply_removal_policy(RemovalPolicy.DESTROY)
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description="Letta locks, run ids and resumable streams, shared by every task",
            engine=ENGINE,
            engine_version=ENGINE_VERSION,
            cache_node_type=node_type,
            num_cache_clusters=1,
            automatic_failover_enabled=False,
            multi_az_enabled=False,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            port=REDIS_DEFAULT_PORT,
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=False,
            snapshot_retention_limit=0,
        )
        # Ephemeral contents: `cdk destroy` and a replacement delete it, in prod too (nothing to snapshot).
        self.replication_group.apply_removal_policy(RemovalPolicy.DESTROY)
        self.host = self.replication_group.attr_primary_end_point_address
        self.port = REDIS_DEFAULT_PORT
        self._acknowledge()

    def _acknowledge(self) -> None:
        """The cdk-nag findings this node raises (AEC3, AEC4, AEC6), each with its true reason. The default port
        (AEC5) raises nothing: only the app security group reaches 6379 in the isolated subnets."""
        group = self.replication_group
        acknowledge(
            group,
            "AwsSolutions-AEC3",
            f"In-transit encryption is off: {_CLIENT} At-rest encryption is on.",
            checkov=["CKV_AWS_30"],
        )
        acknowledge(
            group,
            "AwsSolutions-AEC6",
            f"No Redis AUTH token and no TLS: {_CLIENT} Only the app security group reaches it.",
            checkov=["CKV_AWS_31"],
        )
        acknowledge(
            group,
            "AwsSolutions-AEC4",
            "One node, no Multi-AZ: it holds only ephemeral locks, run-id mappings and resumable streams. A lost node "
            "drops in-flight streams and locks, which Letta recreates; no data is lost, the database holds it all.",
        )
