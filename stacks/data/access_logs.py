"""The S3 bucket the prod load balancer writes its access logs to."""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, CfnMapping, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from stacks.nag import acknowledge, skip_checkov

PREFIX = "alb"
_NO_ACCOUNT = "none"


class AccessLogsBucket(Construct):
    """Encrypted (SSE-S3, the only encryption ALB log delivery supports), TLS-only, private, objects expiring
    after `expiration`; ELB log delivery may write below `PREFIX/AWSLogs/<account>/` and nowhere else.

    The policy works without knowing the region at synth (the stacks stay region-agnostic): regions from
    before August 2022 deliver as their regional ELB account, which a mapping of every region aws-cdk-lib knows
    names at deploy time; newer regions deliver as the `logdelivery.elasticloadbalancing.amazonaws.com`
    service principal. (aws-cdk-lib's own `log_access_logs` refuses a region-agnostic stack.)

    Exposes `bucket` and `prefix`.
    """

    def __init__(self, scope: Construct, id: str, *, expiration: Duration, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.prefix = PREFIX
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=expiration, abort_incomplete_multipart_upload_after=Duration.days(1))
            ],
            removal_policy=removal_policy,
        )
        objects = self.bucket.arn_for_objects(f"{PREFIX}/AWSLogs/{Aws.ACCOUNT_ID}/*")
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ElbLogDeliveryNewRegions",
                actions=["s3:PutObject"],
                principals=[iam.ServicePrincipal("logdelivery.elasticloadbalancing.amazonaws.com")],
                resources=[objects],
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ElbLogDeliveryLegacyRegions",
                actions=["s3:PutObject"],
                principals=[iam.ArnPrincipal(self._elb_account_root())],
                resources=[objects],
            )
        )
        # Anything that names an encryption must name SSE-S3 (what ELB and the bucket default use).
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyOtherEncryption",
                effect=iam.Effect.DENY,
                actions=["s3:PutObject"],
                principals=[iam.AnyPrincipal()],
                resources=[self.bucket.arn_for_objects("*")],
                conditions={
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"},
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                },
            )
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "This bucket holds the load balancer's access logs; logging access to it would need yet another bucket.",
            checkov=["CKV_AWS_18"],
        )
        skip_checkov(
            self.bucket,
            ["CKV_AWS_21"],
            "Access logs are written once by the load balancer and expire by lifecycle; versioning would only keep "
            "every expired object as a noncurrent version, at a cost, with nothing to restore.",
        )

    def _elb_account_root(self) -> str:
        """`arn:<partition>:iam::<the region's ELB account>:root`, or in a region without one (opened since August
        2022) this account's own root, which the bucket policy then grants nothing it does not already have."""
        stack = Stack.of(self)
        partitions = stack.node.try_get_context("@aws-cdk/core:target-partitions")
        regions = [r for r in RegionInfo.regions if not partitions or r.partition in partitions]
        mapping = CfnMapping(
            self,
            "ElbAccounts",
            mapping={r.name: {"account": r.elbv2_account or _NO_ACCOUNT} for r in regions},
        )
        account = mapping.find_in_map(Aws.REGION, "account")
        has_account = CfnCondition(
            self, "RegionHasElbAccount", expression=Fn.condition_not(Fn.condition_equals(account, _NO_ACCOUNT))
        )
        return Fn.condition_if(
            has_account.logical_id,
            f"arn:{Aws.PARTITION}:iam::{account}:root",
            f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:root",
        ).to_string()
