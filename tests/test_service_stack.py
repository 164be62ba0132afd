"""Template assertions on the service stack: the Letta contract (LETTA_PG_URI as a secret, /v1/health/),
security by default, deployments that cannot hang, and logs that keep no secret."""

from __future__ import annotations

import json
from typing import Any

from stacks.service.log_filter import start_command
from tests.cdk_app import only, profile_context, resources, synthesized

# prod without a certificate is refused unless plain HTTP is explicitly allowed.
PROD = {"profile": "prod", "allow_plain_http": True}
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"


def service(**overrides: Any) -> dict[str, Any]:
    return synthesized(**overrides).template("Service").to_json()


def data(**overrides: Any) -> dict[str, Any]:
    """The data stack, where the load balancer and its security group are created beside Aurora."""
    return synthesized(**overrides).template("Data").to_json()


def container(template: dict[str, Any]) -> dict[str, Any]:
    definitions = only(template, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"]
    assert len(definitions) == 1
    return definitions[0]


def test_task_runs_the_pinned_image_on_8283_with_the_configured_size() -> None:
    template = service()
    task = only(template, "AWS::ECS::TaskDefinition")["Properties"]
    assert (task["Cpu"], task["Memory"]) == ("1024", "2048")
    assert task["RuntimePlatform"] == {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}
    letta = container(template)
    assert ".dkr.ecr." in json.dumps(letta["Image"])  # the data stack's mirror (tests/test_image_supply.py)
    assert letta["PortMappings"][0]["ContainerPort"] == 8283
    x86 = only(service(cpu_architecture="x86_64", task_cpu=2048, task_memory=4096), "AWS::ECS::TaskDefinition")
    assert x86["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "X86_64"
    assert (x86["Properties"]["Cpu"], x86["Properties"]["Memory"]) == ("2048", "4096")


def test_letta_pg_uri_is_injected_as_a_secret_from_the_connection_string() -> None:
    letta = container(service())
    secrets = {s["Name"]: s["ValueFrom"] for s in letta["Secrets"]}
    assert "LETTA_PG_URI" in secrets
    uri_source = json.dumps(secrets["LETTA_PG_URI"])
    assert "ConnectionString" in uri_source and ":uri::" in uri_source
    assert set(secrets) == {"LETTA_PG_URI", "LETTA_SERVER_PASSWORD", "LETTA_ENCRYPTION_KEY", "LETTA_LLM_KEYS"}
    # The LLM keys arrive as the whole JSON object: a provider whose key is not stored yet cannot stop a task.
    assert secrets["LETTA_LLM_KEYS"] == {"Fn::ImportValue": json.dumps(secrets["LETTA_LLM_KEYS"]).split('"')[3]}
    environment = {e["Name"]: e["Value"] for e in letta.get("Environment", [])}
    # The image ignores the separate parts and would silently fall back to an in-container Postgres.
    assert not [name for name in environment if name.startswith("LETTA_PG")]
    # Verified TLS to Aurora (tests/test_db_tls_synth.py): no region at synth here, so the deploying region's roots.
    assert environment.pop("PGSSLMODE") == "verify-full"
    assert environment.pop("LETTA_DB_CA_PEM")["Fn::FindInMap"][1:] == [{"Ref": "AWS::Region"}, "pem"]
    assert environment == {
        "SECURE": "true",
        "LETTA_SERVER_SECURE": "true",
        "LETTA_LLM_KEY_MAP": json.dumps({"ANTHROPIC_API_KEY": "ANTHROPIC_API_KEY", "OPENAI_API_KEY": "OPENAI_API_KEY"}),
        # Set, never Letta's silent default: dev runs without the pool (the config's db_pooling).
        "LETTA_DISABLE_SQLALCHEMY_POOLING": "true",
        # Longer than the load balancer's idle timeout (tests/test_keep_alive.py): no idle 502s.
        "LETTA_UVICORN_TIMEOUT_KEEP_ALIVE": "660",
    }


def test_more_than_one_task_share_the_data_stacks_redis_and_pool_their_connections() -> None:
    # Prod: the endpoint of the data stack's cache, imported (an address and a port, not a secret).
    environment = {e["Name"]: e["Value"] for e in container(service(**PROD))["Environment"]}
    assert environment["LETTA_DISABLE_SQLALCHEMY_POOLING"] == "false"
    assert environment["LETTA_REDIS_PORT"] == "6379"
    assert "SharedRedisReplicationGroup" in json.dumps(environment["LETTA_REDIS_HOST"]["Fn::ImportValue"])
    # Dev with two tasks gets the cache too (shared_redis auto); one task keeps its in-container redis-server.
    two = {e["Name"]: e["Value"] for e in container(service(max_tasks=2))["Environment"]}
    assert "LETTA_REDIS_HOST" in two and "LETTA_REDIS_HOST" not in {
        e["Name"] for e in container(service())["Environment"]
    }


def test_container_starts_letta_through_the_log_filter() -> None:
    letta = container(service())
    assert letta["Command"] == start_command(masked_env_vars=sorted(s["Name"] for s in letta["Secrets"]))
    assert letta["LogConfiguration"]["LogDriver"] == "awslogs"


def test_service_stack_deploys_after_the_data_stack_and_its_bootstrap() -> None:
    # The bootstrap is a resource of the data stack, so the data stack is complete only after it ran; the
    # service stack depends on the data stack (it imports its network and secrets), so it comes after.
    stacks = synthesized().stacks
    assert stacks.data in stacks.service.dependencies
    labels = container(service())["DockerLabels"]
    # A literal, not an import: a changing custom-resource attribute must never be exported.
    assert isinstance(labels["letta-aurora.connection-revision"], str)


def test_tasks_join_the_app_security_group_the_database_admits() -> None:
    template = service()
    network = only(template, "AWS::ECS::Service")["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert len(network["SecurityGroups"]) == 1
    assert "AppSecurityGroup" in json.dumps(network["SecurityGroups"][0])
    assert network["AssignPublicIp"] == "ENABLED"  # dev: no NAT, egress through a public IP
    prod = only(service(**PROD), "AWS::ECS::Service")["Properties"]["NetworkConfiguration"]
    assert prod["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"


def test_tasks_admit_8283_from_the_load_balancer_only() -> None:
    template = service()
    ingress = list(resources(template, "AWS::EC2::SecurityGroupIngress").values())
    assert len(ingress) == 1
    rule = ingress[0]["Properties"]
    assert (rule["FromPort"], rule["ToPort"]) == (8283, 8283)
    assert "LoadBalancerSecurityGroup" in json.dumps(rule["SourceSecurityGroupId"])
    assert "AppSecurityGroup" in json.dumps(rule["GroupId"])


def test_load_balancer_admits_only_the_configured_cidrs() -> None:
    def lb_ingress(template: dict[str, Any]) -> list[dict[str, Any]]:
        groups = resources(template, "AWS::EC2::SecurityGroup")
        group = next(g for g in groups.values() if "load balancer" in g["Properties"]["GroupDescription"])
        return group["Properties"].get("SecurityGroupIngress", [])

    assert lb_ingress(data()) == []  # default: nobody until api_allowed_cidrs says who
    rules = lb_ingress(data(api_allowed_cidrs="203.0.113.0/24"))
    assert [(r["CidrIp"], r["FromPort"]) for r in rules] == [("203.0.113.0/24", 80)]
    rules = lb_ingress(data(api_allowed_cidrs="203.0.113.0/24", certificate_arn=CERTIFICATE))
    assert sorted((r["CidrIp"], r["FromPort"]) for r in rules) == [("203.0.113.0/24", 80), ("203.0.113.0/24", 443)]


def test_https_listener_and_redirect_when_a_certificate_is_configured() -> None:
    listeners = resources(service(certificate_arn=CERTIFICATE), "AWS::ElasticLoadBalancingV2::Listener")
    by_port = {listener["Properties"]["Port"]: listener["Properties"] for listener in listeners.values()}
    assert by_port[443]["Protocol"] == "HTTPS"
    assert by_port[443]["Certificates"] == [{"CertificateArn": CERTIFICATE}]
    redirect = by_port[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    plain = only(service(), "AWS::ElasticLoadBalancingV2::Listener")["Properties"]
    assert (plain["Port"], plain["Protocol"]) == (80, "HTTP")


def test_health_check_is_v1_health_with_the_trailing_slash() -> None:
    group = only(service(), "AWS::ElasticLoadBalancingV2::TargetGroup")["Properties"]
    assert group["HealthCheckPath"] == "/v1/health/"
    assert group["Matcher"] == {"HttpCode": "200"}
    assert group["Port"] == 8283
    assert group["HealthyThresholdCount"] == 2
    attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == "5"
    prod = only(service(**PROD), "AWS::ElasticLoadBalancingV2::TargetGroup")["Properties"]
    assert {a["Key"]: a["Value"] for a in prod["TargetGroupAttributes"]}["deregistration_delay.timeout_seconds"] == "30"


def test_deployments_roll_back_instead_of_hanging() -> None:
    ecs_service = only(service(), "AWS::ECS::Service")["Properties"]
    assert ecs_service["HealthCheckGracePeriodSeconds"] == 300
    config = ecs_service["DeploymentConfiguration"]
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert (config["MinimumHealthyPercent"], config["MaximumPercent"]) == (100, 200)


def test_first_deployment_starts_one_task_and_scaling_follows_it() -> None:
    # Dev is one task (no shared Redis needed); prod scales from 2 to 4.
    for profile, (low, high) in (("dev", (1, 1)), ("prod", (2, 4))):
        template = service(**profile_context(profile))
        # No DesiredCount: CloudFormation starts one task on create and never resets the count on update.
        assert "DesiredCount" not in only(template, "AWS::ECS::Service")["Properties"]
        target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
        assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (low, high)
        # The target names the service, so CloudFormation creates it only once that one task is healthy.
        assert "Service" in json.dumps(target["Properties"]["ResourceId"])
        policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
        metrics = {
            p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
                "PredefinedMetricType"
            ]
            for p in policies
        }
        assert metrics == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}


def test_load_balancer_waits_long_enough_for_slow_agent_steps() -> None:
    lb = only(data(), "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"]
    attributes = {a["Key"]: a["Value"] for a in lb["LoadBalancerAttributes"]}
    assert attributes["idle_timeout.timeout_seconds"] == "600"
    assert lb["Scheme"] == "internet-facing"


def test_cluster_has_container_insights_and_ecs_exec_is_opt_in() -> None:
    cluster = only(service(), "AWS::ECS::Cluster")["Properties"]
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
    assert only(service(), "AWS::ECS::Service")["Properties"].get("EnableExecuteCommand") is not True
    assert only(service(enable_ecs_exec=True), "AWS::ECS::Service")["Properties"]["EnableExecuteCommand"] is True


def test_log_group_is_the_stacks_with_retention() -> None:
    template = service()
    key = container(template)["LogConfiguration"]["Options"]["awslogs-group"]["Ref"]
    group = template["Resources"][key]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == 7
    assert group["DeletionPolicy"] == "Delete"


def test_container_insights_writes_into_a_log_group_the_stack_created_first() -> None:
    # ECS creates /aws/ecs/containerinsights/<cluster>/performance on first use and keeps it after destroy,
    # unless it already exists: the cluster has a fixed name and waits for the stack's group of that name.
    for profile, days in (("dev", 7), ("prod", 90)):
        template = service(**profile_context(profile))
        cluster = only(template, "AWS::ECS::Cluster")
        assert cluster["Properties"]["ClusterName"] == "letta-dev"
        groups = resources(template, "AWS::Logs::LogGroup")
        insights = [
            k
            for k, g in groups.items()
            if g["Properties"].get("LogGroupName") == "/aws/ecs/containerinsights/letta-dev/performance"
        ]
        assert len(insights) == 1
        assert insights[0] in cluster["DependsOn"]
        assert groups[insights[0]]["Properties"]["RetentionInDays"] == days
    assert only(service(env="pr-42"), "AWS::ECS::Cluster")["Properties"]["ClusterName"] == "letta-pr-42"


def test_ecs_exec_logs_into_the_stacks_own_group() -> None:
    template = service(enable_ecs_exec=True)
    configuration = only(template, "AWS::ECS::Cluster")["Properties"]["Configuration"]["ExecuteCommandConfiguration"]
    assert configuration["Logging"] == "OVERRIDE"
    group = configuration["LogConfiguration"]["CloudWatchLogGroupName"]["Ref"]
    assert template["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
    writes = [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "logs:PutLogEvents" in s["Action"]
    ]
    # The task role writes session logs to that group, the execution role Letta's log to its own: nothing else.
    assert sorted(json.dumps(s["Resource"]).count(group) for s in writes) == [0, 1]
    assert all(s["Resource"] != "*" for s in writes)
    assert "Configuration" not in only(service(), "AWS::ECS::Cluster")["Properties"]


def test_existing_llm_secret_is_used_with_the_configured_keys() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-keys-AbCdEf"
    synth = synthesized(llm_secret_arn=arn, llm_secret_keys='{"OPENAI_API_KEY": "openai"}')
    data = synth.template("Data").to_json()
    assert not [k for k in resources(data, "AWS::SecretsManager::Secret") if k.startswith("SecretsLlmKeys")]
    letta = container(synth.template("Service").to_json())
    secrets = {s["Name"]: s["ValueFrom"] for s in letta["Secrets"]}
    assert secrets["LETTA_LLM_KEYS"] == arn
    environment = {e["Name"]: e["Value"] for e in letta["Environment"]}
    assert json.loads(environment["LETTA_LLM_KEY_MAP"]) == {"OPENAI_API_KEY": "openai"}


def test_alarms_with_actions_only_in_prod_and_cover_service_and_aurora() -> None:
    # dev: only the dashboard's two alarms (targets' 5xx, the load balancer's 502s), which notify nobody.
    dev = resources(service(), "AWS::CloudWatch::Alarm").values()
    assert {a["Properties"]["MetricName"] for a in dev} == {"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_502_Count"}
    assert not [a for a in dev if a["Properties"].get("AlarmActions")]
    assert resources(service(), "AWS::SNS::Topic") == {}
    alarms = resources(service(**PROD, alarm_email="ops@example.com"), "AWS::CloudWatch::Alarm").values()
    metrics = {a["Properties"]["MetricName"] for a in alarms}
    assert metrics == {
        "UnHealthyHostCount",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
        # The load balancer's own 502s: a target closing connections the ALB reuses (tests/test_keep_alive.py).
        "HTTPCode_ELB_502_Count",
        "CPUUtilization",
        "ACUUtilization",
        "DatabaseConnections",
        # The reader (prod's failover target): lag, capacity, and whether it reports at all.
        "AuroraReplicaLag",
        "ServerlessDatabaseCapacity",
    }
    assert all(a["Properties"]["AlarmActions"] for a in alarms)
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms if '"READER"' in json.dumps(a)}
    assert set(by_metric) == {"AuroraReplicaLag", "ACUUtilization", "ServerlessDatabaseCapacity"}
    for alarm in by_metric.values():
        assert {"Name": "Role", "Value": "READER"} in alarm["Dimensions"]
    assert by_metric["ServerlessDatabaseCapacity"]["TreatMissingData"] == "breaching"
    # The connection alarm sits at 80% of Aurora's documented max_connections at prod's 4 ACU (823).
    [connections] = [a for a in alarms if a["Properties"]["MetricName"] == "DatabaseConnections"]
    assert connections["Properties"]["Threshold"] == int(823 * 0.8)
    # The writer's peak: max_connections is per instance, and Letta reaches only the writer.
    assert {"Name": "Role", "Value": "WRITER"} in connections["Properties"]["Dimensions"]
    assert connections["Properties"]["Statistic"] == "Maximum"
    # Without a reader there is nothing to watch; with auto-pause a missing reader metric means nothing.
    no_reader = resources(service(**PROD, readers=0), "AWS::CloudWatch::Alarm").values()
    assert "AuroraReplicaLag" not in {a["Properties"]["MetricName"] for a in no_reader}
    paused = resources(service(**PROD, min_acu=0), "AWS::CloudWatch::Alarm").values()
    assert "ServerlessDatabaseCapacity" not in {a["Properties"]["MetricName"] for a in paused}
    subscription = only(service(**PROD, alarm_email="ops@example.com"), "AWS::SNS::Subscription")
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"


def test_outputs_give_url_secret_arns_log_group_and_the_commands() -> None:
    outputs = service()["Outputs"]
    for name in ("ApiUrl", "LogGroupName", "ClusterName", "ServiceName", "RedeployCommand"):
        assert name in outputs, name
    assert "aws ecs update-service" in json.dumps(outputs["RedeployCommand"])
    # What clients and the operator hold lives with the data.
    data_outputs = synthesized().template("Data").to_json()["Outputs"]
    for name in ("ServerPasswordSecretArn", "LlmKeysSecretArn", "SetLlmKeysCommand", "ConnectionSecretArn"):
        assert name in data_outputs, name
    assert "aws secretsmanager put-secret-value" in json.dumps(data_outputs["SetLlmKeysCommand"])
    assert "--force-new-deployment" in json.dumps(outputs["RedeployCommand"])
    assert "http://" in json.dumps(outputs["ApiUrl"])


def test_dev_runs_on_fargate_spot_and_prod_keeps_its_launch_type() -> None:
    dev = only(service(), "AWS::ECS::Service")["Properties"]
    assert dev["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    assert "LaunchType" not in dev
    # A strategy may name only providers associated with the cluster.
    associations = only(service(), "AWS::ECS::ClusterCapacityProviderAssociations")["Properties"]
    assert "FARGATE_SPOT" in associations["CapacityProviders"]
    # An interrupted task has 2 minutes: its target is drained well within them.
    target_group = only(service(), "AWS::ElasticLoadBalancingV2::TargetGroup")["Properties"]
    attributes = {a["Key"]: a["Value"] for a in target_group["TargetGroupAttributes"]}
    assert int(attributes["deregistration_delay.timeout_seconds"]) < 120
    prod = only(service(**PROD), "AWS::ECS::Service")["Properties"]
    assert prod["LaunchType"] == "FARGATE" and "CapacityProviderStrategy" not in prod
    assert resources(service(**PROD), "AWS::ECS::ClusterCapacityProviderAssociations") == {}
