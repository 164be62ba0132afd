"""The config: profile defaults, overrides as cdk.json types or `-c` strings, and every bad value refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stacks.config import CONFIG_KEYS, ConfigError, LettaConfig

CDK_JSON_CONTEXT = json.loads((Path(__file__).resolve().parents[1] / "cdk.json").read_text())["context"]


def config(**values: Any) -> LettaConfig:
    return LettaConfig.from_mapping(values)


def test_defaults_are_the_walkthrough_sizing_in_dev() -> None:
    c = config()
    assert (c.env, c.profile) == ("dev", "dev")
    assert (c.min_acu, c.max_acu) == (0.5, 1)
    assert c.postgres_version.startswith("17.")
    assert c.letta_image == "letta/letta:0.16.8"
    assert (c.removal_behaviour, c.deletion_protection, c.nat_gateways) == ("destroy", False, 0)
    assert c.db_allowed_cidrs == () and c.api_allowed_cidrs == ()


def test_prod_profile_is_protected() -> None:
    c = config(profile="prod")
    assert c.is_prod
    assert (c.removal_behaviour, c.deletion_protection, c.backup_retention_days) == ("snapshot", True, 35)
    assert (c.min_tasks, c.max_tasks) == (2, 4)
    assert c.nat_gateways >= 1 and c.alarms


def test_env_named_prod_implies_prod_profile() -> None:
    assert config(env="prod").profile == "prod"
    assert config(env="pr-42").profile == "dev"


def test_command_line_strings_are_parsed() -> None:
    c = config(
        min_acu="0",
        max_acu="4",
        db_allowed_cidrs="203.0.113.7/32, 198.51.100.0/24",
        deletion_protection="true",
        backup_retention_days="7",
        task_cpu="2048",
        task_memory="4096",
    )
    assert (c.min_acu, c.max_acu) == (0, 4)
    assert c.db_allowed_cidrs == ("203.0.113.7/32", "198.51.100.0/24")
    assert c.deletion_protection is True
    assert (c.backup_retention_days, c.task_cpu, c.task_memory) == (7, 2048, 4096)


def test_explicit_value_beats_profile_default() -> None:
    assert config(profile="prod", backup_retention_days=14).backup_retention_days == 14


def test_cdk_json_context_is_a_valid_config() -> None:
    keys = {k: v for k, v in CDK_JSON_CONTEXT.items() if not k.startswith("@")}
    assert set(keys) <= set(CONFIG_KEYS)
    LettaConfig.from_mapping(keys)


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        config().min_acu = 2  # type: ignore[misc]


BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"profile": "staging"}, "profile"),
    ({"env": "Dev"}, "env"),
    ({"env": "my_env"}, "env"),
    ({"env": "a" * 21}, "env"),
    ({"min_acu": 0.25}, "min_acu"),
    ({"min_acu": "half"}, "min_acu"),
    ({"min_acu": -0.5}, "min_acu"),
    ({"min_acu": 2, "max_acu": 1}, "min_acu"),
    ({"max_acu": 300}, "max_acu"),
    ({"max_acu": 0.5}, "max_acu"),
    ({"max_acu": 1.3}, "max_acu"),
    ({"postgres_version": "16.4"}, "postgres_version"),
    ({"postgres_version": "17.1"}, "postgres_version"),
    ({"db_allowed_cidrs": ["10.0.0.1/33"]}, "db_allowed_cidrs"),
    ({"db_allowed_cidrs": "203.0.113.7/24"}, "db_allowed_cidrs"),
    ({"db_allowed_cidrs": "my-laptop"}, "db_allowed_cidrs"),
    ({"db_allowed_cidrs": ["0.0.0.0/0"]}, "db_allowed_cidrs"),
    ({"db_allowed_cidrs": "::/0"}, "db_allowed_cidrs"),
    ({"api_allowed_cidrs": "0.0.0.0/0"}, "api_allowed_cidrs"),
    ({"backup_retention_days": 0}, "backup_retention_days"),
    ({"backup_retention_days": 36}, "backup_retention_days"),
    ({"backup_retention_days": 1.5}, "backup_retention_days"),
    ({"deletion_protection": "yes"}, "deletion_protection"),
    ({"removal_behaviour": "retain"}, "removal_behaviour"),
    ({"profile": "prod", "removal_behaviour": "destroy"}, "removal_behaviour"),
    ({"db_name": "Letta-DB"}, "db_name"),
    ({"db_name": "1letta"}, "db_name"),
    ({"app_db_user": 'x"; DROP ROLE postgres; --'}, "app_db_user"),
    ({"app_db_user": "postgres"}, "app_db_user"),
    ({"letta_image": "letta/letta:latest"}, "letta_image"),
    ({"letta_image": "letta/letta"}, "letta_image"),
    ({"letta_image": "letta/letta@sha256:abc"}, "letta_image"),
    ({"letta_image_credentials_arn": "dockerhub"}, "letta_image_credentials_arn"),
    ({"task_cpu": 1000}, "task_cpu"),
    ({"task_cpu": 256, "task_memory": 4096}, "task_memory"),
    ({"cpu_architecture": "arm"}, "cpu_architecture"),
    ({"min_tasks": 3, "max_tasks": 2}, "min_tasks"),
    ({"min_tasks": 0}, "min_tasks"),
    ({"region": "mars-1"}, "region"),
    ({"certificate_arn": "my-cert"}, "certificate_arn"),
    ({"llm_secret_keys": {"PATH": "x"}}, "llm_secret_keys"),
    ({"llm_secret_keys": "{not json"}, "llm_secret_keys"),
    ({"log_retention_days": 10}, "log_retention_days"),
    ({"auto_pause_seconds": 60}, "auto_pause_seconds"),
    ({"nat_gateways": 3}, "nat_gateways"),
    ({"profile": "prod", "nat_gateways": 0}, "nat_gateways"),
    ({"alarm_email": "ops@example.com"}, "alarm_email"),
    ({"alarm_email": "not-an-email", "alarms": True}, "alarm_email"),
    ({"db_allow_publik": True}, "db_allow_publik"),
    ({"pipeline": True, "region": "eu-west-1"}, "pipeline_repo"),
    ({"pipeline": True, "region": "eu-west-1", "pipeline_repo": "a/b"}, "pipeline_connection_arn"),
    (
        {"pipeline": True, "pipeline_repo": "a/b", "pipeline_connection_arn": "arn:aws:x:us-east-1:123456789012:y"},
        "region",
    ),
    ({"pipeline_repo": "not a repo"}, "pipeline_repo"),
    ({"pipeline_branch": "a..b"}, "pipeline_branch"),
]


@pytest.mark.parametrize(("values", "key"), BAD_CONFIGS, ids=[f"{k}-{i}" for i, (_, k) in enumerate(BAD_CONFIGS)])
def test_bad_config_is_refused_naming_the_key(values: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config(**values)
    assert raised.value.key == key
    message = str(raised.value)
    assert f"'{key}'" in message
    assert "not allowed:" in message


def test_error_names_value_and_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match=r"config 'min_acu' = 0\.25 is not allowed: 0 to 256 .* steps of 0\.5"):
        config(min_acu=0.25)


def test_open_world_needs_explicit_opt_in() -> None:
    assert config(db_allowed_cidrs="0.0.0.0/0", db_allow_public="true").db_allowed_cidrs == ("0.0.0.0/0",)
    assert config(api_allowed_cidrs="0.0.0.0/0", api_allow_public=True).api_allowed_cidrs == ("0.0.0.0/0",)


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
    cdk_json = json.loads((Path(__file__).resolve().parents[1] / "cdk.json").read_text())["context"]
    assert cdk_json["postgres_version"] == newest
