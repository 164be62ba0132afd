"""One CloudWatch dashboard per environment: what an operator looks at first, on one page."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from constructs import Construct

_PERIOD = Duration.minutes(1)
_AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


class ServiceDashboard(Construct):
    """The environment's dashboard: the load balancer's requests, latency percentiles and 5xx (with the alarms on
    the targets' 5xx and the load balancer's own 502s), healthy targets and running tasks, task CPU and memory,
    Aurora's capacity per role against `max_acu` and the writer's connections against `connection_limit`, the
    shared Redis's memory and connections (with `redis_replication_group_id`), and the bootstrap Lambda's errors.

    `alarms` are the environment's alarms on the targets' 5xx and the load balancer's 502s (prod's, with actions);
    without them (dev) the dashboard creates the two itself, with no action: they cost $0.10 a month each.
    Exposes `dashboard` and `url`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service: ecs.FargateService,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        cluster: rds.IDatabaseCluster,
        max_acu: float,
        connection_limit: int,
        readers: int,
        bootstrap_function_name: str,
        redis_replication_group_id: str | None,
        alarms: Sequence[cloudwatch.IAlarm] = (),
    ) -> None:
        super().__init__(scope, id)
        tg, lb = target_group.metrics, load_balancer.metrics
        target_5xx = tg.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=_PERIOD, label="targets' 5xx")
        lb_5xx = lb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=_PERIOD, label="load balancer's 5xx")
        lb_502 = lb.http_code_elb(elbv2.HttpCodeElb.ELB_502_COUNT, period=_PERIOD, label="load balancer's 502")
        if not alarms:
            five = Duration.minutes(5)
            alarms = [
                tg.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=five).create_alarm(
                    self, "Target5xx", threshold=10, evaluation_periods=1, comparison_operator=_AT_LEAST
                ),
                lb.http_code_elb(elbv2.HttpCodeElb.ELB_502_COUNT, period=five).create_alarm(
                    self, "LoadBalancer502", threshold=3, evaluation_periods=1, comparison_operator=_AT_LEAST
                ),
            ]
        ecs_dims = {"ClusterName": service.cluster.cluster_name, "ServiceName": service.service_name}
        roles = ["WRITER"] + (["READER"] if readers else [])
        widgets: list[list[cloudwatch.IWidget]] = [
            [
                _graph("Requests", [tg.request_count(period=_PERIOD, label="requests")]),
                _graph(
                    "Latency (target response time)",
                    [tg.target_response_time(period=_PERIOD, statistic=p, label=p) for p in ("p50", "p95", "p99")],
                ),
                _graph("5xx: targets, load balancer, its own 502s", [target_5xx, lb_5xx, lb_502]),
            ],
            [
                cloudwatch.AlarmStatusWidget(
                    title="Alarms: targets' 5xx, load balancer's 502s", alarms=list(alarms), width=8, height=6
                ),
                _graph(
                    "Healthy targets and running tasks",
                    [
                        tg.healthy_host_count(period=_PERIOD, statistic="Minimum", label="healthy targets"),
                        _metric("ECS/ContainerInsights", "RunningTaskCount", ecs_dims, "Average", "running tasks"),
                    ],
                ),
                _graph(
                    "Task CPU and memory (%)",
                    [
                        _metric("AWS/ECS", "CPUUtilization", ecs_dims, "Average", "CPU"),
                        _metric("AWS/ECS", "MemoryUtilization", ecs_dims, "Average", "memory"),
                    ],
                    max_y=100,
                ),
            ],
            [
                _graph(
                    "Aurora capacity (ACU) vs max_acu",
                    [_by_role(cluster, "ServerlessDatabaseCapacity", "Maximum", role) for role in roles],
                    line=("max_acu", max_acu),
                ),
                _graph(
                    "Aurora writer connections vs max_connections",
                    [_by_role(cluster, "DatabaseConnections", "Maximum", "WRITER")],
                    line=("max_connections", connection_limit),
                ),
                _graph(
                    "Bootstrap Lambda: errors and runs",
                    [
                        _metric("AWS/Lambda", "Errors", {"FunctionName": bootstrap_function_name}, "Sum", "errors"),
                        _metric("AWS/Lambda", "Invocations", {"FunctionName": bootstrap_function_name}, "Sum", "runs"),
                    ],
                ),
            ],
        ]
        if redis_replication_group_id:
            # A replication group without cluster mode names its one node <group id>-001; ElastiCache's host-level
            # and engine metrics are published per node (dimension CacheClusterId).
            node = {"CacheClusterId": Fn.join("", [redis_replication_group_id, "-001"])}
            widgets.append(
                [
                    _graph(
                        "Shared Redis: memory used (%)",
                        [_metric("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", node, "Maximum", "memory")],
                        max_y=100,
                    ),
                    _graph(
                        "Shared Redis: connections",
                        [_metric("AWS/ElastiCache", "CurrConnections", node, "Maximum", "connections")],
                    ),
                ]
            )
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", widgets=widgets)
        region = Stack.of(self).region
        self.url = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{self.dashboard.dashboard_name}"
        )


def _metric(
    namespace: str, name: str, dimensions: dict[str, str | None], statistic: str, label: str
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={k: v for k, v in dimensions.items() if v},
        statistic=statistic,
        period=_PERIOD,
        label=label,
    )


def _by_role(cluster: rds.IDatabaseCluster, name: str, statistic: str, role: str) -> cloudwatch.Metric:
    dimensions = {"DBClusterIdentifier": cluster.cluster_identifier, "Role": role}
    return _metric("AWS/RDS", name, dimensions, statistic, role.lower())


def _graph(
    title: str,
    metrics: Sequence[cloudwatch.IMetric],
    *,
    line: tuple[str, float] | None = None,
    max_y: float | None = None,
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=list(metrics),
        width=8,
        height=6,
        left_annotations=[cloudwatch.HorizontalAnnotation(value=line[1], label=line[0])] if line else None,
        left_y_axis=cloudwatch.YAxisProps(min=0, max=max_y),
    )
