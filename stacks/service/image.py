"""The task's image: from ECR only, so that no task start depends on Docker Hub's anonymous quota."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from stacks.data.image_mirror import ImageReference
from stacks.data.stack import DataExports


def letta_image(scope: Construct, configured: str, data: DataExports) -> ecs.ContainerImage:
    """The data stack's mirror of `configured` when it has one, else `configured` itself, which then lives in a
    private ECR registry. Either way the execution role may pull from exactly that repository."""
    if data.image_tag is not None:
        # Imported by ARN and name (stable exports): a grant then touches only this stack's role.
        repository = ecr.Repository.from_repository_attributes(
            scope,
            "ImageRepository",
            repository_arn=data.image_repository.repository_arn,
            repository_name=data.image_repository.repository_name,
        )
        return ecs.ContainerImage.from_ecr_repository(repository, data.image_tag)
    ref = ImageReference.parse(configured)
    assert ref.ecr_repository, "the data stack mirrors every image outside a private ECR registry"
    account, region, name = ref.ecr_repository
    arn = Stack.of(scope).format_arn(
        service="ecr", account=account, region=region, resource="repository", resource_name=name
    )
    repository = ecr.Repository.from_repository_attributes(
        scope, "ImageRepository", repository_arn=arn, repository_name=name
    )
    return ecs.ContainerImage.from_ecr_repository(repository, ref.tag_or_digest)
