"""The Letta server on ECS Fargate behind an Application Load Balancer."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import Annotations, Aws, CfnMapping, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks import aws_rules
from stacks import letta_contract as contract
from stacks.data.image_mirror import ECR_LOGIN_REASON
from stacks.letta_contract import HEALTH_PATH
from stacks.letta_contract import PORT as LETTA_PORT
from stacks.nag import acknowledge, skip_checkov
from stacks.service.db_tls import roots_by_region
from stacks.service.log_filter import LLM_KEY_MAP_VAR, LLM_KEYS_VAR, start_command
from stacks.service.supervisor import DB_CA_VAR, SSL_MODE_VAR

# First start runs every migration, heavy imports and provider look-ups before the port opens.
HEALTH_CHECK_GRACE = Duration.seconds(300)


class LettaService(Construct):
    """Fargate tasks running the pinned Letta image, reachable only through the load balancer.

    The database connection arrives as one ECS secret, `LETTA_PG_URI`, from the generated connection-string
    secret; secure mode is on with a generated server password; LLM keys come from `llm_secret`. With `redis_host`
    the tasks share that Redis (else each starts its own: one task only); `db_pooling` sets Letta's SQLAlchemy pool
    explicitly (LETTA_DISABLE_SQLALCHEMY_POOLING), never leaving it to Letta's default. With `db_tls_verify` the task
    carries PGSSLMODE=verify-full and the RDS roots of its region, which the supervisor checks Aurora's certificate
    against before Letta starts (stacks/service/db_tls.py). Container
    output passes through a filter that masks every secret before CloudWatch. New tasks must pass
    `/v1/health/`; a deployment that cannot get there rolls back (circuit breaker).

    Exposes `service`, `load_balancer`, `target_group`, `log_group`, `url`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        cluster_name: str,
        app_security_group: ec2.ISecurityGroup,
        task_subnets: ec2.SubnetSelection,
        assign_public_ip: bool,
        image: ecs.ContainerImage,
        cpu: int,
        memory_mib: int,
        cpu_architecture: str,
        spot: bool = False,
        connection_secret: secretsmanager.ISecret,
        connection_revision: str,
        server_password_secret: secretsmanager.ISecret,
        encryption_key_secret: secretsmanager.ISecret,
        llm_secret: secretsmanager.ISecret,
        llm_secret_keys: Mapping[str, str],
        load_balancer: elbv2.IApplicationLoadBalancer,
        load_balancer_security_group: ec2.ISecurityGroup,
        certificate_arn: str | None,
        min_tasks: int,
        max_tasks: int,
        deregistration_delay: Duration,
        enable_ecs_exec: bool,
        log_retention: logs.RetentionDays,
        warn_without_tls: bool,
        redis_host: str | None = None,
        redis_port: int | None = None,
        db_pooling: bool = False,
        domain_name: str | None = None,
        hosted_zone_id: str | None = None,
        hosted_zone_name: str | None = None,
        browser_origins: Sequence[str] = (),
        db_tls_verify: bool = False,
    ) -> None:
        super().__init__(scope, id)
        # The app security group belongs to the data stack. Imported immutable, CDK adds no rule to it there
        # (which would make the data stack depend on this one); the one rule it needs is written below.
        app_security_group = ec2.SecurityGroup.from_security_group_id(
            self, "AppSecurityGroup", app_security_group.security_group_id, mutable=False
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        cluster = self._cluster(vpc, cluster_name, enable_ecs_exec, log_retention, spot)
        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64
                if cpu_architecture == "arm64"
                else ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        secrets = {
            # The only database setting the image honours; without it Letta starts a throwaway Postgres.
            "LETTA_PG_URI": ecs.Secret.from_secrets_manager(connection_secret, "uri"),
            "LETTA_SERVER_PASSWORD": ecs.Secret.from_secrets_manager(server_password_secret, "password"),
            "LETTA_ENCRYPTION_KEY": ecs.Secret.from_secrets_manager(encryption_key_secret, "key"),
            # The whole JSON object: the start command exports the members LETTA_LLM_KEY_MAP names. Mapping single
            # JSON keys here instead would stop every task from starting while one mapped key is missing.
            LLM_KEYS_VAR: ecs.Secret.from_secrets_manager(llm_secret),
        }
        task.add_container(
            "Letta",
            image=image,
            command=start_command(masked_env_vars=sorted(secrets)),
            port_mappings=[ecs.PortMapping(container_port=LETTA_PORT, name="letta-http")],
            # Switches, names and the Redis endpoint only; every value that is a secret arrives through `secrets`.
            environment={
                "SECURE": "true",
                "LETTA_SERVER_SECURE": "true",
                LLM_KEY_MAP_VAR: json.dumps(dict(llm_secret_keys), sort_keys=True),
                contract.DISABLE_POOLING: "false" if db_pooling else "true",
                contract.KEEP_ALIVE: str(contract.KEEP_ALIVE_SECONDS),
                # Letta splits it on ',' and appends it to its localhost defaults (letta/settings.py); no spaces.
                **({"ACCEPTABLE_ORIGINS": ",".join(browser_origins)} if browser_origins else {}),
                **(
                    {contract.REDIS_HOST: redis_host, contract.REDIS_PORT: str(redis_port)}
                    if redis_host and redis_port
                    else {}
                ),
                # The supervisor writes the roots to a file for PGSSLROOTCERT and checks the database's certificate
                # before Letta starts; asyncpg then reads both variables (docs/network.md, "Verified TLS to Aurora").
                **({SSL_MODE_VAR: "verify-full", DB_CA_VAR: self._rds_roots()} if db_tls_verify else {}),
            },
            secrets=secrets,
            logging=ecs.LogDriver.aws_logs(stream_prefix="letta", log_group=self.log_group),
            # ECS reads secrets only when a task starts: a new URI must come with a new task definition.
            docker_labels={"letta-aurora.connection-revision": connection_revision},
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=task,
            # No desired count: CloudFormation then starts one task on create (it migrates an empty database
            # alone; auto scaling raises the count to `min_tasks` once the service is stable, its scalable
            # target depending on the service) and leaves the running count alone on every update (aws-cdk #3919).
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            health_check_grace_period=HEALTH_CHECK_GRACE,
            vpc_subnets=task_subnets,
            assign_public_ip=assign_public_ip,
            security_groups=[app_security_group],
            enable_execute_command=enable_ecs_exec,
            # Spot: ECS replaces an interrupted task (2 minutes' warning, SIGTERM, deregistration) with a new one;
            # on-demand keeps the launch type the service was first deployed with, so nothing changes for it.
            capacity_provider_strategies=[ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=1)]
            if spot
            else None,
        )
        zone = (
            route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=hosted_zone_id, zone_name=hosted_zone_name
            )
            if domain_name and hosted_zone_id and hosted_zone_name
            else None
        )
        certificate = self._certificate(certificate_arn, domain_name, zone)
        # The load balancer and its security group belong to the data stack (created beside Aurora, not after it);
        # imported by attributes, so that what this stack adds (listeners, the egress to the tasks) stays here.
        self.load_balancer = elbv2.ApplicationLoadBalancer.from_application_load_balancer_attributes(
            self,
            "LoadBalancer",
            load_balancer_arn=load_balancer.load_balancer_arn,
            security_group_id=load_balancer_security_group.security_group_id,
            security_group_allows_all_outbound=False,
            load_balancer_dns_name=load_balancer.load_balancer_dns_name,
            load_balancer_canonical_hosted_zone_id=load_balancer.load_balancer_canonical_hosted_zone_id,
            vpc=vpc,
        )
        self.target_group = self._routing(vpc, certificate, deregistration_delay, warn_without_tls)
        if domain_name and zone:
            # The API's own name: an alias to the load balancer in the operator's zone.
            route53.ARecord(
                self,
                "AliasRecord",
                zone=zone,
                record_name=domain_name,
                target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(self.load_balancer)),
            )
        self._acknowledge(task, enable_ecs_exec)
        ec2.CfnSecurityGroupIngress(
            self,
            "TasksFromLoadBalancer",
            group_id=app_security_group.security_group_id,
            source_security_group_id=load_balancer_security_group.security_group_id,
            ip_protocol="tcp",
            from_port=LETTA_PORT,
            to_port=LETTA_PORT,
            description="Letta API from its load balancer only",
        )
        scaling = self.service.auto_scale_task_count(min_capacity=min_tasks, max_capacity=max_tasks)
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=70,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )
        scaling.scale_on_request_count(
            "Requests",
            requests_per_target=600,
            target_group=self.target_group,
            scale_in_cooldown=Duration.minutes(5),
            scale_out_cooldown=Duration.minutes(1),
        )
        scheme = "https" if certificate else "http"
        self.url = f"{scheme}://{domain_name or self.load_balancer.load_balancer_dns_name}"

    def _rds_roots(self) -> str:
        """The RDS roots of the stack's region (the config has refused a region the bundle lacks). Without a region at
        synth, the deploying region's roots by `Fn::FindInMap` over every region the config admits: the template
        holds them all, each task definition only its own (CloudFormation refuses a region missing from the map
        before it changes anything)."""
        region = Stack.of(self).region
        roots = roots_by_region()
        if not Token.is_unresolved(region):
            return roots[region]
        regions = sorted(set(roots) & set(aws_rules.DATA_API_REGIONS))
        mapping = CfnMapping(self, "RdsRoots", mapping={r: {"pem": roots[r]} for r in regions})
        return mapping.find_in_map(Aws.REGION, "pem")

    def _certificate(
        self, certificate_arn: str | None, domain_name: str | None, zone: route53.IHostedZone | None
    ) -> acm.ICertificate | None:
        """The certificate the operator brought, or one for `domain_name` that ACM validates through a record in
        the zone (CloudFormation waits until it is issued: an undelegated zone never validates, docs/network.md)."""
        if certificate_arn:
            return acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
        if domain_name and zone:
            return acm.Certificate(
                self,
                "DomainCertificate",
                domain_name=domain_name,
                validation=acm.CertificateValidation.from_dns(zone),
            )
        return None

    def _cluster(
        self, vpc: ec2.IVpc, name: str, enable_ecs_exec: bool, log_retention: logs.RetentionDays, spot: bool
    ) -> ecs.Cluster:
        """The ECS cluster, named so that the log groups ECS writes to are known before it exists: the stack creates
        them first, so `cdk destroy` removes them (ECS would create them on first use and keep them)."""
        # Container Insights (enhanced observability) writes its performance events here.
        insights = logs.LogGroup(
            self,
            "ContainerInsightsLogs",
            log_group_name=f"/aws/ecs/containerinsights/{name}/performance",
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        exec_configuration = None
        if enable_ecs_exec:
            # ECS Exec sessions are logged to a group of the stack; without a group of its own, CDK grants the task
            # role logs:CreateLogStream/PutLogEvents on every log group of the account.
            self.exec_log_group = logs.LogGroup(
                self, "ExecLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
            )
            exec_configuration = ecs.ExecuteCommandConfiguration(
                logging=ecs.ExecuteCommandLogging.OVERRIDE,
                log_configuration=ecs.ExecuteCommandLogConfiguration(cloud_watch_log_group=self.exec_log_group),
            )
        cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            cluster_name=name,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            execute_command_configuration=exec_configuration,
            # FARGATE and FARGATE_SPOT associated with the cluster: a service may name them in its strategy.
            enable_fargate_capacity_providers=spot or None,
        )
        cluster.node.add_dependency(insights)
        return cluster

    def _routing(
        self,
        vpc: ec2.IVpc,
        certificate: acm.ICertificate | None,
        deregistration_delay: Duration,
        warn_without_tls: bool,
    ) -> elbv2.ApplicationTargetGroup:
        """The target group the service registers in and the load balancer's listeners (HTTPS with a certificate,
        HTTP redirecting to it; plain HTTP without)."""
        load_balancer = self.load_balancer
        # "ApiTargets", not the "Targets" of before the load balancer moved into the data stack: a target group
        # serves one load balancer, so a deployed environment's move needs a new group while the old listener still
        # holds the old one (docs/deploy-time.md, "Moving a deployed environment").
        target_group = elbv2.ApplicationTargetGroup(
            self,
            "ApiTargets",
            vpc=vpc,
            port=LETTA_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=deregistration_delay,
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
            targets=[self.service],
        )
        if certificate:
            load_balancer.add_listener(
                "Https",
                port=443,
                open=False,
                certificates=[certificate],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[target_group],
            )
            load_balancer.add_listener(
                "Http",
                port=80,
                open=False,
                default_action=elbv2.ListenerAction.redirect(protocol="HTTPS", port="443", permanent=True),
            )
        else:
            http = load_balancer.add_listener("Http", port=80, open=False, default_target_groups=[target_group])
            skip_checkov(
                http,
                ["CKV_AWS_2", "CKV_AWS_103"],
                "No certificate_arn: plain HTTP, to the listed api_allowed_cidrs only. The config refuses it for an "
                "API open to the whole internet and in prod unless allow_plain_http=true says so in so many words.",
            )
            if warn_without_tls:
                Annotations.of(self).add_warning_v2(
                    "letta:api-without-tls",
                    "The Letta API listens on plain HTTP: its bearer password crosses the network unencrypted. "
                    "Set domain_name (with its hosted zone) or certificate_arn for HTTPS.",
                )
        return target_group

    def _acknowledge(self, task: ecs.FargateTaskDefinition, enable_ecs_exec: bool) -> None:
        acknowledge(task.obtain_execution_role(), "AwsSolutions-IAM5[Resource::*]", ECR_LOGIN_REASON)
        acknowledge(
            task,
            "AwsSolutions-ECS2",
            "The only plain environment variables are the secure-mode switches SECURE and LETTA_SERVER_SECURE, "
            "the pooling switch LETTA_DISABLE_SQLALCHEMY_POOLING, uvicorn's keep-alive in seconds, PGSSLMODE and the "
            "public RDS root certificates (LETTA_DB_CA_PEM), the names of the "
            "LLM variables to export, the shared Redis's host and port (LETTA_REDIS_HOST/PORT: an address, no "
            "credential; Letta's Redis client has no AUTH) and the browser origins Letta admits (ACCEPTABLE_ORIGINS); "
            "the database URI, passwords, the encryption key and LLM keys are ECS secrets.",
        )
        if enable_ecs_exec:
            acknowledge(
                task,
                "AwsSolutions-IAM5[Resource::*]",
                "ECS Exec (enable_ecs_exec=true) needs the ssmmessages channel actions and logs:DescribeLogGroups, "
                "which have no resource ARNs; its session logs go to the stack's exec log group only.",
            )
            stack = Stack.of(self)
            group = stack.resolve(stack.get_logical_id(self.exec_log_group.node.default_child))
            acknowledge(
                task,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<{group}>:*]",
                "ECS Exec writes session logs as new streams of the stack's exec log group (`<group arn>:*`).",
            )
