"""Template assertions on the data stack: every item the walkthrough clicked, and what it left out."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from tests.cdk_app import only, resources, synthesized


def reader_stack(**overrides: Any) -> dict[str, Any]:
    return synthesized(**overrides).template("Reader").to_json()


def data(**overrides: Any) -> dict[str, Any]:
    return synthesized(**overrides).template("Data").to_json()


def test_cluster_is_aurora_postgres_17_serverless_v2_at_zero_to_one_acu() -> None:
    template = synthesized().template("Data")
    template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-postgresql",
            "EngineVersion": Match.string_like_regexp(r"^17\.\d+$"),
            # dev pauses after 5 idle minutes (the first request after a pause waits for the resume).
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0, "MaxCapacity": 1, "SecondsUntilAutoPause": 300},
            "StorageEncrypted": True,
            "EnableHttpEndpoint": True,
            "EnableCloudwatchLogsExports": ["postgresql"],
            "DatabaseName": "letta",
            "Port": 5432,
        },
    )
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {"DBInstanceClass": "db.serverless", "AutoMinorVersionUpgrade": False, "PubliclyAccessible": False},
    )
    template.resource_count_is("AWS::RDS::DBInstance", 1)


def test_scaling_follows_config_and_zero_means_auto_pause() -> None:
    cluster = only(data(min_acu=0, max_acu=4, auto_pause_seconds=600), "AWS::RDS::DBCluster")["Properties"]
    assert cluster["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": 0,
        "MaxCapacity": 4,
        "SecondsUntilAutoPause": 600,
    }


def test_cluster_lives_in_isolated_subnets() -> None:
    template = data()
    subnet_group = only(template, "AWS::RDS::DBSubnetGroup")["Properties"]
    isolated = {
        key
        for key, subnet in resources(template, "AWS::EC2::Subnet").items()
        if {"Key": "aws-cdk:subnet-type", "Value": "Isolated"} in subnet["Properties"]["Tags"]
    }
    assert len(isolated) == 2
    assert {ref["Ref"] for ref in subnet_group["SubnetIds"]} == isolated


def test_vpc_has_two_azs_and_no_nat_in_dev_but_nat_in_prod() -> None:
    dev = data()
    assert len(resources(dev, "AWS::EC2::Subnet")) == 4
    assert resources(dev, "AWS::EC2::NatGateway") == {}
    prod = data(profile="prod", allow_plain_http=True)
    assert len(resources(prod, "AWS::EC2::NatGateway")) == 2
    assert len(resources(prod, "AWS::EC2::Subnet")) == 6


def test_prod_image_layers_reach_s3_through_the_free_gateway_endpoint_not_nat() -> None:
    assert resources(data(), "AWS::EC2::VPCEndpoint") == {}  # dev tasks have public IPs
    prod = data(profile="prod", allow_plain_http=True)
    endpoint = only(prod, "AWS::EC2::VPCEndpoint")["Properties"]
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert ".s3" in json.dumps(endpoint["ServiceName"])
    assert len(endpoint["RouteTableIds"]) == 2  # the two private (task) subnets' route tables


def test_tls_is_forced_by_the_clusters_own_parameter_group() -> None:
    template = data()
    group_id, group = next(iter(resources(template, "AWS::RDS::DBClusterParameterGroup").items()))
    assert group["Properties"]["Parameters"] == {"rds.force_ssl": "1"}
    assert only(template, "AWS::RDS::DBCluster")["Properties"]["DBClusterParameterGroupName"] == {"Ref": group_id}


def test_rds_manages_and_rotates_the_master_password() -> None:
    template = data()
    cluster = only(template, "AWS::RDS::DBCluster")["Properties"]
    assert cluster["ManageMasterUserPassword"] is True
    assert cluster["MasterUsername"] == "postgres"
    assert "MasterUserPassword" not in cluster
    # No master secret of our own: RDS creates, rotates and deletes it with the cluster.
    secrets = resources(template, "AWS::SecretsManager::Secret")
    assert not [s for s in secrets.values() if '"username":"postgres"' in json_of(s)]
    # The bootstrap (run by the service stack) reaches the database with the managed secret, exported from here.
    service = synthesized().template("Service").to_json()
    bootstrap = only(service, "Custom::PgvectorBootstrap")["Properties"]
    export = bootstrap["MasterSecretArn"]["Fn::ImportValue"]
    (output,) = [o for o in template["Outputs"].values() if o.get("Export", {}).get("Name") == export]
    assert output["Value"] == {"Fn::GetAtt": [cluster_id(template), "MasterUserSecret.SecretArn"]}


def cluster_id(template: Any) -> str:
    return next(iter(resources(template, "AWS::RDS::DBCluster")))


def json_of(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":")).replace('\\"', '"')


def test_postgres_rule_admits_the_app_security_group_only_by_default() -> None:
    template = data()
    groups = resources(template, "AWS::EC2::SecurityGroup")
    db_sg = next(k for k, v in groups.items() if v["Properties"]["GroupDescription"].startswith("Aurora"))
    app_sg = next(k for k, v in groups.items() if v["Properties"]["GroupDescription"].startswith("Letta tasks"))
    ingress = [
        r["Properties"]
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [db_sg, "GroupId"]}
    ]
    assert ingress == [
        {
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "GroupId": {"Fn::GetAtt": [db_sg, "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [app_sg, "GroupId"]},
            "Description": "Letta tasks",
        }
    ]
    assert "SecurityGroupIngress" not in groups[db_sg]["Properties"]
    assert groups[db_sg]["Properties"]["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"  # no egress


def test_operator_cidrs_get_5432_and_nothing_wider() -> None:
    template = data(db_allowed_cidrs="10.8.0.0/24,fd12:3456::/64")
    groups = resources(template, "AWS::EC2::SecurityGroup")
    db_sg = next(v for v in groups.values() if v["Properties"]["GroupDescription"].startswith("Aurora"))
    rules = db_sg["Properties"]["SecurityGroupIngress"]
    assert {(r.get("CidrIp") or r.get("CidrIpv6"), r["FromPort"], r["ToPort"]) for r in rules} == {
        ("10.8.0.0/24", 5432, 5432),
        ("fd12:3456::/64", 5432, 5432),
    }


def test_postgres_log_group_is_owned_by_the_stack_and_named_as_rds_exports() -> None:
    template = data()
    cluster = only(template, "AWS::RDS::DBCluster")
    identifier = cluster["Properties"]["DBClusterIdentifier"]
    log_groups = {k: v for k, v in resources(template, "AWS::Logs::LogGroup").items() if "postgresql" in json_of(v)}
    assert len(log_groups) == 1
    key, group = next(iter(log_groups.items()))
    assert group["Properties"]["LogGroupName"] == f"/aws/rds/cluster/{identifier}/postgresql"
    assert group["Properties"]["RetentionInDays"] == 7
    assert group["DeletionPolicy"] == "Delete"
    assert key in cluster["DependsOn"], "the group must exist before RDS starts exporting into it"
    assert resources(template, "Custom::LogRetention") == {}


def test_dev_is_disposable() -> None:
    template = data()
    cluster = only(template, "AWS::RDS::DBCluster")
    assert cluster["DeletionPolicy"] == "Delete"
    assert cluster["Properties"]["DeletionProtection"] is False
    assert cluster["Properties"]["BackupRetentionPeriod"] == 1
    assert synthesized().stack("Data").termination_protection is False


def test_prod_is_protected() -> None:
    template = data(profile="prod", allow_plain_http=True)
    cluster = only(template, "AWS::RDS::DBCluster")
    assert cluster["DeletionPolicy"] == "Snapshot"
    assert cluster["UpdateReplacePolicy"] == "Snapshot"
    assert cluster["Properties"]["DeletionProtection"] is True
    assert cluster["Properties"]["BackupRetentionPeriod"] == 35
    assert synthesized(profile="prod", allow_plain_http=True).stack("Data").termination_protection is True


def test_outputs_name_everything_an_operator_needs() -> None:
    outputs = data()["Outputs"]
    for name in (
        "ClusterArn",
        "WriterEndpoint",
        "Port",
        "MasterSecretArn",
        "DatabaseSecurityGroupId",
        "AppSecurityGroupId",
    ):
        assert name in outputs, name


def test_stack_names_follow_the_env() -> None:
    names = set(synthesized(env="pr-7").templates())
    assert "letta-pr-7-data" in names


def test_storage_type_follows_the_profile() -> None:
    assert only(data(), "AWS::RDS::DBCluster")["Properties"]["StorageType"] == "aurora"
    prod = only(data(profile="prod", allow_plain_http=True), "AWS::RDS::DBCluster")["Properties"]
    assert prod["StorageType"] == "aurora-iopt1"


PROD = {"profile": "prod", "allow_plain_http": True}


def test_shared_redis_is_a_valkey_node_beside_the_database_reachable_from_the_app_only() -> None:
    # Dev (one task) has none: each task's own redis-server is enough and costs nothing.
    assert resources(data(), "AWS::ElastiCache::ReplicationGroup") == {}
    template = data(**PROD)
    group = only(template, "AWS::ElastiCache::ReplicationGroup")["Properties"]
    assert (group["Engine"], group["CacheNodeType"], group["NumCacheClusters"], group["Port"]) == (
        "valkey",
        "cache.t4g.micro",
        1,
        6379,
    )
    # Letta's client speaks neither TLS nor AUTH (letta/data_sources/redis_client.py).
    assert group["TransitEncryptionEnabled"] is False and "AuthToken" not in group
    assert group["AtRestEncryptionEnabled"] is True and group["SnapshotRetentionLimit"] == 0
    subnets = only(template, "AWS::ElastiCache::SubnetGroup")["Properties"]["SubnetIds"]
    assert all("databaseSubnet" in s["Ref"] for s in subnets) and len(subnets) == 2
    # Its own security group: 6379 from the app security group, nothing else in, nothing out.
    [group_sg] = group["SecurityGroupIds"]
    sg_id = group_sg["Fn::GetAtt"][0]
    sg = template["Resources"][sg_id]["Properties"]
    assert "SecurityGroupIngress" not in sg
    assert sg["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"  # CDK's "no egress" rule
    ingress = [
        r["Properties"]
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}
    ]
    assert len(ingress) == 1
    assert (ingress[0]["FromPort"], ingress[0]["ToPort"]) == (6379, 6379)
    assert "AppSecurityGroup" in ingress[0]["SourceSecurityGroupId"]["Fn::GetAtt"][0]
    # Explicit either way: on for one dev task, off only while one task runs.
    assert resources(data(shared_redis="on"), "AWS::ElastiCache::ReplicationGroup")
    assert not resources(
        data(**PROD, min_tasks=1, max_tasks=1, shared_redis="off"), "AWS::ElastiCache::ReplicationGroup"
    )
    assert "RedisEndpoint" in template["Outputs"]


def test_prod_has_a_serverless_v2_reader_in_the_second_az_scaling_with_the_writer() -> None:
    # The data stack holds the writer only; the reader stack (deployed beside the service stack) the reader.
    assert len(resources(data(**PROD), "AWS::RDS::DBInstance")) == 1
    [writer] = [v["Properties"] for v in resources(data(**PROD), "AWS::RDS::DBInstance").values()]
    assert not resources(reader_stack(), "AWS::RDS::DBInstance")  # dev: none, only a no-op placeholder
    assert resources(reader_stack(), "AWS::CloudFormation::WaitConditionHandle")
    [reader] = [v["Properties"] for v in resources(reader_stack(**PROD), "AWS::RDS::DBInstance").values()]
    assert (writer["PromotionTier"], reader["PromotionTier"]) == (0, 1)  # tier 0-1 scales with the writer
    assert reader["DBInstanceClass"] == "db.serverless"
    assert reader["AvailabilityZone"] == {"Fn::Select": [1, {"Fn::GetAZs": ""}]}
    assert "AvailabilityZone" not in writer  # naming it now would replace the deployed writer
    assert reader["AutoMinorVersionUpgrade"] is False and reader["PubliclyAccessible"] is False
    # The same telemetry as the writer, and the same cluster; created after the writer, whose id it names.
    for key in ("Engine", "EnablePerformanceInsights", "PerformanceInsightsRetentionPeriod", "MonitoringInterval"):
        assert reader[key] == writer[key], key
    assert "DatabaseCluster" in json.dumps(reader["DBClusterIdentifier"]["Fn::ImportValue"])
    tags = {t["Key"]: t["Value"] for t in reader["Tags"]}
    assert "DatabaseClusterWriter" in json.dumps(tags["letta:created-after"])
    # Prod's capacity: 4 ACU, so that 4 pooled tasks fit Aurora's max_connections (README, Scaling out).
    cluster = only(data(**PROD), "AWS::RDS::DBCluster")["Properties"]
    assert cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4}
