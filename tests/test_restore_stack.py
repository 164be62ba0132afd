"""The restored environment's templates (both kinds, tests/cdk_app.py VARIANTS): the cluster restores instead of
creating, under the new environment's own identifier; no encryption key is generated, the source's is copied once
into a secret the new environment owns; and the copy handler copies once and refuses to copy a different source
over a deployed copy (botocore Stubber stands in for Secrets Manager: the AWS edge only)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from stacks.data.database import ClusterRestore
from stacks.restore import copy_handler
from tests.cdk_app import RESTORE_POINT_IN_TIME, RESTORE_SNAPSHOT, only, resources, synthesized

KINDS = {"snapshot": RESTORE_SNAPSHOT, "point-in-time": RESTORE_POINT_IN_TIME}


def data_template(kind: str) -> dict[str, Any]:
    return synthesized(**KINDS[kind]).templates()["letta-restored-data"]


def service_template(kind: str) -> dict[str, Any]:
    return synthesized(**KINDS[kind]).templates()["letta-restored-service"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_cluster_is_restored_under_the_new_environments_identifier(kind: str) -> None:
    cluster = only(data_template(kind), "AWS::RDS::DBCluster")["Properties"]
    assert cluster["DBClusterIdentifier"] == "letta-restored"
    if kind == "snapshot":
        assert cluster["SnapshotIdentifier"] == "rds:letta-prod-2026-12-01-03-00"
        assert not {"SourceDBClusterIdentifier", "RestoreToTime", "UseLatestRestorableTime"} & set(cluster)
    else:
        assert cluster["SourceDBClusterIdentifier"] == "letta-dev" != cluster["DBClusterIdentifier"]
        assert (cluster["RestoreToTime"], cluster["RestoreType"]) == ("2026-01-15T09:30:00Z", "full-copy")
    # The source's: CloudFormation's restore refuses them; the master password is managed anew by RDS.
    assert not {"MasterUsername", "MasterUserPassword", "DatabaseName", "StorageEncrypted"} & set(cluster)
    assert cluster["ManageMasterUserPassword"] is True
    # Serverless v2 with the profile's settings, in this environment's own VPC.
    assert "MinCapacity" in cluster["ServerlessV2ScalingConfiguration"]
    assert cluster["DBSubnetGroupName"] == {
        "Ref": next(iter(resources(data_template(kind), "AWS::RDS::DBSubnetGroup")))
    }
    writer = next(iter(resources(data_template(kind), "AWS::RDS::DBInstance").values()))["Properties"]
    assert writer["DBInstanceClass"] == "db.serverless"


@pytest.mark.parametrize("kind", KINDS)
def test_no_encryption_key_is_generated_the_sources_is_copied_once(kind: str) -> None:
    template = data_template(kind)
    secrets = resources(template, "AWS::SecretsManager::Secret")
    generated = {k for k, v in secrets.items() if "GenerateSecretString" in v["Properties"]}
    assert not any("EncryptionKey" in k for k in generated), generated
    (key_id,) = [k for k in secrets if k.startswith("SecretsEncryptionKeyCopy")]
    # A placeholder until the copy, never a value: the value travels only through the custom resource.
    assert "pending" in secrets[key_id]["Properties"]["SecretString"]
    copies = only(template, "Custom::RestoredSecrets")
    entries = {c["Name"]: c for c in copies["Properties"]["Copies"]}
    assert entries["encryption_key"]["Source"] == KINDS[kind]["restore_encryption_key_arn"]
    assert entries["encryption_key"]["Target"] == {"Ref": key_id}
    # It runs once the restored cluster exists (adding restore keys to a live environment fails there first).
    cluster_id = next(iter(resources(template, "AWS::RDS::DBCluster")))
    assert cluster_id in copies["DependsOn"]
    # The tasks read the copy: LETTA_ENCRYPTION_KEY comes from the secret whose ARN the data stack exports.
    task = only(service_template(kind), "AWS::ECS::TaskDefinition")
    (secret,) = [
        s for s in task["Properties"]["ContainerDefinitions"][0]["Secrets"] if s["Name"] == "LETTA_ENCRYPTION_KEY"
    ]
    assert "SecretsEncryptionKeyCopy" in json.dumps(secret["ValueFrom"])
    # The handler may read the sources and write the copies, nothing else.
    policies = [
        p for k, p in resources(template, "AWS::IAM::Policy").items() if k.startswith("RestoredSecretsHandlerRole")
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    reads = next(s for s in statements if s["Action"] == "secretsmanager:GetSecretValue")
    expected = sorted(c["Source"] for c in entries.values())
    assert sorted([reads["Resource"]] if isinstance(reads["Resource"], str) else reads["Resource"]) == expected


def test_the_snapshot_restore_copies_every_secret_and_a_point_in_time_only_what_is_named() -> None:
    snapshot = resources(data_template("snapshot"), "AWS::SecretsManager::Secret")
    assert {k.split("Copy")[0] for k in snapshot if "Copy" in k} == {
        "SecretsServerPassword",
        "SecretsEncryptionKey",
        "SecretsLlmKeys",
    }
    point = resources(data_template("point-in-time"), "AWS::SecretsManager::Secret")
    # No source named for the password and the LLM keys: this environment generates / holds its own.
    assert any(k.startswith("SecretsServerPassword") and "Copy" not in k for k in point)
    outputs = data_template("point-in-time")["Outputs"]
    assert outputs["RestoredFrom"]["Value"] == "letta-dev at 2026-01-15T09:30:00Z"


def test_a_new_environment_has_no_restore_and_outputs_its_encryption_key_arn() -> None:
    template = synthesized(env="dev").templates()["letta-dev-data"]
    cluster = only(template, "AWS::RDS::DBCluster")["Properties"]
    assert not {"SnapshotIdentifier", "SourceDBClusterIdentifier"} & set(cluster)
    assert not resources(template, "Custom::RestoredSecrets")
    assert "EncryptionKeySecretArn" in template["Outputs"]


def test_cluster_restore_takes_exactly_one_source() -> None:
    assert ClusterRestore(source_cluster="letta-prod", time="latest").cluster_properties() == {
        "SourceDBClusterIdentifier": "letta-prod",
        "RestoreType": "full-copy",
        "UseLatestRestorableTime": True,
    }
    for bad in ({}, {"snapshot": "s", "source_cluster": "c", "time": "latest"}, {"source_cluster": "c"}):
        with pytest.raises(ValueError, match="a snapshot, or a source_cluster with a time"):
            ClusterRestore(**bad)


# --- The copy handler, against botocore's Stubber (the Secrets Manager edge) ----------------------------------

SOURCE = "arn:aws:secretsmanager:us-east-1:123456789012:secret:SourceKey-AbC123"
OTHER = "arn:aws:secretsmanager:us-east-1:123456789012:secret:OtherKey-DeF456"
TARGET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:SecretsEncryptionKeyCopy-GhI789"
VALUE = '{"key": "not-a-real-key-0123456789"}'


def event(request: str, source: str = SOURCE, old_source: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "RequestType": request,
        "ResourceProperties": {"Copies": [{"Name": "encryption_key", "Source": source, "Target": TARGET}]},
    }
    if old_source:
        body["OldResourceProperties"] = {"Copies": [{"Name": "encryption_key", "Source": old_source, "Target": TARGET}]}
    if request != "Create":
        body["PhysicalResourceId"] = "restored-secrets-x"
    return body


def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def test_stubbed_create_copies_the_sources_value_into_the_target() -> None:
    client, stub = stubbed()
    stub.add_response("get_secret_value", {"SecretString": VALUE, "ARN": SOURCE}, {"SecretId": SOURCE})
    stub.add_response("put_secret_value", {"ARN": TARGET}, {"SecretId": TARGET, "SecretString": VALUE})
    with stub:
        answer = copy_handler.on_event(event("Create"), None, client=client)
    stub.assert_no_pending_responses()
    assert answer["PhysicalResourceId"].startswith("restored-secrets-")
    assert VALUE not in json.dumps(answer)


def test_stubbed_update_with_another_source_is_refused_and_copies_nothing() -> None:
    client, stub = stubbed()
    with stub, pytest.raises(copy_handler.CopyError) as refused:
        copy_handler.on_event(event("Update", source=OTHER, old_source=SOURCE), None, client=client)
    assert "was copied from" in str(refused.value) and SOURCE in str(refused.value)
    assert "Put the restore key back" in str(refused.value)


def test_stubbed_update_with_the_same_source_and_delete_touch_nothing() -> None:
    client, stub = stubbed()
    with stub:  # no response queued: any call would raise
        copy_handler.on_event(event("Update", old_source=SOURCE), None, client=client)
        assert copy_handler.on_event(event("Delete"), None, client=client)["PhysicalResourceId"] == "restored-secrets-x"


def test_stubbed_a_missing_source_fails_with_its_arn_and_no_value() -> None:
    client, stub = stubbed()
    stub.add_client_error(
        "get_secret_value", "ResourceNotFoundException", "Secrets Manager can't find the specified secret."
    )
    with stub, pytest.raises(copy_handler.CopyError) as failed:
        copy_handler.on_event(event("Create"), None, client=client)
    assert str(failed.value).startswith(f"reading encryption_key from {SOURCE} failed: ResourceNotFoundException")
