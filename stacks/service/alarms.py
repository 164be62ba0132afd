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

# Aurora PostgreSQL sets max_connections to about memory / 9,531,392 bytes; one ACU is 2 GiB.
_BYTES_PER_CONNECTION = 9_531_392
_ACU_BYTES = 2 * 1024**3


def max_connections(max_acu: float) -> int:
    """Aurora PostgreSQL's default max_connections at `max_acu` (capped at 5,000)."""
    return min(5000, int(max_acu * _ACU_BYTES / _BYTES_PER_CONNECTION))


class ServiceAlarms(Construct):
    """Unhealthy targets, 5xx, task CPU, Aurora ACU utilisation and connections, all to `topic`
    (with an email subscription when `email` is given)."""

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
        email: str | None,
    ) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "Topic", display_name="Letta alarms", enforce_ssl=True)
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "Alarm notifications carry no data beyond metric names; CloudWatch cannot publish to a topic "
            "encrypted with the AWS-managed SNS key, and a customer key would cost more than the topic.",
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        five_minutes = Duration.minutes(5)
        connection_limit = max_connections(max_acu)
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
            ("TaskCpu", service.metric_cpu_utilization(period=five_minutes), 85, 3),
            ("AuroraAcuUtilization", cluster.metric("ACUUtilization", period=five_minutes), 90, 3),
            (
                "AuroraConnections",
                cluster.metric_database_connections(period=five_minutes),
                int(connection_limit * 0.8),
                2,
            ),
        ]
        self.alarms: list[cloudwatch.Alarm] = []
        for name, metric, threshold, periods in specs:
            alarm = metric.create_alarm(
                self,
                name,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(actions.SnsAction(self.topic))
            self.alarms.append(alarm)
