"""The bootstrap and the service constructs on their own, each in a bare Stack with the fewest neighbours they
need: what they promise through their props, without the rest of the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, assertions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager

from stacks.data.load_balancer import ApiLoadBalancer
from stacks.pgvector.construct import PgvectorBootstrap
from stacks.service.letta_service import LettaService
from tests.cdk_app import only, resources

pytestmark = pytest.mark.synth


def bare_cluster(stack: cdk.Stack) -> rds.DatabaseCluster:
    """The least cluster the bootstrap can stand on: one Serverless v2 writer in an isolated subnet."""
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    return rds.DatabaseCluster(
        stack,
        "Cluster",
        engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_9),
        writer=rds.ClusterInstance.serverless_v2("Writer"),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    )


def bootstrap_template(tmp_path: Path, *, app_role: str = "letta_app", generation: int = 1) -> dict[str, Any]:
    stack = cdk.Stack(cdk.App(), "Bare")
    cluster = bare_cluster(stack)
    (tmp_path / "001_only.sql").write_text("SELECT 1;")
    bootstrap = PgvectorBootstrap(
        stack,
        "Bootstrap",
        cluster=cluster,
        writer=cluster.node.find_child("Writer"),
        master_secret=cluster.secret,
        database_name="letta",
        app_role=app_role,
        app_password_generation=generation,
        log_retention=logs.RetentionDays.ONE_WEEK,
        sql_dir=tmp_path,
    )
    bootstrap.run.create(stack, "Run")
    template = assertions.Template.from_stack(stack).to_json()
    template["revision"] = bootstrap.connection_revision
    return template


def test_bootstrap_carries_its_inputs_and_waits_for_the_writer(tmp_path: Path) -> None:
    template = bootstrap_template(tmp_path)
    resource_id, resource = next(iter(resources(template, "Custom::PgvectorBootstrap").items()))
    props = resource["Properties"]
    assert props["SqlFiles"] == [{"name": "001_only.sql", "sql": "SELECT 1;"}]
    assert (props["AppRole"], props["Database"]) == ("letta_app", "letta")
    assert json.loads(props["AppSecretGenerator"]) == {"generation": "1", "username": "letta_app"}
    writer = next(iter(resources(template, "AWS::RDS::DBInstance")))
    assert props["WriterInstance"] == {"Ref": writer}
    # A stuck bootstrap fails the stack in minutes, and its Lambda stays out of the VPC.
    assert props["ServiceTimeout"] == "840"
    for function in resources(template, "AWS::Lambda::Function").values():
        assert "VpcConfig" not in function["Properties"]
    assert resource_id


def test_bootstrap_revision_follows_what_the_uri_is_made_of(tmp_path: Path) -> None:
    first = bootstrap_template(tmp_path)["revision"]
    assert bootstrap_template(tmp_path)["revision"] == first
    assert bootstrap_template(tmp_path, app_role="letta_other")["revision"] != first
    assert bootstrap_template(tmp_path, generation=2)["revision"] != first


def test_bootstrap_refuses_an_empty_sql_directory(tmp_path: Path) -> None:
    stack = cdk.Stack(cdk.App(), "Bare")
    cluster = bare_cluster(stack)
    with pytest.raises(ValueError, match=r"no \*\.sql files"):
        PgvectorBootstrap(
            stack,
            "Bootstrap",
            cluster=cluster,
            writer=cluster.node.find_child("Writer"),
            master_secret=cluster.secret,
            database_name="letta",
            app_role="letta_app",
            log_retention=logs.RetentionDays.ONE_WEEK,
            sql_dir=tmp_path,
        )


def service_template(**overrides: Any) -> dict[str, Any]:
    stack = cdk.Stack(cdk.App(), "Bare")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    secret = secretsmanager.Secret(stack, "Secret")
    api = ApiLoadBalancer(stack, "Api", vpc=vpc, allowed_cidrs=["203.0.113.7/32"], tls=False, deletion_protection=False)
    props: dict[str, Any] = {
        "vpc": vpc,
        "cluster_name": "letta-bare",
        "app_security_group": ec2.SecurityGroup(stack, "App", vpc=vpc),
        "task_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        "assign_public_ip": True,
        "image": ecs.ContainerImage.from_registry("example.com/letta:1"),
        "cpu": 1024,
        "memory_mib": 2048,
        "cpu_architecture": "arm64",
        "connection_secret": secret,
        "connection_revision": "rev-1",
        "server_password_secret": secret,
        "encryption_key_secret": secret,
        "llm_secret": secret,
        "llm_secret_keys": {"OPENAI_API_KEY": "OPENAI_API_KEY"},
        "load_balancer": api.load_balancer,
        "load_balancer_security_group": api.security_group,
        "certificate_arn": None,
        "min_tasks": 1,
        "max_tasks": 1,
        "deregistration_delay": Duration.seconds(5),
        "enable_ecs_exec": False,
        "log_retention": logs.RetentionDays.ONE_WEEK,
        "warn_without_tls": False,
        **overrides,
    }
    LettaService(stack, "Letta", **props)
    return assertions.Template.from_stack(stack).to_json()


def test_service_runs_the_supervisor_with_the_secrets_it_was_given() -> None:
    template = service_template()
    (container,) = only(template, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"]
    names = sorted(s["Name"] for s in container["Secrets"])
    assert names == ["LETTA_ENCRYPTION_KEY", "LETTA_LLM_KEYS", "LETTA_PG_URI", "LETTA_SERVER_PASSWORD"]
    # The masked names are the task's own secret names, passed after the start script.
    assert container["Command"][-len(names) :] == names
    assert container["DockerLabels"] == {"letta-aurora.connection-revision": "rev-1"}
    service = only(template, "AWS::ECS::Service")["Properties"]
    assert "DesiredCount" not in service


def test_service_admits_only_the_listed_clients_and_a_new_revision_is_a_new_task_definition() -> None:
    template = service_template()
    groups = resources(template, "AWS::EC2::SecurityGroup").values()
    ingress = [rule for group in groups for rule in group["Properties"].get("SecurityGroupIngress", [])]
    assert {rule.get("CidrIp") for rule in ingress} == {"203.0.113.7/32"}
    first = only(template, "AWS::ECS::TaskDefinition")
    second = only(service_template(connection_revision="rev-2"), "AWS::ECS::TaskDefinition")
    assert first != second
