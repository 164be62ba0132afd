"""What synth puts into the task definition for verified TLS to Aurora: PGSSLMODE=verify-full and the RDS roots of the
stack's region (chosen by common name from stacks/service/rds_ca/), within ECS's 64 KiB for a task definition; without
a region at synth, the deploying region's roots through Fn::FindInMap; nothing with db_tls_verify=false."""

from __future__ import annotations

import json
from typing import Any

from cryptography import x509

from stacks.service.db_tls import region_roots
from stacks.service.supervisor import DB_CA_VAR, SSL_MODE_VAR
from tests.cdk_app import synthesized

TASK_DEFINITION_LIMIT = 64 * 1024  # bytes: ECS RegisterTaskDefinition refuses a larger task definition


def task_definition(template: dict[str, Any]) -> dict[str, Any]:
    (task,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    return task["Properties"]


def environment(template: dict[str, Any]) -> dict[str, Any]:
    (container,) = task_definition(template)["ContainerDefinitions"]
    return {e["Name"]: e["Value"] for e in container["Environment"]}


def test_a_region_at_synth_puts_that_regions_three_roots_into_the_task_definition() -> None:
    template = synthesized(region="eu-west-1").templates()["letta-dev-service"]
    env = environment(template)
    assert env[SSL_MODE_VAR] == "verify-full"
    assert env[DB_CA_VAR] == region_roots("eu-west-1")
    names = [
        c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        for c in x509.load_pem_x509_certificates(env[DB_CA_VAR].encode())
    ]
    assert sorted(names) == [f"Amazon RDS eu-west-1 Root CA {k} G1" for k in ("ECC384", "RSA2048", "RSA4096")]
    assert "Mappings" not in template
    size = len(json.dumps(task_definition(template)).encode())
    print(f"task definition with eu-west-1's roots: {size} bytes of {TASK_DEFINITION_LIMIT}")
    assert size < TASK_DEFINITION_LIMIT - 16 * 1024  # room left for what an operator adds


def test_without_a_region_the_template_maps_every_admitted_region_and_the_task_takes_its_own() -> None:
    template = synthesized().templates()["letta-dev-service"]
    env = environment(template)
    assert env[SSL_MODE_VAR] == "verify-full"
    (name,) = template["Mappings"]
    assert env[DB_CA_VAR] == {"Fn::FindInMap": [name, {"Ref": "AWS::Region"}, "pem"]}
    mapping = template["Mappings"][name]
    assert len(mapping) == 25 and "ap-east-2" not in mapping and "cn-north-1" not in mapping
    assert all(entry == {"pem": region_roots(region)} for region, entry in mapping.items())
    # The task definition CloudFormation registers holds one region's roots: the largest must fit.
    largest = max(len(entry["pem"]) for entry in mapping.values())
    without = dict(task_definition(template))
    size = len(json.dumps(without).encode()) + largest
    print(f"task definition with the largest region's roots: {size} bytes; template {len(json.dumps(template))} bytes")
    assert size < TASK_DEFINITION_LIMIT - 16 * 1024
    assert len(json.dumps(template).encode()) < 1_000_000  # CloudFormation's limit for a template from S3


def test_db_tls_verify_false_leaves_both_variables_out() -> None:
    env = environment(synthesized(db_tls_verify=False).templates()["letta-dev-service"])
    assert SSL_MODE_VAR not in env and DB_CA_VAR not in env
