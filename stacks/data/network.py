"""The VPC (created, or an existing one by id) and the two security groups the database rule is written against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Annotations, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct


@dataclass(frozen=True)
class ExistingVpc:
    """A VPC the stacks deploy into but do not own, by ids (no lookup: synth stays credential-free). Each subnet
    list follows `availability_zones`; `private_subnet_ids` may be empty (tasks then use the public subnets with
    a public IP); `database_subnet_ids` hold Aurora and the cache, and may repeat the private ones."""

    vpc_id: str
    availability_zones: Sequence[str]
    public_subnet_ids: Sequence[str]
    private_subnet_ids: Sequence[str]
    database_subnet_ids: Sequence[str]
    # Interface endpoints (ECR, Logs, Secrets Manager) and an S3 gateway endpoint on these route tables, for
    # private subnets without NAT.
    endpoints: bool = False
    private_route_table_ids: Sequence[str] = ()


# What a task needs from AWS before Letta runs: the image (ECR's API and registry; layers from S3), its log stream,
# its secrets. Letta itself still needs the LLM providers and nltk's download (docs/network.md).
TASK_INTERFACE_ENDPOINTS = {
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
}


class Network(Construct):
    """A two-AZ VPC: public subnets, isolated subnets for the database, and private subnets with NAT
    only when `nat_gateways` > 0 (dev has none: its tasks use public subnets with a public IP). With `existing`,
    the VPC is imported by ids instead: no VPC, NAT gateway or flow log is created, and the same two security
    groups are created in it.

    Exposes `vpc`, `database_security_group` (nothing in, nothing out) and `app_security_group`
    (whatever runs Letta joins it; the database admits 5432 from it).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        nat_gateways: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        cidr: str = "10.40.0.0/16",
        existing: ExistingVpc | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.vpc: ec2.IVpc = (
            self._existing(existing)
            if existing
            else self._created(
                nat_gateways=nat_gateways, cidr=cidr, log_retention=log_retention, removal_policy=removal_policy
            )
        )
        self.database_security_group = ec2.SecurityGroup(
            self,
            "DatabaseSecurityGroup",
            vpc=self.vpc,
            description="Aurora PostgreSQL: 5432 from the Letta tasks and the listed operator CIDRs only",
            allow_all_outbound=False,
        )
        self.app_security_group = ec2.SecurityGroup(
            self,
            "AppSecurityGroup",
            vpc=self.vpc,
            description="Letta tasks: reach Aurora on 5432 and the internet (image, LLM APIs)",
            allow_all_outbound=True,
        )
        if existing and existing.endpoints:
            self._task_endpoints(existing)

    def _existing(self, existing: ExistingVpc) -> ec2.IVpc:
        """The given VPC as CDK sees it: the database subnets as the isolated group, which is what Aurora and the
        cache select."""
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=existing.vpc_id,
            availability_zones=list(existing.availability_zones),
            public_subnet_ids=list(existing.public_subnet_ids),
            private_subnet_ids=list(existing.private_subnet_ids) or None,
            private_subnet_route_table_ids=list(existing.private_route_table_ids) or None,
            isolated_subnet_ids=list(existing.database_subnet_ids),
        )
        # Route tables are the network team's; only the S3 gateway endpoint needs them (vpc_private_route_table_ids).
        Annotations.of(vpc).acknowledge_warning(
            "@aws-cdk/aws-ec2:noSubnetRouteTableId", "The stacks add no route: only the S3 endpoint reads route tables"
        )
        return vpc

    def _task_endpoints(self, existing: ExistingVpc) -> None:
        """Private DNS interface endpoints in the task subnets, reachable from the tasks only, and the free S3
        gateway endpoint ECR's image layers need."""
        endpoint_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoints: HTTPS from the Letta tasks only",
            allow_all_outbound=False,
        )
        endpoint_group.add_ingress_rule(self.app_security_group, ec2.Port.tcp(443), "Letta tasks")
        task_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        for name, service in TASK_INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                name, service=service, subnets=task_subnets, security_groups=[endpoint_group], open=False
            )
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[task_subnets])

    def _created(
        self, *, nat_gateways: int, cidr: str, log_retention: logs.RetentionDays, removal_policy: RemovalPolicy
    ) -> ec2.Vpc:
        subnets = [
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(name="database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
        ]
        if nat_gateways:
            subnets.append(
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22)
            )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=2,
            nat_gateways=nat_gateways,
            subnet_configuration=subnets,
            restrict_default_security_group=False,
        )
        if nat_gateways:
            # Free, and ECR serves image layers from S3: a task start's layers then bypass the NAT gateways'
            # $0.045/GB processing charge. (Interface endpoints for ECR itself cost more than they save:
            # docs/choices.md.)
            vpc.add_gateway_endpoint(
                "S3",
                service=ec2.GatewayVpcEndpointAwsService.S3,
                subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            )
        # Rejected traffic only: enough to debug a security-group rule, cheap to ingest.
        flow_log_group = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=removal_policy)
        vpc.add_flow_log(
            "RejectedTraffic",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group, self._flow_log_role()),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        return vpc

    def _flow_log_role(self) -> iam.Role:
        """The role VPC Flow Logs assumes to write, for this account's flow logs only (confused-deputy guard:
        CDK's default trust names the service alone). CDK grants it the log group and iam:PassRole on itself."""
        stack = Stack.of(self)
        return iam.Role(
            self,
            "FlowLogRole",
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(service="ec2", resource="vpc-flow-log", resource_name="*")
                    },
                },
            ),
        )

    @property
    def app_subnets(self) -> ec2.SubnetSelection:
        """Where the tasks run: private subnets behind NAT when there are any, public ones otherwise."""
        if self.vpc.private_subnets:
            return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
