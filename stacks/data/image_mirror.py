"""Where the Letta image comes from at task start: always a private ECR repository, never Docker Hub.

Tasks that pull `letta/letta:<tag>` from Docker Hub anonymously share its quota of 10 pulls per hour per
IPv4 address (prod's tasks share two NAT addresses), so a crash-looping deployment can lock itself out, and
the tag can be moved upstream. Instead, the data stack owns an ECR repository and copies the configured
image into it once per deploy that changes `letta_image` (cdk-ecr-deployment: a Lambda that runs the
containers/image copy that skopeo uses). Every task start then pulls from ECR by an immutable tag.

An image that already lives in a private ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com/...`) is used
as it is: nothing limits those pulls, and copying would only duplicate it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_ecr_deployment import DockerImageName, ECRDeployment
from constructs import Construct

from stacks.nag import CUSTOM_RESOURCE_LAMBDA_REASON, acknowledge, skip_checkov

_PRIVATE_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<rest>.+)$"
)
# The copy runs in a Lambda that gives up after 15 minutes; CloudFormation gives up on the custom resource soon
# after instead of waiting an hour for an answer that a timed-out Lambda never sends.
COPY_SERVICE_TIMEOUT = Duration.minutes(20)
# Lambda's network bandwidth grows with its memory; /tmp must hold a layer if containers/image buffers one.
COPY_MEMORY_MIB = 2048
COPY_TMP_MIB = 10240
ECR_LOGIN_REASON = (
    "ecr:GetAuthorizationToken, the registry login, has no resource-level permissions; every other ECR action "
    "is granted on the one repository only."
)


@dataclass(frozen=True)
class ImageReference:
    """A container image reference split into its parts: `name` is everything before the tag or digest."""

    name: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, reference: str) -> ImageReference:
        if "@" in reference:
            name, digest = reference.split("@", 1)
            return cls(name=name, tag=None, digest=digest)
        name, _, tag = reference.rpartition(":")
        if not name or "/" in tag:  # "host:port/repo" without a tag: the colon belongs to the registry
            raise ValueError(f"not pinned by tag or digest: {reference}")
        return cls(name=name, tag=tag, digest=None)

    @property
    def ecr_repository(self) -> tuple[str, str, str] | None:
        """(account, region, repository name) when the image lives in a private ECR registry, else None."""
        match = _PRIVATE_ECR.match(self.name)
        return (match["account"], match["region"], match["rest"]) if match else None

    @property
    def tag_or_digest(self) -> str:
        return self.digest or self.tag or ""


def mirror_tag(source: str) -> str:
    """The immutable tag the mirror gives `source`: readable (the source's tag, or its digest's start) plus a
    hash of the whole reference, so that another image with the same tag (a fork) never collides with it."""
    ref = ImageReference.parse(source)
    readable = ref.tag[:100] if ref.tag else (ref.digest or "").replace(":", "-")[:19]
    return f"{readable}-{hashlib.sha256(source.encode()).hexdigest()[:10]}"


class ImageMirror(Construct):
    """An ECR repository owned by the stack, and the copy of `source` into it under `tag` (see `mirror_tag`).
    With `source` None (the image already lives in a private ECR registry) only the empty repository exists, so
    that switching `letta_image` between the two never removes an export the service stack imports.

    The repository's tags are immutable and scanned on push; `cdk destroy` deletes it with its images (they can
    be copied again). The copy reads the source anonymously unless `credentials_secret_arn` names a Secrets
    Manager secret `{"username": ..., "password": ...}` for the source registry (a Docker Hub access token
    avoids sharing the anonymous quota with everything else that runs on Lambda's addresses).

    The copy's Lambda runs outside the VPC, writes to a log group of this construct and has a role of its own:
    push to this repository, read the credentials secret, nothing else.

    Exposes `repository` and `tag`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: str | None,
        credentials_secret_arn: str | None,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id)
        self.repository = ecr.Repository(
            self,
            "Repository",
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            image_scan_on_push=True,
            encryption=ecr.RepositoryEncryption.AES_256,
            # The images are copies of a public source: deleting them loses nothing a deploy cannot copy again.
            removal_policy=RemovalPolicy.DESTROY,
            empty_on_delete=True,
        )
        skip_checkov(
            self.repository,
            ["CKV_AWS_136"],
            "The repository holds a copy of the public Letta image, encrypted at rest with AES-256 (ECR's default); "
            "nothing in it is secret, so a customer key would add a charge and a key policy for no protection.",
        )
        self.tag = mirror_tag(source) if source else None
        if source:
            self._copy(source, credentials_secret_arn, log_retention)

    def _copy(self, source: str, credentials_secret_arn: str | None, log_retention: logs.RetentionDays) -> None:
        assert self.tag
        log_group = logs.LogGroup(self, "CopyLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(
            self,
            "CopyRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies the Letta image into the stack's ECR repository",
        )
        log_group.grant_write(role)
        self.repository.grant_pull_push(role)
        credentials = None
        if credentials_secret_arn:
            secret = secretsmanager.Secret.from_secret_complete_arn(self, "SourceCredentials", credentials_secret_arn)
            secret.grant_read(role)
            credentials = secret.secret_arn
        self.copy = ECRDeployment(
            self,
            "Copy",
            src=DockerImageName(source, credentials),
            dest=DockerImageName(self.repository.repository_uri_for_tag(self.tag)),
            # The whole image index: every architecture, and the source's index digest stays the same in ECR.
            copy_image_index=True,
            memory_limit=COPY_MEMORY_MIB,
            # The construct grants its function ecr:* and s3:GetObject on every resource; through an immutable
            # view of the role those grants are dropped and only the scoped ones above apply.
            role=role.without_policy_updates(),
        )
        self._own_the_function(log_group)
        # Its permissions must exist before the copy runs.
        self.copy.node.add_dependency(role)
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", ECR_LOGIN_REASON)

    def _own_the_function(self, log_group: logs.LogGroup) -> None:
        """cdk-ecr-deployment adds its function to the stack as a singleton, without a log group (Lambda would
        create `/aws/lambda/<name>` and keep it after destroy) or a timeout on the custom resource."""
        stack = Stack.of(self)
        functions = [
            child
            for child in stack.node.children
            if isinstance(child, lambda_.Function) and child.node.id.startswith("Custom::CDKECRDeployment")
        ]
        assert len(functions) == 1, "one ImageMirror per stack"
        function = functions[0].node.default_child
        assert isinstance(function, lambda_.CfnFunction)
        function.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
        function.add_property_override("EphemeralStorage", {"Size": COPY_TMP_MIB})
        functions[0].node.add_dependency(log_group)
        skip_checkov(functions[0], ["CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"], CUSTOM_RESOURCE_LAMBDA_REASON)
        resource = self.copy.node.find_child("CustomResource").node.default_child
        assert isinstance(resource, CfnResource)
        resource.add_property_override("ServiceTimeout", int(COPY_SERVICE_TIMEOUT.to_seconds()))
