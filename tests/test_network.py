"""docs/network.md's network in the templates: the created VPC's range, an existing VPC by ids (no VPC, NAT or flow
log of ours, the same security-group rules, each tier where it belongs), and the task endpoints option."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from typing import Any

from tests.cdk_app import CERTIFICATE, DOMAIN, EXISTING_VPC, EXISTING_VPC_NO_NAT, ROOT, only, resources, synthesized

DATA, SERVICE = "letta-dev-data", "letta-dev-service"
CREATED: dict[str, Any] = {"profile": "prod", "certificate_arn": CERTIFICATE}
EXISTING: dict[str, Any] = {**CREATED, **EXISTING_VPC}
NETWORK_TYPES = {
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::NatGateway",
    "AWS::EC2::EIP",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::RouteTable",
    "AWS::EC2::Route",
    "AWS::EC2::FlowLog",
}


def ids(value: str) -> list[str]:
    return value.split(",")


def templates(**overrides: Any) -> dict[str, dict[str, Any]]:
    return synthesized(**overrides).templates()


def test_an_existing_vpc_gets_no_vpc_nat_or_flow_log_of_ours() -> None:
    for template in templates(**EXISTING).values():
        kinds = {r["Type"] for r in template["Resources"].values()}
        assert not kinds & NETWORK_TYPES
    assert {r["Type"] for r in templates(**CREATED)[DATA]["Resources"].values()} >= NETWORK_TYPES


def _rules(template: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every security-group rule, inline or standalone, without the VPC it is in."""
    found = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            found.append(("group", props.get("GroupDescription")))
            for direction in ("SecurityGroupIngress", "SecurityGroupEgress"):
                found += [(direction, str(sorted(rule.items()))) for rule in props.get(direction, [])]
        elif resource["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            found.append((resource["Type"], str(sorted(props.items()))))
    return sorted(found)


def test_an_existing_vpc_keeps_every_security_group_rule() -> None:
    created, existing = templates(**CREATED), templates(**EXISTING)
    for stack in (DATA, SERVICE):
        assert _rules(existing[stack]) == _rules(created[stack]), stack
    (database_group,) = [
        r
        for r in resources(existing[DATA], "AWS::EC2::SecurityGroup").values()
        if r["Properties"]["GroupDescription"].startswith("Aurora PostgreSQL")
    ]
    assert database_group["Properties"]["VpcId"] == EXISTING_VPC["vpc_id"]


def test_each_tier_lands_in_its_subnets() -> None:
    data, service = templates(**EXISTING)[DATA], templates(**EXISTING)[SERVICE]
    (subnet_group,) = resources(data, "AWS::RDS::DBSubnetGroup").values()
    assert subnet_group["Properties"]["SubnetIds"] == ids(EXISTING_VPC["vpc_database_subnet_ids"])
    (cache_group,) = resources(data, "AWS::ElastiCache::SubnetGroup").values()
    assert cache_group["Properties"]["SubnetIds"] == ids(EXISTING_VPC["vpc_database_subnet_ids"])
    (balancer,) = resources(data, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert balancer["Properties"]["Subnets"] == ids(EXISTING_VPC["vpc_public_subnet_ids"])
    (ecs_service,) = resources(service, "AWS::ECS::Service").values()
    network = ecs_service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["Subnets"] == ids(EXISTING_VPC["vpc_private_subnet_ids"])
    assert network["AssignPublicIp"] == "DISABLED"
    # The reader (in the reader stack) goes to the second zone the operator named.
    reader_stack = next(t for name, t in templates(**EXISTING).items() if name.endswith("-reader"))
    readers = [r for r in resources(reader_stack, "AWS::RDS::DBInstance").values()]
    assert [r["Properties"]["AvailabilityZone"] for r in readers] == ["us-east-1b"]


def test_without_private_subnets_the_tasks_use_the_public_ones_with_a_public_ip() -> None:
    service = templates(**{**EXISTING_VPC, "vpc_private_subnet_ids": ""})[SERVICE]
    (ecs_service,) = resources(service, "AWS::ECS::Service").values()
    network = ecs_service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["Subnets"] == ids(EXISTING_VPC["vpc_public_subnet_ids"])
    assert network["AssignPublicIp"] == "ENABLED"


def test_endpoints_serve_the_task_subnets_from_the_tasks_only() -> None:
    data = templates(**EXISTING_VPC_NO_NAT)[DATA]
    endpoints = resources(data, "AWS::EC2::VPCEndpoint").values()
    interface = sorted(str(e["Properties"]["ServiceName"]) for e in endpoints if e["Properties"].get("SubnetIds"))
    assert len(interface) == 4
    for service in ("ecr.api", "ecr.dkr", "logs", "secretsmanager"):
        assert any(service in name for name in interface), service
    (gateway,) = [e["Properties"] for e in endpoints if e["Properties"].get("VpcEndpointType") == "Gateway"]
    assert gateway["RouteTableIds"] == ids(EXISTING_VPC_NO_NAT["vpc_private_route_table_ids"])
    (group_id,) = [
        k
        for k, g in resources(data, "AWS::EC2::SecurityGroup").items()
        if g["Properties"]["GroupDescription"].startswith("Interface endpoints")
    ]
    rules = [r["Properties"] for r in resources(data, "AWS::EC2::SecurityGroupIngress").values()]
    (rule,) = [r for r in rules if r["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}]
    assert rule["FromPort"] == rule["ToPort"] == 443 and "SourceSecurityGroupId" in rule


def test_the_created_vpc_takes_vpc_cidr_and_its_subnets_fit() -> None:
    data = templates(vpc_cidr="172.20.16.0/20", nat_gateways=1)[DATA]
    (vpc,) = resources(data, "AWS::EC2::VPC").values()
    assert vpc["Properties"]["CidrBlock"] == "172.20.16.0/20"
    network = ipaddress.ip_network("172.20.16.0/20")
    subnets = [ipaddress.ip_network(s["Properties"]["CidrBlock"]) for s in resources(data, "AWS::EC2::Subnet").values()]
    assert len(subnets) == 6 and all(s.subnet_of(network) for s in subnets)


# --- Your domain, and the browser origins -------------------------------------------------------------------


def _listeners(service: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {
        r["Properties"]["Port"]: r["Properties"]
        for r in resources(service, "AWS::ElasticLoadBalancingV2::Listener").values()
    }


def test_a_domain_gets_a_dns_validated_certificate_https_a_redirect_and_an_alias() -> None:
    service = templates(**DOMAIN)[SERVICE]
    certificate = only(service, "AWS::CertificateManager::Certificate")["Properties"]
    assert certificate["DomainName"] == "letta.example.com"
    assert certificate["ValidationMethod"] == "DNS"
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": "letta.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"}
    ]
    listeners = _listeners(service)
    assert listeners[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners[443]["Certificates"] == [
        {"CertificateArn": {"Ref": next(iter(resources(service, "AWS::CertificateManager::Certificate")))}}
    ]
    (redirect,) = listeners[80]["DefaultActions"]
    assert redirect["RedirectConfig"] == {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}
    record = only(service, "AWS::Route53::RecordSet")["Properties"]
    assert (record["Name"], record["Type"], record["HostedZoneId"]) == (
        "letta.example.com.",
        "A",
        "Z0123456789ABCDEFGHIJ",
    )
    assert "AliasTarget" in record
    assert service["Outputs"]["ApiUrl"]["Value"] == "https://letta.example.com"


def test_a_brought_certificate_with_a_domain_makes_no_new_certificate() -> None:
    service = templates(**{**DOMAIN, "certificate_arn": CERTIFICATE})[SERVICE]
    assert not resources(service, "AWS::CertificateManager::Certificate")
    assert _listeners(service)[443]["Certificates"] == [{"CertificateArn": CERTIFICATE}]
    assert service["Outputs"]["ApiUrl"]["Value"] == "https://letta.example.com"


def test_browser_origins_reach_letta_as_acceptable_origins() -> None:
    service = templates(**DOMAIN)[SERVICE]
    (container,) = only(service, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["ACCEPTABLE_ORIGINS"] == "https://ade.example.com,http://localhost:5173"
    (container,) = only(templates(profile="dev")[SERVICE], "AWS::ECS::TaskDefinition")["Properties"][
        "ContainerDefinitions"
    ]
    assert "ACCEPTABLE_ORIGINS" not in {e["Name"] for e in container["Environment"]}


# --- docs/network.md's command lines: each deploy line's context builds what the page promises ------------------
# (The lines themselves run with the pinned CLI in tests/test_user_commands.py, the aws lines in tests/test_docs.py.)
PAGE = (ROOT / "docs" / "network.md").read_text()
LINES = [
    " ".join(part.strip() for part in block.replace("\\\n", " ").splitlines() if part.strip())
    for block in re.findall(r"```bash\n(.*?)```", PAGE, flags=re.DOTALL)
]
SYNTHS = [line for line in LINES if line.startswith("npx cdk deploy --all")]


def _context(line: str) -> dict[str, str]:
    words = shlex.split(line)
    return dict(words[i + 1].split("=", 1) for i, word in enumerate(words) if word == "-c")


def test_the_page_shows_an_existing_vpc_without_nat_and_a_domain_with_origins() -> None:
    assert len(SYNTHS) == 2
    vpc, domain = (synthesized(**_context(line)).templates() for line in SYNTHS)
    assert not resources(vpc[DATA], "AWS::EC2::VPC")
    assert len(resources(vpc[DATA], "AWS::EC2::VPCEndpoint")) == 5
    assert resources(domain[SERVICE], "AWS::CertificateManager::Certificate")
    assert "ACCEPTABLE_ORIGINS" in json.dumps(domain[SERVICE])
    for needle in ("dig +short NS", "ServerPasswordSecretArn", "app.letta.com", "nltk", "$58/month"):
        assert needle in PAGE
