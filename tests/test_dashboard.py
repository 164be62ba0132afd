"""The environment's CloudWatch dashboard: every widget the operator needs, each metric on a resource that exists in
the templates (no widget on a metric nothing emits), its URL an output, and docs/dashboard.png drawn from its body."""

from __future__ import annotations

import re
from typing import Any

import pytest

from scripts import dashboard_png
from scripts.synthesized import dashboard_body
from tests.cdk_app import profile_context, synthesized

# Which resource type a metric's dimension must name, by namespace and dimension. The ALB's metrics name the load
# balancer by its full name, which CDK derives from the listener's ARN (a listener belongs to one load balancer).
DIMENSION_TYPES = {
    ("AWS/ApplicationELB", "LoadBalancer"): {
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ElasticLoadBalancingV2::Listener",
    },
    ("AWS/ApplicationELB", "TargetGroup"): {"AWS::ElasticLoadBalancingV2::TargetGroup"},
    ("AWS/ECS", "ClusterName"): {"AWS::ECS::Cluster"},
    ("AWS/ECS", "ServiceName"): {"AWS::ECS::Service"},
    ("ECS/ContainerInsights", "ClusterName"): {"AWS::ECS::Cluster"},
    ("ECS/ContainerInsights", "ServiceName"): {"AWS::ECS::Service"},
    ("AWS/RDS", "DBClusterIdentifier"): {"AWS::RDS::DBCluster"},
    ("AWS/Lambda", "FunctionName"): {"AWS::Lambda::Function"},
    ("AWS/ElastiCache", "CacheClusterId"): {"AWS::ElastiCache::ReplicationGroup"},
}
# Metrics each namespace publishes for these resources (CloudWatch's metric lists for ALB, ECS and Container
# Insights, Aurora, Lambda, ElastiCache).
EMITTED = {
    "AWS/ApplicationELB": {
        "RequestCount",
        "TargetResponseTime",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
        "HTTPCode_ELB_502_Count",
        "HealthyHostCount",
    },
    "AWS/ECS": {"CPUUtilization", "MemoryUtilization"},
    "ECS/ContainerInsights": {"RunningTaskCount"},
    "AWS/RDS": {"ServerlessDatabaseCapacity", "DatabaseConnections"},
    "AWS/Lambda": {"Errors", "Invocations"},
    "AWS/ElastiCache": {"DatabaseMemoryUsagePercentage", "CurrConnections"},
}
_TOKEN = re.compile(r"@@(\d+)@@")


def environment(profile: str) -> tuple[dict[str, Any], dict[str, Any]]:
    data, service, _ = stacks_of(profile)
    return data, service


def stacks_of(profile: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    templates = synthesized(**profile_context(profile)).templates()
    (data,) = [t for name, t in templates.items() if name.endswith("-data")]
    (service,) = [t for name, t in templates.items() if name.endswith("-service")]
    (reader,) = [t for name, t in templates.items() if name.endswith("-reader")]
    return data, service, reader


def referenced(token: Any, data: dict[str, Any], service: dict[str, Any]) -> list[str]:
    """The resource types a token points at: a Ref or GetAtt in the service template, or an import of the data
    stack's export of one."""
    found: list[str] = []
    if isinstance(token, dict):
        if "Ref" in token and token["Ref"] in service["Resources"]:
            found.append(service["Resources"][token["Ref"]]["Type"])
        if "Fn::GetAtt" in token:
            found.append(service["Resources"][token["Fn::GetAtt"][0]]["Type"])
        if "Fn::ImportValue" in token:
            exports = {o["Export"]["Name"]: o["Value"] for o in data["Outputs"].values() if "Export" in o}
            value = exports[token["Fn::ImportValue"]]
            logical_id = value.get("Ref") or value["Fn::GetAtt"][0]
            found.append(data["Resources"][logical_id]["Type"])
        for key, value in token.items():
            if key not in ("Ref", "Fn::GetAtt", "Fn::ImportValue"):
                found += referenced(value, data, service)
    elif isinstance(token, list):
        for item in token:
            found += referenced(item, data, service)
    return found


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_widget_metric_names_a_resource_of_the_templates(profile: str) -> None:
    data, service, reader = stacks_of(profile)
    body, tokens = dashboard_body(service)
    # The readers live in the reader stack.
    readers = sum(1 for r in reader["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance")
    checked = 0
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            namespace, name, *rest = metric
            assert name in EMITTED[namespace], f"{namespace} {name}: nothing here emits it"
            dims = [d for d in rest if not isinstance(d, dict)]
            for key, value in zip(dims[::2], dims[1::2], strict=True):
                if key == "Role":
                    # A reader's metrics only where a reader exists.
                    assert value == "WRITER" or (value == "READER" and readers > 0), value
                    continue
                kinds = [t for n in _TOKEN.findall(value) for t in referenced(tokens[int(n)], data, service)]
                assert kinds and set(kinds) <= DIMENSION_TYPES[(namespace, key)], f"{namespace} {name} {key}: {kinds}"
                checked += 1
            if namespace == "ECS/ContainerInsights":
                # Container Insights publishes only for a cluster that has it on.
                (cluster,) = [r for r in service["Resources"].values() if r["Type"] == "AWS::ECS::Cluster"]
                settings = {s["Name"]: s["Value"] for s in cluster["Properties"]["ClusterSettings"]}
                assert settings["containerInsights"] in ("enabled", "enhanced")
    assert checked > 20
    for widget in body["widgets"]:
        for alarm in widget["properties"].get("alarms", []):
            (n,) = _TOKEN.findall(alarm)
            assert referenced(tokens[int(n)], data, service) == ["AWS::CloudWatch::Alarm"]


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_the_widgets_the_operator_needs(profile: str) -> None:
    _data, service = environment(profile)
    body, _ = dashboard_body(service)
    metrics = {(m[0], m[1]) for w in body["widgets"] for m in w["properties"].get("metrics", [])}
    expected = {("AWS/ApplicationELB", m) for m in EMITTED["AWS/ApplicationELB"]} | {
        ("AWS/RDS", "ServerlessDatabaseCapacity"),
        ("AWS/RDS", "DatabaseConnections"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
        ("AWS/ECS", "CPUUtilization"),
        ("AWS/ECS", "MemoryUtilization"),
        ("AWS/Lambda", "Errors"),
    }
    if profile == "prod":  # the shared Redis exists with more than one task
        expected |= {("AWS/ElastiCache", "DatabaseMemoryUsagePercentage"), ("AWS/ElastiCache", "CurrConnections")}
    assert expected <= metrics, expected - metrics
    stats = {m[-1].get("stat") for w in body["widgets"] for m in w["properties"].get("metrics", [])}
    assert {"p50", "p95", "p99"} <= stats
    # ACU against max_acu, connections against Aurora's max_connections for that range.
    lines = {
        a["label"]: a["value"]
        for w in body["widgets"]
        for a in w["properties"].get("annotations", {}).get("horizontal", [])
    }
    assert lines == (
        {"max_acu": 4, "max_connections": 823} if profile == "prod" else {"max_acu": 1, "max_connections": 189}
    )
    # The alarms on the targets' 5xx and the load balancer's 502s, in every environment.
    (alarms,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(alarms["properties"]["alarms"]) == 2
    metrics_of_alarms = {
        r["Properties"]["MetricName"] for r in service["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert {"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_502_Count"} <= metrics_of_alarms
    assert "#dashboards/dashboard/" in str(service["Outputs"]["DashboardUrl"]["Value"])


def test_the_picture_in_the_docs_is_drawn_from_the_dashboard_body() -> None:
    _data, service = environment("prod")
    body, _ = dashboard_body(service)
    title = "letta-prod: CloudWatch dashboard (layout drawn from the synthesized DashboardBody)"
    assert dashboard_png.draw(body, title) == dashboard_png.PNG.read_bytes(), "stale: run scripts/dashboard_png.py"


def test_the_docs_command_reads_an_output_the_service_stack_has() -> None:
    from tests.doc_pages import ROOT

    page = (ROOT / "docs" / "dashboard.md").read_text()
    (line,) = [raw for raw in page.splitlines() if raw.startswith("aws cloudformation describe-stacks")]
    templates = synthesized().templates()
    stack = re.search(r"--stack-name (\S+)", line).group(1)  # type: ignore[union-attr]
    output = re.search(r"OutputKey=='(\w+)'", line).group(1)  # type: ignore[union-attr]
    assert output in templates[stack]["Outputs"]
