"""The API's load balancer and its security group. They need nothing from the database, and a load balancer takes
about 3 minutes to create: here, beside Aurora, they are created while the cluster is, instead of after the whole
data stack in the service stack (docs/deploy-time.md). Their contents are ephemeral: destroy loses nothing.
The service stack keeps the routing: listeners, the target group, the certificate and the alias record."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from stacks import letta_contract as contract
from stacks.nag import acknowledge

# The walkthrough's client waits up to 600 s for an agent step; the load balancer must not cut it sooner. Letta's
# keep-alive (the task's LETTA_UVICORN_TIMEOUT_KEEP_ALIVE) comes from the same constant and outlasts it: no idle 502s.
IDLE_TIMEOUT = Duration.seconds(contract.LOAD_BALANCER_IDLE_TIMEOUT_SECONDS)


class ApiLoadBalancer(Construct):
    """An internet-facing Application Load Balancer in the public subnets, admitting `allowed_cidrs` on 80 (and 443
    with `tls`), with no outbound rule of its own (the service stack admits its tasks as the one target).

    With `access_logs_bucket` (prod), it writes access logs under `access_logs_prefix`, once `access_logs_policy`
    (the bucket policy ELB's test object needs) exists.

    Exposes `load_balancer` and `security_group`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        allowed_cidrs: Sequence[str],
        tls: bool,
        deletion_protection: bool,
        access_logs_bucket: s3.IBucket | None = None,
        access_logs_prefix: str | None = None,
        access_logs_policy: IConstruct | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Letta API load balancer: the listed client CIDRs in, the Letta tasks out",
            allow_all_outbound=False,
        )
        for cidr in allowed_cidrs:
            peer = ec2.Peer.ipv6(cidr) if ":" in cidr else ec2.Peer.ipv4(cidr)
            for port in [443, 80] if tls else [80]:
                self.security_group.add_ingress_rule(peer, ec2.Port.tcp(port), f"API client {cidr}")
        if any(cidr in ("0.0.0.0/0", "::/0") for cidr in allowed_cidrs):
            # The config admits a world-open CIDR only with api_allow_public=true, docs/ci.md's public-API option.
            acknowledge(
                self.security_group,
                "AwsSolutions-EC23",
                "The operator opted in with api_allow_public=true: the API is meant for clients anywhere and is "
                "guarded by Letta's server password (and TLS when certificate_arn is set).",
            )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "Resource",
            vpc=vpc,
            internet_facing=True,
            security_group=self.security_group,
            idle_timeout=IDLE_TIMEOUT,
            drop_invalid_header_fields=True,
            # Prod: `cdk destroy` fails until an operator turns it off (docs/operations.md).
            deletion_protection=deletion_protection,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        )
        if access_logs_bucket is not None:
            # Set as attributes, because aws-cdk-lib's log_access_logs needs the region at synth and would write a
            # bucket policy of its own; the bucket's policy must exist first (ELB writes a test object).
            for key, value in {
                "access_logs.s3.enabled": "true",
                "access_logs.s3.bucket": access_logs_bucket.bucket_name,
                "access_logs.s3.prefix": access_logs_prefix or "",
            }.items():
                self.load_balancer.set_attribute(key, value)
            if access_logs_policy is not None:
                self.load_balancer.node.add_dependency(access_logs_policy)
        else:
            acknowledge(
                self.load_balancer,
                "AwsSolutions-ELB2",
                "No ALB access logs outside prod: they need an S3 bucket that `cdk destroy` would leave behind or "
                "empty through yet another custom resource. Letta's own access log goes to the service's log group.",
                checkov=["CKV_AWS_91"],
            )
