"""Cross-stack exports carry only values that stay the same for the life of their resource.

CloudFormation refuses to change or remove an export another stack imports ("Export … cannot be updated as
it is in use"), so an exported value that changes (a custom resource's attribute, an endpoint that follows a
replacement, a version) blocks every later update of the data stack. Every export of every variant is listed
with its source, and anything that is not a stable id, ARN or name fails.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.cdk_app import synthesized

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
VARIANTS = [
    {},
    {"profile": "prod", "certificate_arn": CERTIFICATE, "alarm_email": "ops@example.com", "enable_ecs_exec": True},
    {"nat_gateways": 1, "llm_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-AbCdEf"},
]
# GetAtt attributes that name a resource for its whole life (a replacement makes a new resource anyway).
STABLE_ATTRIBUTES = {
    ("AWS::EC2::SecurityGroup", "GroupId"),
    ("AWS::ECR::Repository", "Arn"),
    ("AWS::RDS::DBCluster", "DBClusterArn"),
    ("AWS::SecretsManager::Secret", "Id"),
    # The primary endpoint of a cluster-mode-disabled replication group is named after the group and kept for its
    # life (node type changes, engine upgrades and failovers leave it in place).
    ("AWS::ElastiCache::ReplicationGroup", "PrimaryEndPoint.Address"),
    # The bootstrap's run in the service stack: the Provider's function, the cluster's endpoint and the master
    # secret RDS manages for the cluster's life (only turning ManageMasterUserPassword off would change it, and no
    # config key does).
    ("AWS::Lambda::Function", "Arn"),
    # Enhanced monitoring's role, which the reader stack's instances name: an IAM role's ARN is fixed for its life.
    ("AWS::IAM::Role", "Arn"),
    ("AWS::RDS::DBCluster", "Endpoint.Address"),
    ("AWS::RDS::DBCluster", "Endpoint.Port"),
    ("AWS::RDS::DBCluster", "MasterUserSecret.SecretArn"),
    # A load balancer's DNS name and its zone are fixed for its life (only a new load balancer has new ones).
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "DNSName"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "CanonicalHostedZoneID"),
}


def export_sources(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(export name, source resource type, how it is read: "Ref" or the GetAtt attribute) for every export."""
    resources = template["Resources"]
    found = []
    for output in template.get("Outputs", {}).values():
        if "Export" not in output:
            continue
        value = output["Value"]
        assert isinstance(value, dict) and len(value) == 1, f"{output['Export']['Name']} is not one reference: {value}"
        if "Ref" in value:
            found.append((output["Export"]["Name"], resources[value["Ref"]]["Type"], "Ref"))
        elif "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            found.append((output["Export"]["Name"], resources[logical_id]["Type"], attribute))
        else:
            pytest.fail(f"{output['Export']['Name']} exports a computed value: {value}")
    return found


@pytest.mark.parametrize("overrides", VARIANTS, ids=["dev", "prod", "dev-nat-existing-llm-secret"])
def test_every_export_is_a_stable_reference(overrides: dict[str, Any]) -> None:
    templates = synthesized(**overrides).templates()
    sources = [s for t in templates.values() for s in export_sources(t)]
    assert sources, "the service stack imports from the data stack, so there are exports"
    for name, resource_type, read in sources:
        assert not resource_type.startswith("Custom::"), f"{name}: a custom resource's attribute changes"
        assert read == "Ref" or (resource_type, read) in STABLE_ATTRIBUTES, f"{name}: {resource_type}.{read}"
    # Only the data stack exports; the service stack exports nothing anybody could depend on.
    assert not export_sources(templates["letta-dev-service"])


def test_the_pgvector_version_is_an_output_not_an_export() -> None:
    # The service stack runs the bootstrap and reports the version; nothing imports it.
    outputs = synthesized().template("Service").to_json()["Outputs"]
    assert "Export" not in outputs["PgvectorVersion"]
    data = synthesized().template("Data").to_json()
    assert "PgvectorVersion" not in str(data)
