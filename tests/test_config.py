"""The config model: profile defaults, values as cdk.json types or `-c` strings, every bad value refused in
one line naming the key, the value and what is allowed, unknown keys with a did-you-mean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from stacks.aws_rules import FARGATE_SIZES
from stacks.config import CONFIG_KEYS, LOG_RETENTION_DAYS, ConfigError, LettaConfig

CDK_JSON_CONTEXT = json.loads((Path(__file__).resolve().parents[1] / "cdk.json").read_text())["context"]
UUID = "00000000-0000-0000-0000-000000000000"
ACCOUNT = "123456789012"
CERT_US = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{UUID}"
CERT_EU = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/{UUID}"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:letta-llm-AbC123"
CONNECTION = f"arn:aws:codeconnections:eu-west-1:{ACCOUNT}:connection/{UUID}"
DIGEST = "sha256:" + "a" * 64
PROD = {"profile": "prod", "allow_plain_http": True}
SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:rds:letta-prod-2026-12-01-03-00"
RESTORE = {"env": "copy", "restore_snapshot": "letta-prod-final", "restore_encryption_key_arn": SECRET}
POINT = {"env": "copy", "restore_source_cluster": "letta-prod", "restore_time": "2026-01-15T09:30:00Z"}
POINT |= {"restore_encryption_key_arn": SECRET}
VPC = {
    "vpc_id": "vpc-0a1b2c3d",
    "vpc_availability_zones": ["us-east-1a", "us-east-1b"],
    "vpc_public_subnet_ids": ["subnet-0aaaaaa1", "subnet-0aaaaaa2"],
    "vpc_private_subnet_ids": ["subnet-0bbbbbb1", "subnet-0bbbbbb2"],
    "vpc_database_subnet_ids": ["subnet-0cccccc1", "subnet-0cccccc2"],
}
DOMAIN = {
    "domain_name": "letta.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "hosted_zone_name": "example.com",
}
PIPELINE = {
    "pipeline": True,
    "region": "eu-west-1",
    "pipeline_repo": "acme/letta",
    "pipeline_connection_arn": CONNECTION,
}


@pytest.fixture(autouse=True)
def _no_cli_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's default region would take part in the region rules; tests set it where they mean to."""
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)


def config(**values: Any) -> LettaConfig:
    return LettaConfig.from_mapping(values)


def as_cli(value: Any) -> str:
    """What `-c key=value` hands the app: always a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return json.dumps(list(value)) if any(not isinstance(v, str) or "," in v for v in value) else ",".join(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def from_cdk_json(values: dict[str, Any]) -> LettaConfig:
    """The cdk.json path: the values as JSON types in the app's context, read as compose() reads them."""
    return LettaConfig.from_app(cdk.App(context={**CDK_JSON_CONTEXT, **values}))


def from_command_line(values: dict[str, Any]) -> LettaConfig:
    """The `-c` path: the same values as the strings the CLI passes."""
    return LettaConfig.from_app(cdk.App(context={**CDK_JSON_CONTEXT, **{k: as_cli(v) for k, v in values.items()}}))


# --- Defaults and parsing -------------------------------------------------------------------------------


def test_defaults_are_the_walkthrough_sizing_in_dev() -> None:
    c = config()
    assert (c.env, c.profile) == ("dev", "dev")
    # dev pauses when idle (docs/configuration.md, "What an idle environment costs"); prod stays at 0.5.
    assert (c.min_acu, c.max_acu) == (0, 1)
    assert config(**PROD).min_acu == 0.5
    assert c.postgres_version == "17.9"
    assert c.letta_image == "letta/letta:0.16.8"
    assert (c.removal_behaviour, c.deletion_protection, c.nat_gateways) == ("destroy", False, 0)
    assert c.db_allowed_cidrs == () and c.api_allowed_cidrs == ()
    assert (c.storage_type, c.app_password_generation, c.allow_plain_http) == ("aurora", 1, False)
    # A throwaway environment runs on Fargate Spot (docs/configuration.md: what an interruption does).
    assert c.capacity_provider == "spot"


def test_prod_profile_is_protected() -> None:
    c = config(**PROD)
    assert c.is_prod
    assert (c.removal_behaviour, c.deletion_protection, c.backup_retention_days) == ("snapshot", True, 35)
    assert (c.min_tasks, c.max_tasks) == (2, 4)
    assert c.nat_gateways >= 1 and c.alarms
    # I/O-Optimized: a searched archive is read from storage in full (README, "Agent memory at scale").
    assert c.storage_type == "aurora-iopt1"
    assert c.capacity_provider == "on-demand"


def test_env_named_prod_implies_prod_profile() -> None:
    assert config(env="prod", allow_plain_http=True).profile == "prod"
    assert config(env="pr-42").profile == "dev"


def test_command_line_strings_are_parsed() -> None:
    c = config(
        min_acu="0",
        max_acu="4",
        db_allowed_cidrs="10.8.0.0/24, 192.168.50.0/24",
        deletion_protection="true",
        backup_retention_days="7",
        task_cpu="2048",
        task_memory="4096",
        llm_secret_keys='{"OPENAI_API_KEY": "OPENAI_API_KEY"}',
        api_allowed_cidrs='["2001:db8::/32"]',
    )
    assert (c.min_acu, c.max_acu) == (0, 4)
    assert c.db_allowed_cidrs == ("10.8.0.0/24", "192.168.50.0/24")
    assert c.api_allowed_cidrs == ("2001:db8::/32",)
    assert c.deletion_protection is True
    assert (c.backup_retention_days, c.task_cpu, c.task_memory) == (7, 2048, 4096)
    assert c.llm_secret_keys == {"OPENAI_API_KEY": "OPENAI_API_KEY"}


def test_explicit_value_beats_profile_default() -> None:
    assert config(**PROD, backup_retention_days=14).backup_retention_days == 14


def test_cdk_json_holds_only_what_a_user_edits() -> None:
    mine = {k: v for k, v in CDK_JSON_CONTEXT.items() if not k.startswith("@")}
    assert set(mine) <= set(CONFIG_KEYS)
    # Defaults live in the model alone: cdk.json repeats none except the environment name users change.
    repeated = {k for k, v in mine.items() if LettaConfig.model_fields[k].default == v and v not in ([], "dev")}
    assert repeated == set()
    LettaConfig.from_mapping(CDK_JSON_CONTEXT)


def test_config_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        config().min_acu = 2  # type: ignore[misc]


def test_from_context_reads_known_keys_through_a_getter() -> None:
    assert LettaConfig.from_context({"min_acu": "0", "max_acu": "2"}.get).max_acu == 2


def test_every_key_has_a_description_and_what_is_allowed() -> None:
    for name, field in LettaConfig.model_fields.items():
        assert field.description, name
        assert isinstance(field.json_schema_extra, dict) and field.json_schema_extra["allowed"], name


def test_cdk_keys_are_not_refused() -> None:
    from_cdk_json(
        {
            "@aws-cdk/aws-s3:newFlag": True,
            "@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver": True,
            "aws:cdk:enable-path-metadata": True,
            "aws-cdk:enableDiffNoFail": True,
            "cdk-nag:verbose": True,
            "acknowledged-issue-numbers": [34892],
            "availability-zones:account=123456789012:region=eu-west-1": ["eu-west-1a", "eu-west-1b"],
        }
    )


def test_cli_default_region_takes_part_in_the_region_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_DEFAULT_REGION", "ap-south-2")  # no RDS Data API there
    with pytest.raises(ConfigError, match="CDK_DEFAULT_REGION"):
        from_cdk_json({})
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-1")
    with pytest.raises(ConfigError, match=r"certificate_arn.*us-east-1"):
        from_cdk_json({"certificate_arn": CERT_EU})
    assert from_cdk_json({"certificate_arn": CERT_US}).region is None


# --- Invalid: (values, key, a fragment of what the line must say) ---------------------------------------

INVALID: list[tuple[dict[str, Any], str, str]] = [
    # typos and unknown keys
    ({"min_acus": 2}, "min_acus", "did you mean 'min_acu'"),
    ({"max-acu": 4}, "max-acu", "did you mean 'max_acu'"),
    ({"db_allowed_cidr": "10.0.0.0/8"}, "db_allowed_cidr", "did you mean 'db_allowed_cidrs'"),
    ({"db_allow_public": True}, "db_allow_public", "did you mean 'api_allow_public'"),
    ({"MIN_ACU": 1}, "MIN_ACU", "did you mean 'min_acu'"),
    ({"api_allowed_cidr": "203.0.113.7/32"}, "api_allowed_cidr", "did you mean 'api_allowed_cidrs'"),
    ({"letta_imgae": "letta/letta:0.16.8"}, "letta_imgae", "did you mean 'letta_image'"),
    ({"flux_capacitor": 1}, "flux_capacitor", "not a config key"),
    # profile and env
    ({"profile": "staging"}, "profile", "dev, prod"),
    ({"env": "Dev"}, "env", "lowercase"),
    ({"env": "my_env"}, "env", "lowercase"),
    ({"env": "a" * 21}, "env", "1-20"),
    ({"env": "dev-"}, "env", "single '-'"),
    ({"env": "pr--42"}, "env", "single '-'"),
    ({"env": "-dev"}, "env", "starting with a letter"),
    ({"env": "1dev"}, "env", "starting with a letter"),
    ({"env": "dev\n"}, "env", "newlines"),
    ({"env": " dev"}, "env", "spaces"),
    ({"env": ""}, "env", "1-20"),
    # capacity
    ({"min_acu": 0.25}, "min_acu", "steps of 0.5"),
    ({"min_acu": "half"}, "min_acu", "steps of 0.5"),
    ({"min_acu": -0.5}, "min_acu", "0 to 256"),
    ({"min_acu": "nan"}, "min_acu", "0 to 256"),
    ({"min_acu": 2, "max_acu": 1}, "min_acu", "at most max_acu"),
    ({"max_acu": 300}, "max_acu", "1 to 256"),
    ({"max_acu": 0.5}, "max_acu", "1 to 256"),
    ({"max_acu": 1.3}, "max_acu", "steps of 0.5"),
    ({"max_acu": "inf"}, "max_acu", "1 to 256"),
    ({"auto_pause_seconds": 60}, "auto_pause_seconds", "300 to 86400"),
    ({"auto_pause_seconds": 86_401}, "auto_pause_seconds", "300 to 86400"),
    ({"auto_pause_seconds": 300.5}, "auto_pause_seconds", "whole number"),
    # engine and storage
    ({"postgres_version": "16.4"}, "postgres_version", "17.9"),
    ({"postgres_version": "17.1"}, "postgres_version", "17.4"),
    ({"postgres_version": "17.8"}, "postgres_version", "17.9"),
    ({"storage_type": "io1"}, "storage_type", "aurora-iopt1"),
    # database and role names
    ({"db_name": "_letta"}, "db_name", "starting with a letter"),
    ({"db_name": "user"}, "db_name", "reserved word"),
    ({"db_name": "select"}, "db_name", "reserved word"),
    ({"db_name": "Letta-DB"}, "db_name", "lowercase"),
    ({"db_name": "1letta"}, "db_name", "starting with a letter"),
    ({"db_name": "a" * 64}, "db_name", "1-63"),
    ({"db_name": "postgres"}, "db_name", "not postgres"),
    ({"db_name": "template1"}, "db_name", "template1"),
    ({"app_db_user": "pg_letta"}, "app_db_user", "pg_*"),
    ({"app_db_user": "postgres"}, "app_db_user", "postgres"),
    ({"app_db_user": "rdsadmin"}, "app_db_user", "rds*"),
    ({"app_db_user": "rds_letta"}, "app_db_user", "rds*"),
    ({"app_db_user": "public"}, "app_db_user", "public"),
    ({"app_db_user": "user"}, "app_db_user", "reserved word"),
    ({"app_db_user": 'x"; DROP ROLE postgres; --'}, "app_db_user", "role name"),
    ({"app_password_generation": 0}, "app_password_generation", "1 to 1000000"),
    ({"app_password_generation": 1_000_001}, "app_password_generation", "1 to 1000000"),
    # network exposure
    ({"db_allowed_cidrs": ["10.0.0.1/33"]}, "db_allowed_cidrs", "CIDRs"),
    ({"db_allowed_cidrs": "10.8.0.7/24"}, "db_allowed_cidrs", "host bits zero"),
    ({"db_allowed_cidrs": "my-laptop"}, "db_allowed_cidrs", "CIDRs"),
    ({"db_allowed_cidrs": ["0.0.0.0/0"]}, "db_allowed_cidrs", "connect.py --tunnel"),
    ({"db_allowed_cidrs": "::/0"}, "db_allowed_cidrs", "no public address"),
    ({"db_allowed_cidrs": "203.0.113.7/32"}, "db_allowed_cidrs", "routed into the VPC"),
    ({"db_allowed_cidrs": "10.0.0.0/7"}, "db_allowed_cidrs", "10.0.0.0/8"),
    ({"db_allowed_cidrs": "2001:db8::/64"}, "db_allowed_cidrs", "fc00::/7"),
    ({"api_allowed_cidrs": "0.0.0.0/0"}, "api_allowed_cidrs", "api_allow_public=true"),
    ({"api_allowed_cidrs": "0.0.0.0/0,::/0", "api_allow_public": True}, "certificate_arn", "allow_plain_http=true"),
    (
        {"api_allowed_cidrs": ["0.0.0.0/1", "128.0.0.0/1"], "api_allow_public": True},
        "certificate_arn",
        "admit all of 0.0.0.0/0",
    ),
    ({"api_allowed_cidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "api_allowed_cidrs", "0.0.0.0/0"),
    ({"api_allowed_cidrs": ["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2"]}, "api_allowed_cidrs", "0.0.0.0/0"),
    ({"api_allowed_cidrs": ["2000::/4", "3000::/4"]}, "api_allowed_cidrs", "::/0"),
    ({"api_allowed_cidrs": [f"198.51.100.{i}/32" for i in range(61)]}, "api_allowed_cidrs", "at most 60 IPv4"),
    (
        {"api_allowed_cidrs": [f"198.51.100.{i}/32" for i in range(31)], "certificate_arn": CERT_US},
        "api_allowed_cidrs",
        "at most 30 IPv4",
    ),
    ({"db_allowed_cidrs": [f"fd00:{i:x}::/48" for i in range(60)]}, "db_allowed_cidrs", "at most 59 IPv6"),
    # protection and backups
    ({"backup_retention_days": 0}, "backup_retention_days", "1 to 35"),
    ({"backup_retention_days": 36}, "backup_retention_days", "1 to 35"),
    ({"backup_retention_days": 1.5}, "backup_retention_days", "whole number"),
    ({"deletion_protection": "yes"}, "deletion_protection", "true or false"),
    ({"deletion_protection": 1}, "deletion_protection", "true"),
    ({"removal_behaviour": "retain"}, "removal_behaviour", "snapshot"),
    ({**PROD, "removal_behaviour": "destroy"}, "removal_behaviour", "prod"),
    ({"nat_gateways": 3}, "nat_gateways", "0, 1 or 2"),
    ({"nat_gateways": -1}, "nat_gateways", "0, 1 or 2"),
    ({**PROD, "nat_gateways": 0}, "nat_gateways", "prod"),
    # image references
    ({"letta_image": "letta/letta:latest"}, "letta_image", "not pinned"),
    ({"letta_image": "letta/letta"}, "letta_image", "not pinned"),
    ({"letta_image": "letta/letta@sha256:abc"}, "letta_image", "grammar"),
    ({"letta_image": "letta/letta@md5:" + "a" * 32}, "letta_image", "sha256"),
    ({"letta_image": "https://docker.io/letta/letta:0.16.8"}, "letta_image", "grammar"),
    ({"letta_image": "letta/letta:0.16.8:fix"}, "letta_image", "grammar"),
    ({"letta_image": "letta//letta:0.16.8"}, "letta_image", "grammar"),
    ({"letta_image": "Letta/Letta:0.16.8"}, "letta_image", "grammar"),
    ({"letta_image": "letta/letta:"}, "letta_image", "grammar"),
    ({"letta_image": "letta/letta:0.16.8\n"}, "letta_image", "newlines"),
    ({"letta_image": "letta/letta:" + "x" * 129}, "letta_image", "grammar"),
    # Fargate
    ({"task_cpu": 1000}, "task_cpu", "256, 512, 1024"),
    ({"task_cpu": 256, "task_memory": 4096}, "task_memory", "512, 1024, 2048"),
    ({"task_cpu": 256, "task_memory": 1536}, "task_memory", "512, 1024, 2048"),
    ({"task_cpu": 8192, "task_memory": 17408}, "task_memory", "16384, 20480"),
    ({"task_cpu": 16384, "task_memory": 24576}, "task_memory", "32768"),
    ({"cpu_architecture": "arm"}, "cpu_architecture", "arm64, x86_64"),
    ({"capacity_provider": "fargate_spot"}, "capacity_provider", "spot, on-demand"),
    ({"min_tasks": 3, "max_tasks": 2}, "min_tasks", "at most max_tasks"),
    ({"min_tasks": 0}, "min_tasks", "1 to 20"),
    ({"max_tasks": 21}, "max_tasks", "1 to 20"),
    ({"max_tasks": 2, "shared_redis": "off"}, "shared_redis", "'auto' or 'on' with max_tasks 2"),
    ({"shared_redis": "maybe"}, "shared_redis", "auto (on when max_tasks > 1), on, off"),
    ({"cache_node_type": "t4g.micro"}, "cache_node_type", "cache.<family>.<size>"),
    ({"readers": 2}, "readers", "0 or 1"),
    ({"db_pooling": "sometimes"}, "db_pooling", "true or false"),
    ({"db_tls_verify": "sometimes"}, "db_tls_verify", "true or false"),
    # Verified TLS needs the region's RDS roots in the committed bundle (stacks/service/rds_ca/).
    ({"region": "ap-east-2"}, "db_tls_verify", "false in ap-east-2: stacks/service/rds_ca/rds-roots.pem has no RDS"),
    ({"region": "cn-north-1"}, "db_tls_verify", "China and GovCloud publish their own bundles"),
    # 3 tasks x 2 x 36 + 11 = 227 connections against 189 at 1 ACU.
    ({"max_tasks": 3}, "max_acu", "a connection budget that fits: 3 tasks x 2 (deployment overlap) x 36"),
    ({**PROD, "max_acu": 1}, "max_acu", "= 299; Aurora's max_connections at max_acu 1 (min_acu 0.5) is 189"),
    # regions and ARNs
    ({"region": "mars-1"}, "region", "region name"),
    ({"region": "ap-south-2"}, "region", "Data API"),
    ({"region": "us-east-7"}, "region", "Data API"),
    ({"region": "US-EAST-1"}, "region", "region name"),
    ({"certificate_arn": "my-cert"}, "certificate_arn", "ACM certificate ARN"),
    ({"certificate_arn": f"arn:aws:iam::{ACCOUNT}:server-certificate/x"}, "certificate_arn", "ACM"),
    ({"certificate_arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/abc"}, "certificate_arn", "<uuid>"),
    ({"region": "us-east-1", "certificate_arn": CERT_EU}, "certificate_arn", "region us-east-1"),
    ({"profile": "prod"}, "certificate_arn", "allow_plain_http=true"),
    ({"env": "prod"}, "certificate_arn", "allow_plain_http=true"),
    ({"llm_secret_arn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:letta-llm"}, "llm_secret_arn", "6"),
    ({"llm_secret_arn": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/x"}, "llm_secret_arn", "Secrets Manager"),
    ({"llm_secret_arn": "letta-llm"}, "llm_secret_arn", "Secrets Manager"),
    ({"letta_image_credentials_arn": "dockerhub"}, "letta_image_credentials_arn", "Secrets Manager"),
    (
        {"letta_image_credentials_arn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:hub"},
        "letta_image_credentials_arn",
        "6",
    ),
    ({"region": "cn-north-1", "llm_secret_arn": SECRET}, "llm_secret_arn", "partition aws-cn"),
    # LLM keys
    ({"llm_secret_keys": {"PATH": "x"}}, "llm_secret_keys", "OPENAI_API_KEY"),
    ({"llm_secret_keys": "{not json"}, "llm_secret_keys", "JSON object"),
    ({"llm_secret_keys": {"OPENAI_API_KEY": "openai"}}, "llm_secret_keys", "llm_secret_arn"),
    ({"llm_secret_keys": {}}, "llm_secret_keys", "non-empty"),
    ({"llm_secret_keys": ["OPENAI_API_KEY"]}, "llm_secret_keys", "JSON object"),
    ({"llm_secret_arn": SECRET, "llm_secret_keys": {"OPENAI_API_KEY": "a b"}}, "llm_secret_keys", "JSON key"),
    # operations
    ({"log_retention_days": 10}, "log_retention_days", "CloudWatch Logs retention"),
    ({"log_retention_days": 0}, "log_retention_days", "CloudWatch Logs retention"),
    ({"alarm_email": "ops@example.com"}, "alarm_email", "alarms=true"),
    ({"alarm_email": "not-an-email", "alarms": True}, "alarm_email", "email address"),
    # pipeline
    ({**PIPELINE, "pipeline_repo": None}, "pipeline_repo", "required with pipeline=true"),
    ({**PIPELINE, "pipeline_connection_arn": None}, "pipeline_connection_arn", "required with pipeline=true"),
    ({**PIPELINE, "region": None}, "region", "required with pipeline=true"),
    ({"pipeline_repo": "not a repo"}, "pipeline_repo", "owner/name"),
    ({"pipeline_branch": "a..b"}, "pipeline_branch", "branch"),
    ({"pipeline_branch": "feature/"}, "pipeline_branch", "branch"),
    (
        {"pipeline_connection_arn": f"arn:aws:codeconnections:eu-west-1:{ACCOUNT}:connection/abc"},
        "pipeline_connection_arn",
        "uuid",
    ),
    ({"pipeline_connection_arn": CERT_US}, "pipeline_connection_arn", "CodeConnections"),
    # restore (docs/restore.md)
    ({**RESTORE, "restore_source_cluster": "letta-prod", "restore_time": "latest"}, "restore_snapshot", "not both"),
    ({"env": "copy", "restore_time": "latest", "restore_encryption_key_arn": SECRET}, "restore_time", "only with"),
    (
        {"env": "copy", "restore_source_cluster": "letta-prod", "restore_encryption_key_arn": SECRET},
        "restore_source_cluster",
        "with restore_time",
    ),
    ({**POINT, "restore_time": "2999-01-01T00:00:00Z"}, "restore_time", "a time in the past"),
    ({**POINT, "restore_time": "2026-12-01 09:30"}, "restore_time", "ISO-8601 UTC"),
    ({**POINT, "restore_time": "2026-02-30T09:30:00Z"}, "restore_time", "ISO-8601 UTC"),
    ({**POINT, "restore_source_cluster": "letta-copy"}, "restore_source_cluster", "another environment's cluster"),
    (
        {**POINT, "restore_source_cluster": "arn:aws:rds:us-east-1:123456789012:cluster:letta-prod"},
        "restore_source_cluster",
        "cluster identifier",
    ),
    ({**RESTORE, "restore_snapshot": "letta--prod"}, "restore_snapshot", "DB cluster snapshot name"),
    ({**RESTORE, "restore_snapshot": "arn:aws:rds:us-east-1:123456789012:snapshot:x"}, "restore_snapshot", "ARN"),
    ({**RESTORE, "region": "eu-west-1", "restore_snapshot": SNAPSHOT_ARN}, "restore_snapshot", "copy it there"),
    ({"env": "copy", "restore_snapshot": "letta-prod-final"}, "restore_encryption_key_arn", "unreadable"),
    ({"restore_encryption_key_arn": SECRET}, "restore_encryption_key_arn", "only with restore_snapshot"),
    ({"restore_server_password_arn": SECRET}, "restore_server_password_arn", "only with restore_snapshot"),
    ({**RESTORE, "restore_encryption_key_arn": "letta-prod-key"}, "restore_encryption_key_arn", "secret ARN"),
    ({**RESTORE, "llm_secret_arn": SECRET, "restore_llm_keys_arn": SECRET}, "restore_llm_keys_arn", "llm_secret_arn"),
    ({**RESTORE, "region": "eu-west-1", "restore_snapshot": "s1"}, "restore_encryption_key_arn", "region"),
    # an existing VPC (docs/network.md): ids by grammar, zones of the region, one subnet per zone, consistent keys
    ({**VPC, "vpc_id": "vpc-123"}, "vpc_id", "8 or 17"),
    ({**VPC, "vpc_id": "VPC-0A1B2C3D"}, "vpc_id", "lowercase hex"),
    ({**VPC, "vpc_public_subnet_ids": "subnet-0aaaaaa1,sg-0aaaaaaa2"}, "vpc_public_subnet_ids", "subnet-"),
    ({**VPC, "vpc_database_subnet_ids": "subnet-0cccccc1,subnet-0cccccc1"}, "vpc_database_subnet_ids", "once"),
    ({**VPC, "vpc_availability_zones": "us-east-1a"}, "vpc_availability_zones", "2 to 6"),
    ({**VPC, "vpc_availability_zones": "use1-az1,use1-az2"}, "vpc_availability_zones", "us-east-1a"),
    ({**VPC, "region": "eu-west-1"}, "vpc_availability_zones", "region eu-west-1"),
    ({**VPC, "vpc_public_subnet_ids": "subnet-0aaaaaa1"}, "vpc_public_subnet_ids", "one subnet id per zone"),
    ({**VPC, "vpc_private_subnet_ids": "subnet-0bbbbbb1"}, "vpc_private_subnet_ids", "one subnet id per zone"),
    ({**VPC, "vpc_database_subnet_ids": ""}, "vpc_database_subnet_ids", "one subnet id per zone"),
    ({**VPC, "vpc_private_subnet_ids": "subnet-0aaaaaa1,subnet-0bbbbbb2"}, "vpc_private_subnet_ids", "other than"),
    ({"vpc_public_subnet_ids": "subnet-0aaaaaa1,subnet-0aaaaaa2"}, "vpc_public_subnet_ids", "only with vpc_id"),
    ({"vpc_endpoints": True}, "vpc_endpoints", "only with vpc_id"),
    ({**VPC, "nat_gateways": 1}, "nat_gateways", "0 with vpc_id"),
    ({**VPC, "vpc_cidr": "10.1.0.0/16"}, "vpc_cidr", "unset with vpc_id"),
    ({**VPC, **PROD, "vpc_private_subnet_ids": ""}, "vpc_private_subnet_ids", "prod profile"),
    ({**VPC, "vpc_endpoints": True}, "vpc_private_route_table_ids", "one route table id per private subnet"),
    ({**VPC, "vpc_endpoints": True, "vpc_private_subnet_ids": ""}, "vpc_endpoints", "with vpc_private_subnet_ids"),
    ({**VPC, "vpc_private_route_table_ids": "rtb-0dddddd1,rtb-0dddddd2"}, "vpc_private_route_table_ids", "only"),
    (
        {**VPC, "vpc_endpoints": True, "vpc_private_route_table_ids": "rtb-1,rtb-2"},
        "vpc_private_route_table_ids",
        "rtb",
    ),
    # your domain
    ({**DOMAIN, "domain_name": "https://letta.example.com"}, "domain_name", "no scheme"),
    ({**DOMAIN, "domain_name": "Letta.Example.com"}, "domain_name", "lowercase"),
    ({**DOMAIN, "domain_name": "*.example.com"}, "domain_name", "no wildcard"),
    ({**DOMAIN, "domain_name": "letta.example.com."}, "domain_name", "no trailing dot"),
    ({**DOMAIN, "domain_name": "letta.example.org"}, "domain_name", "in the hosted zone example.com"),
    ({**DOMAIN, "domain_name": "notexample.com"}, "domain_name", "in the hosted zone"),
    ({**DOMAIN, "hosted_zone_id": "/hostedzone/Z0123456789"}, "hosted_zone_id", "Z0123456789ABCDEFGHIJ"),
    ({**DOMAIN, "hosted_zone_id": None}, "hosted_zone_id", "required with domain_name"),
    ({**DOMAIN, "hosted_zone_name": None}, "hosted_zone_name", "required with domain_name"),
    ({"hosted_zone_id": "Z0123456789"}, "hosted_zone_id", "only with domain_name"),
    # browser origins (Letta's ACCEPTABLE_ORIGINS)
    ({**DOMAIN, "browser_origins": "https://ade.example.com/"}, "browser_origins", "no trailing '/'"),
    ({**DOMAIN, "browser_origins": ["https://ade.example.com/app"]}, "browser_origins", "no path"),
    ({**DOMAIN, "browser_origins": [" https://ade.example.com"]}, "browser_origins", "spaces"),
    ({**DOMAIN, "browser_origins": ["https://ade example.com"]}, "browser_origins", "no spaces"),
    ({**DOMAIN, "browser_origins": "http://ade.example.com"}, "browser_origins", "https origins"),
    ({**DOMAIN, "browser_origins": "ade.example.com"}, "browser_origins", "scheme://host"),
    ({**DOMAIN, "browser_origins": "https://ade.example.com:99999"}, "browser_origins", "scheme://host"),
    ({**DOMAIN, "browser_origins": "https://a.example.com,https://a.example.com"}, "browser_origins", "once"),
    ({"browser_origins": "https://ade.example.com"}, "browser_origins", "certificate_arn or domain_name"),
    # the created VPC's range
    ({"vpc_cidr": "8.8.0.0/16"}, "vpc_cidr", "private IPv4 range"),
    ({"vpc_cidr": "10.40.0.0/24"}, "vpc_cidr", "/16 to /20"),
    ({"vpc_cidr": "10.0.0.0/8"}, "vpc_cidr", "/16 to /20"),
    ({"vpc_cidr": "10.40.0.1/16"}, "vpc_cidr", "host bits zero"),
    ({"vpc_cidr": "fd00::/56"}, "vpc_cidr", "private IPv4 range"),
]


def _cases() -> list[Any]:
    return [pytest.param(v, name, fragment, id=f"{i}-{name}") for i, (v, name, fragment) in enumerate(INVALID)]


def _drop_nones(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _assert_one_line(raised: ConfigError, name: str, fragment: str) -> None:
    message = str(raised)
    assert raised.key == name
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"config '{name}' = ") and " is not allowed: " in message
    assert fragment in message, message


def test_at_least_sixty_invalid_configurations() -> None:
    assert len(INVALID) >= 60


@pytest.mark.parametrize(("values", "name", "fragment"), _cases())
def test_invalid_in_cdk_json_is_refused_in_one_line(values: dict[str, Any], name: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_cdk_json(_drop_nones(values))
    _assert_one_line(raised.value, name, fragment)


@pytest.mark.parametrize(("values", "name", "fragment"), _cases())
def test_invalid_on_the_command_line_is_refused_in_one_line(values: dict[str, Any], name: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_command_line(_drop_nones(values))
    _assert_one_line(raised.value, name, fragment)


def test_task_memory_refusal_lists_exactly_the_fargate_sizes() -> None:
    for cpu, sizes in FARGATE_SIZES.items():
        for memory in sizes:
            assert config(task_cpu=cpu, task_memory=memory).task_memory == memory
        for memory in (sizes[0] - 1, sizes[-1] + 1, sizes[0] + 512):
            if memory not in sizes:
                with pytest.raises(ConfigError, match=", ".join(map(str, sizes))):
                    config(task_cpu=cpu, task_memory=memory)


def test_every_log_retention_value_is_accepted() -> None:
    for days in LOG_RETENTION_DAYS:
        assert config(log_retention_days=str(days)).log_retention_days == days


# --- Unusual but valid ----------------------------------------------------------------------------------

VALID: list[dict[str, Any]] = [
    {"min_acu": 0, "auto_pause_seconds": 86_400},
    {"min_acu": 128.5, "max_acu": 256},
    {"postgres_version": 17.4},
    {"storage_type": "aurora-iopt1", "postgres_version": "17.5"},
    {"db_name": "x", "app_db_user": "_letta"},
    {"db_name": "l" + "_" * 62, "app_db_user": "usr"},
    {"letta_image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/mirror/letta/letta:0.16.8@{DIGEST}"},
    {"letta_image": "localhost:5000/letta__fork/letta-server:v0.16.8-fix.1"},
    {"letta_image": f"ghcr.io/acme/letta@{DIGEST}", "cpu_architecture": "x86_64", "capacity_provider": "on-demand"},
    {"task_cpu": 16384, "task_memory": 122_880},
    {"task_cpu": 256, "task_memory": 512},
    {"db_allowed_cidrs": ["10.8.0.0/16", "fd12:3456::/48"], "api_allowed_cidrs": "198.51.100.0/24,10.0.0.0/8"},
    {"api_allowed_cidrs": ["0.0.0.0/0", "::/0"], "api_allow_public": True, "certificate_arn": CERT_US},
    # The one escape from TLS for a world-open API, said in so many words.
    {"api_allowed_cidrs": "0.0.0.0/0", "api_allow_public": True, "allow_plain_http": True},
    {"api_allowed_cidrs": ["0.0.0.0/1"]},
    {"api_allowed_cidrs": [f"198.51.100.{i}/32" for i in range(60)] + [f"2001:db8:{i:x}::/48" for i in range(60)]},
    {"db_allowed_cidrs": "100.64.0.0/10,172.16.0.0/12", "min_acu": 0},
    {**PROD, "region": "eu-west-1", "certificate_arn": CERT_EU, "allow_plain_http": False, "nat_gateways": 1},
    {**PROD, "deletion_protection": False, "backup_retention_days": 1, "min_tasks": 1, "max_tasks": 1},
    {"llm_secret_arn": SECRET, "llm_secret_keys": {"OPENAI_API_KEY": "openai", "GROQ_API_KEY": "groq.key"}},
    {"llm_secret_keys": {"ANTHROPIC_API_KEY": "ANTHROPIC_API_KEY"}},
    {"log_retention_days": 3653, "alarms": True, "alarm_email": "ops+letta@example.co.uk"},
    {"env": "a1-b2-c3-d4-e5-f6-g7", "app_password_generation": 1_000_000},
    {"certificate_arn": "none", "llm_secret_arn": "null"},
    # 20 tasks x 2 (deployment overlap) x 36 + 11 = 1,451 connections: 8 ACU (1,669) hold them.
    {"enable_ecs_exec": "TRUE", "max_tasks": 20, "min_tasks": 20, "max_acu": 8},
    {"shared_redis": "on", "cache_node_type": "cache.r7g.large"},
    {"max_tasks": 2, "shared_redis": "auto", "db_pooling": True, "readers": 1},
    {**PROD, "shared_redis": "on", "readers": 0, "db_pooling": False},
    {**PIPELINE, "pipeline_branch": "release/2026.12"},
    {
        **RESTORE,
        "restore_snapshot": SNAPSHOT_ARN,
        "restore_server_password_arn": SECRET,
        "restore_llm_keys_arn": SECRET,
    },
    {**POINT, "restore_time": "latest", "llm_secret_arn": SECRET},
    {**VPC},
    {**VPC, "vpc_private_subnet_ids": ""},
    {**VPC, **PROD, "region": "us-east-1", "readers": 1},
    {
        **VPC,
        "vpc_availability_zones": "us-east-1a,us-east-1b,us-east-1c",
        "vpc_public_subnet_ids": "subnet-0aaaaaa1,subnet-0aaaaaa2,subnet-0aaaaaa3",
        "vpc_private_subnet_ids": "subnet-0bbbbbb1,subnet-0bbbbbb2,subnet-0bbbbbb3",
        "vpc_database_subnet_ids": "subnet-0bbbbbb1,subnet-0bbbbbb2,subnet-0bbbbbb3",
        "vpc_endpoints": True,
        "vpc_private_route_table_ids": "rtb-0dddddd1,rtb-0dddddd2,rtb-0dddddd1",
    },
    {**DOMAIN},
    # An internet-open API over the certificate domain_name makes (no certificate_arn needed).
    {**DOMAIN, "api_allowed_cidrs": "0.0.0.0/0,::/0", "api_allow_public": True},
    {**DOMAIN, "domain_name": "example.com", "certificate_arn": CERT_US, "region": "us-east-1"},
    {**DOMAIN, **PROD, "allow_plain_http": False, "domain_name": "a-1.api.eu.example.com"},
    {"browser_origins": "http://localhost:5173,http://127.0.0.1:3000,http://[::1]:8080"},
    {"certificate_arn": CERT_US, "browser_origins": ["https://ade.example.com", "https://tools.example.co.uk:8443"]},
    {"vpc_cidr": "192.168.0.0/20", "nat_gateways": 1},
    {"vpc_cidr": "172.31.0.0/16", "vpc_id": None},
    # A region the RDS bundle lacks, knowingly unverified.
    {"region": "ap-east-2", "db_tls_verify": False},
]


def test_at_least_fifteen_valid_configurations() -> None:
    assert len(VALID) >= 15


@pytest.mark.parametrize("values", VALID, ids=lambda v: ",".join(v)[:60])
def test_unusual_but_valid_config_parses_on_both_paths(values: dict[str, Any]) -> None:
    assert from_cdk_json(values) == from_command_line(values)


@pytest.mark.synth
@pytest.mark.parametrize("values", VALID, ids=lambda v: ",".join(v)[:60])
def test_unusual_but_valid_config_synthesizes(values: dict[str, Any]) -> None:
    from tests.cdk_app import synthesize

    assert synthesize(values).templates()


def test_digest_pinned_image_is_accepted() -> None:
    image = "letta/letta@sha256:" + "a" * 64
    assert config(letta_image=image).letta_image == image


def test_postgres_default_is_the_newest_17_minor_aws_cdk_lib_knows() -> None:
    import json
    from pathlib import Path

    from aws_cdk import aws_rds as rds

    from stacks.config import DEFAULT_POSTGRES_VERSION, POSTGRES_VERSIONS

    known = {
        getattr(rds.AuroraPostgresEngineVersion, name).aurora_postgres_full_version
        for name in dir(rds.AuroraPostgresEngineVersion)
        if name.startswith("VER_17_")
    }
    newest = max(known, key=lambda v: tuple(int(part) for part in v.split(".")))
    assert DEFAULT_POSTGRES_VERSION == newest == config().postgres_version
    assert set(POSTGRES_VERSIONS) <= known
    # The default lives in the model only: cdk.json must not pin an older one.
    cdk_json = json.loads((Path(__file__).resolve().parents[1] / "cdk.json").read_text())["context"]
    assert cdk_json.get("postgres_version", newest) == newest


# --- Scaling out: shared Redis, reader, connection budget -----------------------------------------------


def test_dev_is_one_task_without_a_shared_redis_and_prod_scales_out() -> None:
    dev, prod = config(), config(**PROD)
    assert (dev.max_tasks, dev.uses_shared_redis, dev.readers, dev.db_pooling) == (1, False, 0, False)
    assert (prod.max_tasks, prod.uses_shared_redis, prod.readers, prod.db_pooling) == (4, True, 1, True)
    # auto follows max_tasks; an explicit value wins either way.
    assert config(max_tasks=2).uses_shared_redis
    assert config(shared_redis="on").uses_shared_redis
    assert not config(**PROD, min_tasks=1, max_tasks=1, shared_redis="off").uses_shared_redis


def test_max_connections_is_the_documented_serverless_v2_table() -> None:
    from stacks.aws_rules import serverless_v2_max_connections as limit

    # aurora-serverless-v2.setting-capacity.html, "Maximum connections for Aurora Serverless v2".
    assert [limit(acu, 1) for acu in (1, 4, 8, 16, 32, 64, 128, 256)] == [189, 823, 1669, 3360, 5000, 5000, 5000, 5000]
    # A minimum of 0.5 ACU (or 0) caps it at 2,000.
    assert (limit(16, 0.5), limit(128, 0), limit(8, 0.5)) == (2000, 2000, 1669)
    # Between documented points: the straight line (memory is linear in ACU).
    assert limit(2, 1) == 400 and limit(1.5, 1) == 294
    assert all(limit(a / 2, 1) <= limit(a / 2 + 0.5, 1) for a in range(2, 512))


def test_the_defaults_fit_their_connection_budget_with_headroom() -> None:
    for values in ({}, PROD):
        budget = config(**values).connection_budget
        assert budget.fits and budget.needed <= 0.75 * budget.limit, budget.explain()
