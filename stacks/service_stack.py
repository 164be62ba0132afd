"""The stateless half: the Letta service. Destroy and redeploy it freely; the data stack keeps the memory."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.config import LettaConfig
from stacks.data_stack import DataStack
from stacks.generated_secret import generated_secret
from stacks.log_retention import retention
from stacks.nag import acknowledge
from stacks.service.alarms import ServiceAlarms
from stacks.service.letta_service import LettaService


class ServiceStack(Stack):
    """ECS cluster, Fargate service, load balancer, LLM-key secret, and (prod) alarms."""

    def __init__(self, scope: Construct, id: str, *, config: LettaConfig, data: DataStack, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        llm_secret = self._llm_secret(config)
        network = data.network
        self.letta = LettaService(
            self,
            "Letta",
            vpc=network.vpc,
            app_security_group=network.app_security_group,
            task_subnets=network.app_subnets,
            # Without NAT, tasks reach the internet (image, LLM APIs) through a public IP; inbound is still
            # only what the app security group admits.
            assign_public_ip=network.app_subnets.subnet_type == ec2.SubnetType.PUBLIC,
            image=config.letta_image,
            cpu=config.task_cpu,
            memory_mib=config.task_memory,
            cpu_architecture=config.cpu_architecture,
            connection_secret=data.bootstrap.connection_secret,
            llm_secret=llm_secret,
            llm_secret_keys=config.llm_secret_keys,
            api_allowed_cidrs=config.api_allowed_cidrs,
            certificate_arn=config.certificate_arn,
            min_tasks=config.min_tasks,
            max_tasks=config.max_tasks,
            deregistration_delay=Duration.seconds(30 if config.is_prod else 5),
            enable_ecs_exec=config.enable_ecs_exec,
            log_retention=retention(config.log_retention_days),
            warn_without_tls=config.is_prod,
            # Referencing the bootstrap's result makes the service wait for it, and records what it found.
            labels={"letta-aurora.pgvector-version": data.bootstrap.pgvector_version},
        )
        if config.alarms:
            ServiceAlarms(
                self,
                "Alarms",
                service=self.letta.service,
                load_balancer=self.letta.load_balancer,
                target_group=self.letta.target_group,
                cluster=data.database.cluster,
                max_acu=config.max_acu,
                email=config.alarm_email,
            )
        self._outputs(llm_secret, config)

    def _llm_secret(self, config: LettaConfig) -> secretsmanager.ISecret:
        if config.llm_secret_arn:
            return secretsmanager.Secret.from_secret_complete_arn(self, "LlmKeys", config.llm_secret_arn)
        # Every mapped key must exist in the secret or ECS cannot start the task: create them empty.
        secret = generated_secret(
            self,
            "LlmKeys",
            description="LLM provider keys for Letta (fill in, then force a new deployment)",
            fields={key: "" for key in config.llm_secret_keys.values()},
            key="unused",
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "LLM provider keys are issued and rotated at the provider; the operator stores the new key here.",
        )
        return secret

    def _outputs(self, llm_secret: secretsmanager.ISecret, config: LettaConfig) -> None:
        letta = self.letta
        cluster_name = letta.service.cluster.cluster_name
        keys = ", ".join(f'"{key}": "..."' for key in config.llm_secret_keys.values())
        CfnOutput(self, "ApiUrl", value=letta.url, description="Letta API base URL")
        CfnOutput(
            self,
            "ServerPasswordSecretArn",
            value=letta.server_password_secret.secret_arn,
            description="Secret holding the API bearer password (key 'password'); the ARN, not the value",
        )
        CfnOutput(self, "LlmKeysSecretArn", value=llm_secret.secret_arn, description="Secret holding LLM keys")
        CfnOutput(self, "LogGroupName", value=letta.log_group.log_group_name, description="Letta's log group")
        CfnOutput(self, "ClusterName", value=cluster_name)
        CfnOutput(self, "ServiceName", value=letta.service.service_name)
        CfnOutput(
            self,
            "SetLlmKeysCommand",
            description="Store your LLM keys (then run RedeployCommand)",
            value=f"aws secretsmanager put-secret-value --secret-id {llm_secret.secret_arn} "
            f"--secret-string '{{{keys}}}'",
        )
        CfnOutput(
            self,
            "RedeployCommand",
            description="Restart the tasks so they read the new secret values",
            value=f"aws ecs update-service --cluster {cluster_name} --service {letta.service.service_name} "
            "--force-new-deployment",
        )
