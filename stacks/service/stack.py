"""The stateless half: the Letta service. Destroy and redeploy it freely: everything it reads (network,
database, connection string, server password, encryption key, LLM keys) belongs to the data stack."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.config import LettaConfig
from stacks.data.stack import DataExports
from stacks.log_retention import LOG_ENCRYPTION_REASON, retention
from stacks.nag import skip_checkov
from stacks.service.alarms import ServiceAlarms
from stacks.service.dashboard import ServiceDashboard
from stacks.service.image import letta_image
from stacks.service.letta_service import LettaService


class ServiceStack(Stack):
    """ECS cluster, Fargate service, load balancer, logs, the dashboard and (prod) alarms."""

    def __init__(self, scope: Construct, id: str, *, config: LettaConfig, data: DataExports, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        # The pgvector bootstrap's run (its Lambda and secrets are the data stack's): here, it starts once the data
        # stack ends with the writer, and the service starts after it, so Letta never meets a database without
        # pgvector or an unwritten LETTA_PG_URI. Delete does nothing; a redeploy of this stack re-applies the
        # idempotent files.
        self.bootstrap = data.bootstrap.create(self, "Pgvector")
        self.letta = LettaService(
            self,
            "Letta",
            vpc=data.vpc,
            # Unique per account and region like the stack names; Container Insights names its log group after it.
            cluster_name=config.stage_name,
            app_security_group=data.app_security_group,
            task_subnets=data.app_subnets,
            # Without NAT, tasks reach the internet (image, LLM APIs) through a public IP; inbound is still
            # only what the app security group admits.
            assign_public_ip=data.app_subnets.subnet_type == ec2.SubnetType.PUBLIC,
            image=letta_image(self, config.letta_image, data),
            cpu=config.task_cpu,
            memory_mib=config.task_memory,
            cpu_architecture=config.cpu_architecture,
            spot=config.capacity_provider == "spot",
            connection_secret=data.connection_secret,
            connection_revision=data.connection_revision,
            server_password_secret=data.server_password,
            encryption_key_secret=data.encryption_key,
            llm_secret=data.llm_keys,
            llm_secret_keys=config.llm_secret_keys,
            load_balancer=data.load_balancer,
            load_balancer_security_group=data.load_balancer_security_group,
            certificate_arn=config.certificate_arn,
            min_tasks=config.min_tasks,
            max_tasks=config.max_tasks,
            deregistration_delay=Duration.seconds(30 if config.is_prod else 5),
            enable_ecs_exec=config.enable_ecs_exec,
            log_retention=retention(config.log_retention_days),
            warn_without_tls=config.is_prod,
            redis_host=data.redis_host,
            redis_port=data.redis_port,
            db_pooling=config.db_pooling,
            domain_name=config.domain_name,
            hosted_zone_id=config.hosted_zone_id,
            hosted_zone_name=config.hosted_zone_name,
            browser_origins=config.browser_origins,
            db_tls_verify=config.db_tls_verify,
        )
        self.letta.service.node.add_dependency(self.bootstrap)
        alarms = None
        if config.alarms:
            alarms = ServiceAlarms(
                self,
                "Alarms",
                service=self.letta.service,
                load_balancer=self.letta.load_balancer,
                target_group=self.letta.target_group,
                cluster=data.cluster,
                connection_limit=config.connection_budget.limit,
                readers=config.readers,
                reader_always_on=config.min_acu > 0,
                email=config.alarm_email,
            )
        skip_checkov(self, ["CKV_AWS_158"], LOG_ENCRYPTION_REASON)
        self.dashboard = ServiceDashboard(
            self,
            "Dashboard",
            service=self.letta.service,
            load_balancer=self.letta.load_balancer,
            target_group=self.letta.target_group,
            cluster=data.cluster,
            max_acu=config.max_acu,
            connection_limit=config.connection_budget.limit,
            readers=config.readers,
            bootstrap_function_name=data.bootstrap_function_name or "",
            redis_replication_group_id=data.redis_replication_group_id,
            # prod's alarms (with their actions) where there are alarms; the dashboard makes its own two otherwise.
            alarms=[alarms.by_name["Target5xx"], alarms.by_name["LoadBalancer502"]] if alarms else (),
        )
        self._outputs()

    def _outputs(self) -> None:
        letta = self.letta
        # ApiUrl repeats the data stack's load balancer DNS name (an import) on purpose: clients and the scripts read
        # the API's URL from this stack, whose listeners serve it. cfn-lint's W6001 warns on any output built from an
        # import; this template accepts it, and only it.
        self.template_options.metadata = {"cfn-lint": {"config": {"ignore_checks": ["W6001"]}}}
        cluster_name = letta.service.cluster.cluster_name
        CfnOutput(self, "ApiUrl", value=letta.url, description="Letta API base URL")
        # Read at deploy time, never imported by another stack: it changes when pgvector is updated.
        CfnOutput(
            self,
            "PgvectorVersion",
            value=self.bootstrap.get_att_string("PgvectorVersion"),
            description="Installed pgvector",
        )
        CfnOutput(self, "DashboardUrl", value=self.dashboard.url, description="The environment's CloudWatch dashboard")
        CfnOutput(self, "LogGroupName", value=letta.log_group.log_group_name, description="Letta's log group")
        CfnOutput(self, "ClusterName", value=cluster_name)
        CfnOutput(self, "ServiceName", value=letta.service.service_name)
        CfnOutput(
            self,
            "RedeployCommand",
            description="Restart the tasks so they read new secret values (e.g. after SetLlmKeysCommand)",
            value=f"aws ecs update-service --cluster {cluster_name} --service {letta.service.service_name} "
            "--force-new-deployment",
        )
