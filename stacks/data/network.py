"""The VPC and the two security groups the database rule is written against."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct


class Network(Construct):
    """A two-AZ VPC: public subnets, isolated subnets for the database, and private subnets with NAT
    only when `nat_gateways` > 0 (dev has none: its tasks use public subnets with a public IP).

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
    ) -> None:
        super().__init__(scope, id)
        subnets = [
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(name="database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
        ]
        if nat_gateways:
            subnets.append(
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22)
            )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=nat_gateways,
            subnet_configuration=subnets,
            restrict_default_security_group=False,
        )
        if nat_gateways:
            # Free, and ECR serves image layers from S3: a task start's layers then bypass the NAT gateways'
            # $0.045/GB processing charge. (Interface endpoints for ECR itself cost more than they save:
            # docs/choices.md.)
            self.vpc.add_gateway_endpoint(
                "S3",
                service=ec2.GatewayVpcEndpointAwsService.S3,
                subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            )
        # Rejected traffic only: enough to debug a security-group rule, cheap to ingest.
        flow_log_group = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=removal_policy)
        self.vpc.add_flow_log(
            "RejectedTraffic",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group, self._flow_log_role()),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
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
