"""Production alarms: the service, the load balancer and Aurora, to an SNS topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.nag import acknowledge

_AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
# A reader more than this far behind the writer is not a failover target that loses nothing recent.
READER_LAG_MS = 1000


class ServiceAlarms(Construct):
    """Unhealthy targets, the targets' 5xx, the load balancer's 5xx and its own 502s, task CPU, Aurora ACU
    utilisation and connections, and with `readers` the reader's replica lag, capacity and presence, all to
    `topic` (with an email subscription when `email` is given).

    `connection_limit` is Aurora's max_connections for the capacity range (stacks/aws_rules.py, the one
    definition); the connection alarm fires at 80% of it."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service: ecs.FargateService,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        cluster: rds.IDatabaseCluster,
        connection_limit: int,
        readers: int,
        reader_always_on: bool,
        email: str | None,
    ) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "Topic", display_name="Letta alarms", enforce_ssl=True)
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "Alarm notifications carry no data beyond metric names; CloudWatch cannot publish to a topic "
            "encrypted with the AWS-managed SNS key, and a customer key would cost more than the topic.",
            checkov=["CKV_AWS_26"],
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        five_minutes = Duration.minutes(5)
        specs = [
            ("UnhealthyTargets", target_group.metrics.unhealthy_host_count(period=Duration.minutes(1)), 1, 3),
            (
                "Target5xx",
                target_group.metrics.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=five_minutes),
                10,
                1,
            ),
            (
                "LoadBalancer5xx",
                load_balancer.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=five_minutes),
                10,
                1,
            ),
            (
                # The ALB's own 502s: a target that closed a connection the ALB reused (a keep-alive shorter than the
                # idle timeout, see letta_contract.KEEP_ALIVE_SECONDS) or a task that died mid-request. They come one
                # at a time; a few within 5 minutes is a pattern, not a blip.
                "LoadBalancer502",
                load_balancer.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_502_COUNT, period=five_minutes),
                3,
                1,
            ),
            ("TaskCpu", service.metric_cpu_utilization(period=five_minutes), 85, 3),
            ("AuroraAcuUtilization", cluster.metric("ACUUtilization", period=five_minutes), 90, 3),
            (
                "AuroraConnections",
                # The writer's own count, at its peak: max_connections is per instance, Letta reaches only the writer
                # (the cluster endpoint), and a cluster-wide average would halve the count once a reader exists.
                _by_role(cluster, "DatabaseConnections", "Maximum", five_minutes, role="WRITER"),
                int(connection_limit * 0.8),
                2,
            ),
        ]
        if readers:
            specs += [
                # Aurora's metrics by role, as AWS advises for alarms because instances change roles
                # (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/creating_alarms.html): no instance id
                # crosses the stacks, and after a failover the alarms follow whichever instance is the reader now.
                ("AuroraReaderLag", _by_role(cluster, "AuroraReplicaLag", "Maximum", five_minutes), READER_LAG_MS, 3),
                ("AuroraReaderAcuUtilization", _by_role(cluster, "ACUUtilization", "Average", five_minutes), 90, 3),
            ]
        self.alarms: list[cloudwatch.Alarm] = []
        self.by_name: dict[str, cloudwatch.Alarm] = {}
        for name, metric, threshold, periods in specs:
            self._alarm(name, metric, threshold, periods, _AT_LEAST)
        if readers and reader_always_on:
            # No reader capacity reported at all: the failover target is gone (deleted, failed, still promoting).
            # Only without auto-pause, where a paused cluster would report nothing either.
            self._alarm(
                "AuroraReaderMissing",
                _by_role(cluster, "ServerlessDatabaseCapacity", "SampleCount", five_minutes),
                1,
                3,
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
            )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.Metric,
        threshold: float,
        periods: int,
        comparison: cloudwatch.ComparisonOperator,
        *,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        alarm = metric.create_alarm(
            self,
            name,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        self.by_name[name] = alarm


def _by_role(
    cluster: rds.IDatabaseCluster, name: str, statistic: str, period: Duration, *, role: str = "READER"
) -> cloudwatch.Metric:
    """An AWS/RDS metric of the cluster's instances in `role` (dimensions DBClusterIdentifier and Role)."""
    return cloudwatch.Metric(
        namespace="AWS/RDS",
        metric_name=name,
        dimensions_map={"DBClusterIdentifier": cluster.cluster_identifier, "Role": role},
        statistic=statistic,
        period=period,
    )
