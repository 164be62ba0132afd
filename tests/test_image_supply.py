"""Image supply: every task pulls from ECR (the data stack's mirror, or an ECR image the operator names), never
from Docker Hub, and the mirror's copy cannot hang a stack or leave anything behind."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.data.image_mirror import ImageReference, mirror_tag
from tests.cdk_app import VARIANTS, only, resources, synthesized

DIGEST = "sha256:" + "ab" * 32
ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/forks/letta:0.16.8-fix1"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dockerhub-AbCdEf"


def templates(**overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    synth = synthesized(**overrides)
    return synth.template("Data").to_json(), synth.template("Service").to_json()


def task_images(service: dict[str, Any]) -> list[str]:
    definitions = resources(service, "AWS::ECS::TaskDefinition").values()
    return [json.dumps(c["Image"]) for d in definitions for c in d["Properties"]["ContainerDefinitions"]]


@pytest.mark.parametrize("overrides", VARIANTS, ids=lambda v: "-".join(f"{k}={v[k]}" for k in v))
def test_no_task_definition_pulls_from_docker_hub(overrides: dict[str, object]) -> None:
    synth = synthesized(**overrides)
    images = task_images(synth.template("Service").to_json())
    assert images
    for image in images:
        assert ".dkr.ecr." in image, image
        assert "docker.io" not in image and "letta/letta" not in image, image


def test_the_data_stack_mirrors_the_pinned_image_into_an_immutable_repository() -> None:
    data, service = templates()
    repository = only(data, "AWS::ECR::Repository")["Properties"]
    assert repository["ImageTagMutability"] == "IMMUTABLE"
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["EmptyOnDelete"] is True  # destroy deletes the copies: they can be made again
    copy = only(data, "Custom::CDKECRDeployment")["Properties"]
    assert copy["SrcImage"] == "docker://letta/letta:0.16.8"
    assert copy["CopyImageIndex"] is True  # both architectures; the index digest stays the same
    tag = mirror_tag("letta/letta:0.16.8")
    assert json.dumps(copy["DestImage"]).endswith(f':{tag}"]]}}')
    # The task runs exactly that copy, from the repository the data stack exports.
    (image,) = task_images(service)
    assert image.endswith(f':{tag}"]]}}') and "ImportValue" in image


def test_the_copy_fails_a_stack_in_minutes_and_logs_into_the_stack() -> None:
    data, _ = templates()
    copy = only(data, "Custom::CDKECRDeployment")["Properties"]
    assert copy["ServiceTimeout"] == 1200  # Lambda gives up at 900 s; CloudFormation right after
    function_id = copy["ServiceToken"]["Fn::GetAtt"][0]
    function = data["Resources"][function_id]["Properties"]
    assert function["Timeout"] == 900
    assert "VpcConfig" not in function
    log_group = function["LoggingConfig"]["LogGroup"]["Ref"]
    assert data["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
    assert log_group in data["Resources"][function_id]["DependsOn"]


def test_the_copy_role_may_push_to_its_repository_only() -> None:
    data, _ = templates(letta_image_credentials_arn=SECRET)
    copy = only(data, "Custom::CDKECRDeployment")["Properties"]
    function_id = copy["ServiceToken"]["Fn::GetAtt"][0]
    role_id = data["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert not data["Resources"][role_id]["Properties"].get("ManagedPolicyArns")
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(data, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = [s for group in policies for s in group]
    by_resource = {json.dumps(s["Resource"]): s["Action"] for s in statements}
    assert by_resource.pop('"*"') == "ecr:GetAuthorizationToken"
    assert "s3:GetObject" not in json.dumps(statements)  # the construct's own grant on every bucket is dropped
    repository = next(iter(resources(data, "AWS::ECR::Repository")))
    assert "ecr:PutImage" in by_resource[json.dumps({"Fn::GetAtt": [repository, "Arn"]})]
    assert by_resource[json.dumps(SECRET)] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert copy["SrcCreds"] == SECRET


def test_a_digest_is_copied_under_an_immutable_tag_of_its_own() -> None:
    source = f"letta/letta@{DIGEST}"
    data, service = templates(letta_image=source)
    copy = only(data, "Custom::CDKECRDeployment")["Properties"]
    assert copy["SrcImage"] == f"docker://{source}"
    assert mirror_tag(source).startswith("sha256-abababab")
    assert mirror_tag(source) in task_images(service)[0]


def test_an_image_already_in_private_ecr_is_pulled_from_there_without_a_mirror() -> None:
    data, service = templates(letta_image=ECR_IMAGE)
    assert not resources(data, "Custom::CDKECRDeployment")
    assert not resources(data, "AWS::Lambda::Function") or all(
        "CDKECRDeployment" not in k for k in resources(data, "AWS::Lambda::Function")
    )
    (image,) = task_images(service)
    assert "123456789012.dkr.ecr.eu-west-1." in image and "/forks/letta:0.16.8-fix1" in image
    pull = [
        s
        for p in resources(service, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "ecr:BatchGetImage" in s["Action"]
    ]
    assert len(pull) == 1
    assert "repository/forks/letta" in json.dumps(pull[0]["Resource"])


def test_forks_with_the_same_tag_get_different_mirror_tags() -> None:
    assert mirror_tag("letta/letta:0.16.8") != mirror_tag("someone/letta:0.16.8")
    assert mirror_tag("letta/letta:0.16.8").startswith("0.16.8-")


@pytest.mark.parametrize(
    ("reference", "ecr"),
    [
        ("letta/letta:0.16.8", None),
        ("docker.io/letta/letta:0.16.8", None),
        ("ghcr.io/acme/letta@" + DIGEST, None),
        ("registry.example.com:5000/letta:1", None),
        ("public.ecr.aws/acme/letta:1", None),
        (ECR_IMAGE, ("123456789012", "eu-west-1", "forks/letta")),
    ],
)
def test_private_ecr_is_recognised_by_its_registry_host(reference: str, ecr: tuple[str, str, str] | None) -> None:
    assert ImageReference.parse(reference).ecr_repository == ecr


def test_switching_to_or_from_an_ecr_image_keeps_every_export_the_service_may_import() -> None:
    # The data stack deploys first: removing an export the running service stack imports fails the deploy.
    def exports(**overrides: Any) -> set[str]:
        outputs = synthesized(**overrides).template("Data").to_json()["Outputs"]
        return {o["Export"]["Name"] for o in outputs.values() if "Export" in o}

    mirrored, direct = exports(), exports(letta_image=ECR_IMAGE)
    assert direct >= mirrored
    assert len(resources(templates(letta_image=ECR_IMAGE)[0], "AWS::ECR::Repository")) == 1
