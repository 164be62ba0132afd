"""The one typed, validated configuration every stack reads.

Values come from CDK context: `cdk.json` defaults, then `-c key=value` on the command line. A profile
(`dev` or `prod`) supplies defaults for the keys that differ between a throwaway and a production
environment; an explicit context value always wins over the profile. Every value is checked here, at
synth time, so a bad one stops `cdk synth` before anything reaches CloudFormation.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PROFILES = ("dev", "prod")
# "retain" is left out on purpose: a retained cluster keeps its subnets busy, so the VPC could never be
# destroyed and `cdk destroy` would fail half-way.
REMOVAL_BEHAVIOURS = ("destroy", "snapshot")
CPU_ARCHITECTURES = ("arm64", "x86_64")
# Aurora PostgreSQL 17 minors aws-cdk-lib 2.275 knows and AWS still offers (17.1 and 17.2 are deprecated).
POSTGRES_VERSIONS = ("17.4", "17.5", "17.6", "17.7", "17.9")
DEFAULT_POSTGRES_VERSION = POSTGRES_VERSIONS[-1]  # the newest 17 minor aws-cdk-lib knows; README says how to bump
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Fargate's allowed task sizes: CPU units -> memory MiB choices.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
DEFAULT_LETTA_IMAGE = "letta/letta:0.16.8"
# Environment variables Letta reads for LLM providers; the LLM-key secret may map its JSON keys to these.
LLM_ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GROQ_API_KEY",
    "OPENROUTER_API_KEY",
    "AZURE_API_KEY",
    "AZURE_BASE_URL",
    "OLLAMA_BASE_URL",
    "DEEPSEEK_API_KEY",
    "TOGETHER_API_KEY",
    "XAI_API_KEY",
    "MISTRAL_API_KEY",
)

_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[0-9a-f]{64})$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RESERVED_ROLES = ("postgres", "rdsadmin", "rds_superuser", "public")


class ConfigError(ValueError):
    """A context value that cannot be deployed. The message names the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key = key
        super().__init__(f"config '{key}' = {value!r} is not allowed: {allowed}")


# Defaults that differ by profile. Keys absent here default the same way in every profile (see _DEFAULTS).
PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "backup_retention_days": 1,
        "deletion_protection": False,
        "removal_behaviour": "destroy",
        "nat_gateways": 0,
        "min_tasks": 1,
        "max_tasks": 2,
        "log_retention_days": 7,
        "alarms": False,
    },
    "prod": {
        "backup_retention_days": 35,
        "deletion_protection": True,
        "removal_behaviour": "snapshot",
        "nat_gateways": 2,
        "min_tasks": 2,
        "max_tasks": 4,
        "log_retention_days": 90,
        "alarms": True,
    },
}

_DEFAULTS: dict[str, Any] = {
    "env": "dev",
    "region": None,
    "min_acu": 0.5,
    "max_acu": 1,
    "auto_pause_seconds": 300,
    "postgres_version": DEFAULT_POSTGRES_VERSION,
    "db_name": "letta",
    "app_db_user": "letta_app",
    "app_password_generation": 1,
    "db_allowed_cidrs": [],
    "db_allow_public": False,
    "letta_image": DEFAULT_LETTA_IMAGE,
    "letta_image_credentials_arn": None,
    "task_cpu": 1024,
    "task_memory": 2048,
    "cpu_architecture": "arm64",
    "api_allowed_cidrs": [],
    "api_allow_public": False,
    "certificate_arn": None,
    "llm_secret_arn": None,
    "llm_secret_keys": {"OPENAI_API_KEY": "OPENAI_API_KEY", "ANTHROPIC_API_KEY": "ANTHROPIC_API_KEY"},
    "enable_ecs_exec": False,
    "alarm_email": None,
    "pipeline": False,
    "pipeline_repo": None,
    "pipeline_branch": "main",
    "pipeline_connection_arn": None,
}

CONFIG_KEYS = ("profile", *_DEFAULTS, *PROFILE_DEFAULTS["dev"])


@dataclass(frozen=True, kw_only=True)
class LettaConfig:
    """Everything the stacks may read. Build it with `LettaConfig.from_context`, never by hand in app code."""

    env: str
    profile: str
    region: str | None
    # Database
    min_acu: float
    max_acu: float
    auto_pause_seconds: int
    postgres_version: str
    db_name: str
    app_db_user: str
    app_password_generation: int
    db_allowed_cidrs: tuple[str, ...]
    db_allow_public: bool
    backup_retention_days: int
    deletion_protection: bool
    removal_behaviour: str
    # Network
    nat_gateways: int
    # Service
    letta_image: str
    # A Secrets Manager secret {"username", "password"} the image mirror logs in to letta_image's registry with.
    letta_image_credentials_arn: str | None
    task_cpu: int
    task_memory: int
    cpu_architecture: str
    min_tasks: int
    max_tasks: int
    api_allowed_cidrs: tuple[str, ...]
    api_allow_public: bool
    certificate_arn: str | None
    llm_secret_arn: str | None
    llm_secret_keys: Mapping[str, str]
    enable_ecs_exec: bool
    # Operations
    log_retention_days: int
    alarms: bool
    alarm_email: str | None
    # CI: a CDK Pipelines stack that deploys this environment's Stage from a repository
    pipeline: bool
    pipeline_repo: str | None
    pipeline_branch: str
    pipeline_connection_arn: str | None

    @property
    def is_prod(self) -> bool:
        return self.profile == "prod"

    @property
    def stage_name(self) -> str:
        return f"letta-{self.env}"

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> LettaConfig:
        """Reads each key through `get` (e.g. `node.try_get_context`), applies profile defaults, validates."""
        profile = get("profile")
        if profile is None:
            profile = "prod" if get("env") == "prod" else "dev"
        if profile not in PROFILES:
            raise ConfigError("profile", profile, f"one of {', '.join(PROFILES)}")
        defaults = {**_DEFAULTS, **PROFILE_DEFAULTS[profile]}
        raw = {key: _or_default(get(key), default) for key, default in defaults.items()}
        return cls._parse(profile, raw)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LettaConfig:
        """Same as `from_context` for a plain mapping (tests, scripts). Unknown keys are errors."""
        for key in values:
            if key not in CONFIG_KEYS:
                raise ConfigError(key, values[key], f"a known key ({', '.join(sorted(CONFIG_KEYS))})")
        return cls.from_context(values.get)

    @classmethod
    def _parse(cls, profile: str, raw: dict[str, Any]) -> LettaConfig:
        config = cls(
            env=_env_name(raw["env"]),
            profile=profile,
            region=_optional(raw["region"], "region", _region),
            min_acu=_acu("min_acu", raw["min_acu"], low=0),
            max_acu=_acu("max_acu", raw["max_acu"], low=1),
            auto_pause_seconds=_int("auto_pause_seconds", raw["auto_pause_seconds"], 300, 86_400),
            postgres_version=_choice("postgres_version", str(raw["postgres_version"]), POSTGRES_VERSIONS),
            db_name=_identifier("db_name", raw["db_name"]),
            app_db_user=_identifier("app_db_user", raw["app_db_user"]),
            app_password_generation=_int("app_password_generation", raw["app_password_generation"], 1, 1_000_000),
            db_allowed_cidrs=_cidrs("db_allowed_cidrs", raw["db_allowed_cidrs"]),
            db_allow_public=_bool("db_allow_public", raw["db_allow_public"]),
            backup_retention_days=_int("backup_retention_days", raw["backup_retention_days"], 1, 35),
            deletion_protection=_bool("deletion_protection", raw["deletion_protection"]),
            removal_behaviour=_choice("removal_behaviour", raw["removal_behaviour"], REMOVAL_BEHAVIOURS),
            nat_gateways=_int("nat_gateways", raw["nat_gateways"], 0, 2),
            letta_image=_image(raw["letta_image"]),
            letta_image_credentials_arn=_optional(
                raw["letta_image_credentials_arn"], "letta_image_credentials_arn", _arn
            ),
            task_cpu=_choice("task_cpu", _int("task_cpu", raw["task_cpu"], 256, 16384), tuple(FARGATE_SIZES)),
            task_memory=_int("task_memory", raw["task_memory"], 512, 122_880),
            cpu_architecture=_choice("cpu_architecture", raw["cpu_architecture"], CPU_ARCHITECTURES),
            min_tasks=_int("min_tasks", raw["min_tasks"], 1, 20),
            max_tasks=_int("max_tasks", raw["max_tasks"], 1, 20),
            api_allowed_cidrs=_cidrs("api_allowed_cidrs", raw["api_allowed_cidrs"]),
            api_allow_public=_bool("api_allow_public", raw["api_allow_public"]),
            certificate_arn=_optional(raw["certificate_arn"], "certificate_arn", _arn),
            llm_secret_arn=_optional(raw["llm_secret_arn"], "llm_secret_arn", _arn),
            llm_secret_keys=_llm_keys(raw["llm_secret_keys"]),
            enable_ecs_exec=_bool("enable_ecs_exec", raw["enable_ecs_exec"]),
            log_retention_days=_choice(
                "log_retention_days",
                _int("log_retention_days", raw["log_retention_days"], 1, 3653),
                LOG_RETENTION_DAYS,
            ),
            alarms=_bool("alarms", raw["alarms"]),
            alarm_email=_optional(raw["alarm_email"], "alarm_email", _email),
            pipeline=_bool("pipeline", raw["pipeline"]),
            pipeline_repo=_optional(raw["pipeline_repo"], "pipeline_repo", _repo),
            pipeline_branch=_branch(raw["pipeline_branch"]),
            pipeline_connection_arn=_optional(raw["pipeline_connection_arn"], "pipeline_connection_arn", _arn),
        )
        config._check_relations()
        return config

    def _check_relations(self) -> None:
        """Rules that involve more than one key."""
        if self.min_acu > self.max_acu:
            raise ConfigError("min_acu", self.min_acu, f"at most max_acu ({self.max_acu})")
        if self.min_tasks > self.max_tasks:
            raise ConfigError("min_tasks", self.min_tasks, f"at most max_tasks ({self.max_tasks})")
        if self.task_memory not in FARGATE_SIZES[self.task_cpu]:
            sizes = FARGATE_SIZES[self.task_cpu]
            raise ConfigError(
                "task_memory",
                self.task_memory,
                f"for task_cpu {self.task_cpu}: {sizes[0]}..{sizes[-1]} MiB, steps of {sizes[1] - sizes[0]}",
            )
        if self.app_db_user in _RESERVED_ROLES:
            raise ConfigError("app_db_user", self.app_db_user, f"a role name other than {', '.join(_RESERVED_ROLES)}")
        _check_open_world("db_allowed_cidrs", self.db_allowed_cidrs, "db_allow_public", self.db_allow_public)
        _check_open_world("api_allowed_cidrs", self.api_allowed_cidrs, "api_allow_public", self.api_allow_public)
        if self.is_prod and self.removal_behaviour == "destroy":
            raise ConfigError("removal_behaviour", "destroy", "'snapshot' in the prod profile")
        if self.is_prod and self.min_tasks > 1 and self.nat_gateways == 0:
            # Prod tasks run in private subnets; with no NAT they cannot pull the image or reach an LLM.
            raise ConfigError("nat_gateways", 0, "1 or 2 in the prod profile (tasks in private subnets need egress)")
        if self.pipeline and not (self.pipeline_repo and self.pipeline_connection_arn):
            missing = "pipeline_repo" if not self.pipeline_repo else "pipeline_connection_arn"
            raise ConfigError(missing, None, "required with pipeline=true (owner/name and a CodeConnections ARN)")
        if self.pipeline and not self.region:
            # The pipeline and its CodeConnections source are regional: say where, do not inherit a default.
            raise ConfigError("region", None, "required with pipeline=true: the region the pipeline runs in")
        if self.alarm_email and not self.alarms:
            raise ConfigError("alarm_email", self.alarm_email, "only with alarms=true")


def _or_default(value: Any, default: Any) -> Any:
    return default if value is None or value == "" else value


def _optional(value: Any, key: str, check: Callable[[str, Any], Any]) -> Any:
    return None if value in (None, "", "none", "null") else check(key, value)


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ConfigError(
            "env",
            value,
            "1-20 characters, lowercase letters, digits and '-', starting with a letter "
            "(it becomes part of stack names)",
        )
    return value


def _choice(key: str, value: Any, allowed: tuple[Any, ...]) -> Any:
    if value not in allowed:
        raise ConfigError(key, value, f"one of {', '.join(str(a) for a in allowed)}")
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(key, value, "a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, "a number") from None


def _int(key: str, value: Any, low: int, high: int) -> int:
    number = _number(key, value)
    if not number.is_integer() or not low <= number <= high:
        raise ConfigError(key, value, f"a whole number from {low} to {high}")
    return int(number)


def _acu(key: str, value: Any, *, low: float) -> float:
    number = _number(key, value)
    if not low <= number <= 256 or (number * 2) % 1:
        raise ConfigError(key, value, f"{low} to 256 Aurora capacity units in steps of 0.5")
    return number


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(key, value, "true or false")


def _identifier(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ConfigError(
            key,
            value,
            "a PostgreSQL name: lowercase letters, digits and '_', at most 63, not starting with a digit",
        )
    return value


def _list(key: str, value: Any) -> list[str]:
    """A list from cdk.json (JSON array) or from `-c key=a,b` (comma-separated string)."""
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(key, value, "a JSON array or a comma-separated list") from None
        else:
            return [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ConfigError(key, value, "a list of strings")
    return list(value)


def _cidrs(key: str, value: Any) -> tuple[str, ...]:
    cidrs = []
    for item in _list(key, value):
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError:
            raise ConfigError(key, item, "IPv4 or IPv6 CIDRs such as 203.0.113.7/32 (host bits zero)") from None
        cidrs.append(str(network))
    return tuple(cidrs)


def _check_open_world(key: str, cidrs: tuple[str, ...], opt_in_key: str, opted_in: bool) -> None:
    for cidr in cidrs:
        if ipaddress.ip_network(cidr).prefixlen == 0 and not opted_in:
            raise ConfigError(key, cidr, f"a narrower range; the whole internet needs {opt_in_key}=true as well")


def _image(value: Any) -> str:
    if not isinstance(value, str) or not _IMAGE.match(value) or value.endswith(":latest"):
        raise ConfigError(
            "letta_image",
            value,
            "an image pinned by tag or digest, e.g. letta/letta:0.16.8 or "
            "letta/letta@sha256:<64 hex>; ':latest' and untagged names are not pinned",
        )
    return value


def _region(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _REGION.match(value):
        raise ConfigError(key, value, "an AWS region name such as us-east-1")
    return value


def _arn(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _ARN.match(value):
        raise ConfigError(key, value, "a full ARN (arn:aws:<service>:<region>:<account>:...)")
    return value


def _email(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise ConfigError(key, value, "an email address")
    return value


def _repo(key: str, value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", value):
        raise ConfigError(key, value, "a repository as owner/name")
    return value


def _branch(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9._/-]{1,100}$", value) or ".." in value:
        raise ConfigError("pipeline_branch", value, "a branch name")
    return value


def _llm_keys(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigError("llm_secret_keys", value, 'a JSON object such as {"OPENAI_API_KEY": "openai"}') from None
    if not isinstance(value, Mapping) or not value:
        raise ConfigError("llm_secret_keys", value, "a non-empty JSON object: env var -> JSON key in the secret")
    for env_var, json_key in value.items():
        if env_var not in LLM_ENV_VARS:
            raise ConfigError("llm_secret_keys", env_var, f"one of {', '.join(LLM_ENV_VARS)}")
        if not isinstance(json_key, str) or not re.match(r"^[A-Za-z0-9_.-]{1,64}$", json_key):
            raise ConfigError("llm_secret_keys", json_key, "a JSON key of letters, digits, '_', '.', '-'")
    return dict(value)
