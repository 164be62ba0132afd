"""The one typed, validated configuration every stack reads: a declarative pydantic model.

Every key is defined once, below: its type, its default (per profile where dev and prod differ), what is
allowed and what it means. docs/configuration.md's config table is generated from these definitions
(`scripts/config_table.py`). Values come from CDK context: `cdk.json` holds what the user edits, `-c
key=value` overrides it; a `-c` value arrives as a string and is parsed the same way as the value
typed in cdk.json (`stacks/context_values.py`: numbers, `true`/`false`, comma or JSON lists, JSON objects).

A bad value stops synth with one line, a `ConfigError`: `config '<key>' = <value> is not allowed: <what
is>`; unknown keys get a did-you-mean. Rules that AWS or PostgreSQL themselves enforce live in
`stacks/aws_rules.py`, with the documentation they encode.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from stacks import aws_rules, context_values, letta_contract
from stacks.aws_rules import FARGATE_SIZES, LOG_RETENTION_DAYS
from stacks.config_error import ConfigError
from stacks.connection_budget import ConnectionBudget
from stacks.service.db_tls import region_roots

__all__ = [
    "CONFIG_KEYS",
    "FARGATE_SIZES",
    "LLM_ENV_VARS",
    "LOG_RETENTION_DAYS",
    "ConfigError",
    "LettaConfig",
    "check_env",
]

PROFILES = ("dev", "prod")
POSTGRES_VERSIONS = ("17.4", "17.5", "17.6", "17.7", "17.9")
# The newest 17 minor aws-cdk-lib knows; docs/choices.md says how to bump it.
DEFAULT_POSTGRES_VERSION = POSTGRES_VERSIONS[-1]
# Environment variables Letta reads for LLM providers; the LLM-key secret may map its JSON keys to these.
LLM_ENV_VARS = letta_contract.LLM_ENV_VARS
# Context keys that belong to the CDK (feature flags, CLI settings, lookup caches), never refused here.
_CDK_KEY_PREFIXES = ("@", "aws:cdk:", "aws-cdk:", "cdk-", "cdk:")
_CDK_KEYS = frozenset({"acknowledged-issue-numbers"})
_ENV_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[A-Za-z0-9._/-]{1,100}(?<![/.])$")
_OIDC_ARN = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$")
_JSON_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def key(default: Any, allowed: str, description: str, *, prod: Any = ..., **constraints: Any) -> Any:
    """One key's definition: its default (and the prod profile's, when it differs), what is allowed (the
    refusal names it, the config table shows it) and what the key does (the table)."""
    extra: dict[str, Any] = {"allowed": allowed}
    if prod is not ...:
        extra["prod"] = prod
    return Field(default=default, description=description, json_schema_extra=extra, **constraints)


# Keys whose values AWS or PostgreSQL would refuse at deploy time, each with the rule that refuses them now.
_AWS_RULES: dict[str, Callable[[str], str | None]] = {
    "region": aws_rules.region_problem,
    "db_name": aws_rules.database_name_problem,
    "app_db_user": aws_rules.role_name_problem,
    "letta_image": aws_rules.image_reference_problem,
    "cache_node_type": aws_rules.cache_node_type_problem,
    "llm_secret_arn": aws_rules.secret_arn_problem,
    "letta_image_credentials_arn": aws_rules.secret_arn_problem,
    "pipeline_connection_arn": aws_rules.connection_arn_problem,
    "restore_snapshot": aws_rules.snapshot_problem,
    "restore_source_cluster": aws_rules.cluster_identifier_problem,
    "restore_time": aws_rules.restore_time_problem,
    "restore_encryption_key_arn": aws_rules.secret_arn_problem,
    "restore_server_password_arn": aws_rules.secret_arn_problem,
    "restore_llm_keys_arn": aws_rules.secret_arn_problem,
    "vpc_cidr": aws_rules.vpc_cidr_problem,
    "vpc_id": aws_rules.vpc_id_problem,
    "hosted_zone_id": aws_rules.hosted_zone_id_problem,
    "domain_name": aws_rules.domain_name_problem,
    "hosted_zone_name": aws_rules.domain_name_problem,
}
# List keys each of whose items AWS would refuse at deploy time.
_AWS_LIST_RULES: dict[str, Callable[[str], str | None]] = {
    "vpc_public_subnet_ids": aws_rules.subnet_id_problem,
    "vpc_private_subnet_ids": aws_rules.subnet_id_problem,
    "vpc_database_subnet_ids": aws_rules.subnet_id_problem,
    "vpc_private_route_table_ids": aws_rules.route_table_id_problem,
    "vpc_availability_zones": lambda zone: aws_rules.availability_zone_problem(zone, None),
    "browser_origins": aws_rules.browser_origin_problem,
}


class LettaConfig(BaseModel):
    """Everything the stacks may read, validated. Build it with `from_app` (or `from_mapping` in tests and
    scripts), never by hand."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    env: str = key(
        "dev",
        "1-20 characters: lowercase letters, digits, single '-' between them, starting with a letter",
        "Environment name: stacks letta-<env>-data / -service, DB cluster letta-<env>",
    )
    profile: Literal["dev", "prod"] = key(
        "dev", "dev, prod", "Defaults for a throwaway or a production environment; prod when env=prod"
    )
    region: str | None = key(
        None,
        "a region with Aurora PostgreSQL 17 Serverless v2 and the RDS Data API",
        "Deploy region; unset: the AWS CLI's (never an account, synth stays credential-free)",
    )
    # Database
    min_acu: float = key(
        0,
        "0 to 256 Aurora capacity units in steps of 0.5",
        "Aurora minimum capacity; 0 enables auto-pause (dev: Letta without its pool holds no idle connection)",
        prod=0.5,
        ge=0,
        le=256,
        multiple_of=0.5,
    )
    max_acu: float = key(
        1,
        "1 to 256 Aurora capacity units in steps of 0.5, at least min_acu, with room for the connection budget",
        "Aurora maximum capacity; sets max_connections (docs/scaling.md)",
        prod=4,
        ge=1,
        le=256,
        multiple_of=0.5,
    )
    auto_pause_seconds: int = key(
        300,
        "a whole number from 300 to 86400",
        "Idle time before auto-pause (only with min_acu=0)",
        ge=300,
        le=86_400,
    )
    readers: int = key(
        0,
        "0 or 1",
        "Serverless v2 reader in the second AZ (promotion tier 1, scales with the writer): failover target",
        prod=1,
        ge=0,
        le=1,
    )
    db_pooling: bool = key(
        False,
        "true, false; the connection budget must fit",
        "Letta's SQLAlchemy pool (LETTA_DISABLE_SQLALCHEMY_POOLING=false): bounds connections per task; off, a "
        "connection per session and no idle ones to keep auto-pause away",
        prod=True,
    )
    db_tls_verify: bool = key(
        True,
        "true, false; true needs a region the committed RDS bundle has roots for",
        "Letta's server verifies Aurora's certificate against the RDS roots of the stack's region (PGSSLMODE="
        "verify-full; chain only with db_pooling, docs/network.md); false: encrypted, unverified",
    )
    postgres_version: Literal["17.4", "17.5", "17.6", "17.7", "17.9"] = key(
        DEFAULT_POSTGRES_VERSION,
        ", ".join(POSTGRES_VERSIONS),
        "Aurora PostgreSQL minor version (pinned; bump it to upgrade)",
    )
    storage_type: Literal["aurora", "aurora-iopt1"] = key(
        "aurora",
        "aurora, aurora-iopt1",
        "Aurora storage: standard (I/O billed per request) or I/O-Optimized (docs/memory.md: break-even)",
        prod="aurora-iopt1",
    )
    db_name: str = key(
        "letta",
        "1-63 lowercase letters, digits, '_', starting with a letter, not a reserved word",
        "Database Letta uses",
    )
    app_db_user: str = key(
        "letta_app",
        "a PostgreSQL role name, not pg_*, rds*, postgres, public or a reserved word",
        "Login role Letta connects as (not the master user)",
    )
    app_password_generation: int = key(
        1,
        "a whole number from 1 to 1000000",
        "Bump it to generate a new password for the app role",
        ge=1,
        le=1_000_000,
    )
    db_allowed_cidrs: tuple[str, ...] = key(
        (),
        "private CIDRs (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), host bits zero",
        "Networks routed into the VPC (VPN, peering, Direct Connect) that may reach 5432 besides the service",
    )
    backup_retention_days: int = key(
        1, "a whole number from 1 to 35", "Aurora automated backup retention", prod=35, ge=1, le=35
    )
    deletion_protection: bool = key(False, "true, false", "Aurora deletion protection", prod=True)
    db_telemetry: bool = key(
        True,
        "true, false",
        "Database Insights standard (Performance Insights, 7 days free) and enhanced monitoring every 60 s "
        "(CloudWatch Logs RDSOSMetrics)",
    )
    removal_behaviour: Literal["destroy", "snapshot"] = key(
        "destroy", "destroy (dev only), snapshot", "What `cdk destroy` does to the cluster", prod="snapshot"
    )
    # Network
    nat_gateways: int = key(
        0,
        "0, 1 or 2; prod needs at least 1; not with vpc_id",
        "NAT gateways of the created VPC; 0 puts tasks in public subnets",
        prod=2,
        ge=0,
        le=2,
    )
    vpc_cidr: str = key(
        "10.40.0.0/16",
        f"a private IPv4 range (10/8, 172.16/12, 192.168/16) from /16 to /{aws_rules.VPC_MAX_PREFIX}",
        "IPv4 range of the VPC the data stack creates; decide before the first deploy (a change replaces the VPC)",
    )
    vpc_id: str | None = key(
        None,
        "vpc- and 8 or 17 hex digits; with vpc_availability_zones, vpc_public_subnet_ids, vpc_database_subnet_ids",
        "An existing VPC to deploy into, by id (no lookup): no VPC, NAT gateway or flow log is created",
    )
    vpc_availability_zones: tuple[str, ...] = key(
        (),
        "2 to 6 distinct zone names of the stack's region (us-east-1a,us-east-1b); only with vpc_id",
        "The existing VPC's zones, in the order the subnet lists follow",
    )
    vpc_public_subnet_ids: tuple[str, ...] = key(
        (), "subnet ids, one per zone in vpc_availability_zones", "Existing VPC: public subnets for the load balancer"
    )
    vpc_private_subnet_ids: tuple[str, ...] = key(
        (),
        "subnet ids, one per zone, or none; required in the prod profile",
        "Existing VPC: subnets with egress (NAT, Transit Gateway or vpc_endpoints) for the tasks; none: the tasks "
        "run in the public subnets with a public IP",
    )
    vpc_database_subnet_ids: tuple[str, ...] = key(
        (),
        "subnet ids, one per zone (isolated or private; may repeat vpc_private_subnet_ids)",
        "Existing VPC: subnets for Aurora and the shared Redis",
    )
    vpc_endpoints: bool = key(
        False,
        "true, false; only with vpc_id, vpc_private_subnet_ids and vpc_private_route_table_ids",
        "Interface endpoints for ECR, CloudWatch Logs and Secrets Manager plus an S3 gateway endpoint, for task "
        "subnets without NAT (docs/network.md: cost, and what still needs the internet)",
    )
    vpc_private_route_table_ids: tuple[str, ...] = key(
        (),
        "route table ids, one per private subnet; only with vpc_endpoints",
        "The private subnets' route tables, which the S3 gateway endpoint (ECR's image layers) is added to",
    )
    # Domain
    domain_name: str | None = key(
        None,
        "a DNS name in hosted_zone_name (the zone's apex or below it); needs hosted_zone_id and hosted_zone_name",
        "The API's name: a DNS-validated certificate (unless certificate_arn), HTTPS, an alias record; ApiUrl "
        "becomes https://<domain_name>",
    )
    hosted_zone_id: str | None = key(
        None, "a Route 53 hosted zone id (Z...); only with domain_name", "Public hosted zone"
    )
    hosted_zone_name: str | None = key(
        None, "the hosted zone's DNS name (example.com); only with domain_name", "The hosted zone's name (no lookup)"
    )
    # Service
    letta_image: str = key(
        letta_contract.IMAGE,
        "an OCI image reference pinned by tag (not latest) or digest",
        "Letta server image; copied into the stack's ECR repository unless it is a private ECR image already",
    )
    letta_image_credentials_arn: str | None = key(
        None,
        'a complete Secrets Manager secret ARN (name-XXXXXX) holding {"username", "password"}',
        "Registry login the image copy uses for letta_image (Docker Hub's anonymous quota is shared)",
    )
    task_cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] = key(
        1024, ", ".join(str(c) for c in FARGATE_SIZES), "Fargate task CPU units"
    )
    task_memory: int = key(2048, "a Fargate memory size for task_cpu", "Fargate task memory (MiB)")
    cpu_architecture: Literal["arm64", "x86_64"] = key("arm64", "arm64, x86_64", "Fargate CPU architecture")
    capacity_provider: Literal["spot", "on-demand"] = key(
        "spot",
        "spot, on-demand",
        "Fargate Spot (about 70% cheaper; AWS may stop a task with 2 minutes' warning) or on-demand Fargate",
        prod="on-demand",
    )
    min_tasks: int = key(1, "a whole number from 1 to 20", "Auto scaling minimum", prod=2, ge=1, le=20)
    max_tasks: int = key(
        1,
        "a whole number from 1 to 20, at least min_tasks; above 1 needs shared_redis",
        "Auto scaling maximum (dev: 1, so no shared Redis)",
        prod=4,
        ge=1,
        le=20,
    )
    shared_redis: Literal["auto", "on", "off"] = key(
        "auto",
        "auto (on when max_tasks > 1), on, off (only with max_tasks 1)",
        "ElastiCache (Valkey) node for Letta's locks and streams (LETTA_REDIS_HOST); off: a redis-server per task",
    )
    cache_node_type: str = key(
        "cache.t4g.micro", "an ElastiCache node type (cache.<family>.<size>)", "Node type of the shared Redis"
    )
    api_allowed_cidrs: tuple[str, ...] = key(
        (), "IPv4/IPv6 CIDRs, host bits zero", "CIDRs that may reach the API's load balancer"
    )
    api_allow_public: bool = key(
        False, "true, false", "Must be true for api_allowed_cidrs that admit the whole internet"
    )
    certificate_arn: str | None = key(
        None, "an ACM certificate ARN in the stack's region", "HTTPS listener + HTTP->HTTPS redirect"
    )
    allow_plain_http: bool = key(
        False,
        "true, false",
        "Plain HTTP where a certificate is otherwise required: prod, or an API open to the whole internet",
    )
    browser_origins: tuple[str, ...] = key(
        (),
        "https://host[:port] origins, no path or trailing '/'; http only for localhost, 127.0.0.1, [::1]",
        "Extra browser origins the API admits (Letta's ACCEPTABLE_ORIGINS; https://app.letta.com, the ADE, is "
        "always admitted)",
    )
    llm_secret_arn: str | None = key(
        None, "a complete Secrets Manager secret ARN (name-XXXXXX)", "Existing LLM key secret; unset: one is created"
    )
    llm_secret_keys: dict[str, str] = key(
        {"OPENAI_API_KEY": "OPENAI_API_KEY", "ANTHROPIC_API_KEY": "ANTHROPIC_API_KEY"},
        "a JSON object: Letta env var -> JSON key (the same name when the stack creates the secret)",
        "Which LLM keys the tasks read from the secret",
    )
    enable_ecs_exec: bool = key(False, "true, false", "ECS Exec into tasks (also the database tunnel)")
    # Operations
    log_retention_days: int = key(
        7, "a CloudWatch Logs retention: " + ", ".join(map(str, LOG_RETENTION_DAYS)), "Log retention", prod=90
    )
    alarms: bool = key(False, "true, false", "CloudWatch alarms on the service and Aurora", prod=True)
    alarm_email: str | None = key(None, "an email address; needs alarms=true", "Alarm topic subscription")
    # Restore: this environment's cluster starts from another's snapshot or point in time (docs/restore.md)
    restore_snapshot: str | None = key(
        None,
        "a DB cluster snapshot name (rds:... for automated ones) or ARN, in the stack's region",
        "Create the cluster from this snapshot; keep the key for the environment's life",
    )
    restore_source_cluster: str | None = key(
        None,
        "a DB cluster identifier of another environment (e.g. letta-prod); needs restore_time",
        "Create the cluster as a point-in-time copy of this cluster (same account and region)",
    )
    restore_time: str | None = key(
        None,
        "an ISO-8601 UTC time (2026-12-01T09:30:00Z), not in the future, or 'latest'",
        "The point in time of restore_source_cluster to restore",
    )
    restore_encryption_key_arn: str | None = key(
        None,
        "a complete Secrets Manager secret ARN; required with a restore",
        "The source environment's LETTA_ENCRYPTION_KEY secret, copied once into this environment's own",
    )
    restore_server_password_arn: str | None = key(
        None,
        "a complete Secrets Manager secret ARN; only with a restore",
        "The source's server-password secret, copied once (clients keep their token); unset: a new one",
    )
    restore_llm_keys_arn: str | None = key(
        None,
        "a complete Secrets Manager secret ARN; only with a restore and without llm_secret_arn",
        "The source's LLM-keys secret, copied once; unset: an empty one to fill",
    )
    # CI: a CDK Pipelines stack that deploys this environment's stacks from a repository
    pipeline: bool = key(
        False,
        "true, false; needs region, pipeline_repo, pipeline_connection_arn",
        "Synthesize the CDK Pipelines stack instead",
    )
    pipeline_repo: str | None = key(None, "owner/name", "Repository the pipeline builds")
    pipeline_branch: str = key("main", "a git branch name", "Branch the pipeline builds")
    pipeline_connection_arn: str | None = key(
        None, "a CodeConnections connection ARN", "CodeConnections (CodeStar) connection to the repository"
    )
    # CI roles: GitHub OIDC and one role per job's need (docs/ci.md), deployed once per account
    ci_roles: bool = key(
        False, "true, false; needs github_repo", "Synthesize the CI roles stack letta-ci-roles instead (docs/ci.md)"
    )
    github_repo: str | None = key(None, "owner/name", "Repository whose workflows the CI roles trust")
    github_oidc_provider_arn: str | None = key(
        None,
        "an IAM OIDC provider ARN for token.actions.githubusercontent.com",
        "Existing GitHub OIDC provider (one per account); unset: the CI roles stack creates it",
    )
    permissions_boundary: str | None = key(
        None,
        "an IAM managed policy name",
        "Boundary on every role the stacks create; previews: letta-preview-boundary (scripts/deploy_steps.sh)",
    )

    @property
    def is_prod(self) -> bool:
        return self.profile == "prod"

    @property
    def stage_name(self) -> str:
        return f"letta-{self.env}"

    @property
    def restore_kind(self) -> Literal["snapshot", "point-in-time"] | None:
        """How this environment's cluster was created: from a snapshot, at a point in time, or new (None)."""
        if self.restore_snapshot:
            return "snapshot"
        return "point-in-time" if self.restore_source_cluster else None

    @property
    def cluster_identifier(self) -> str:
        return f"letta-{self.env}"

    @property
    def uses_shared_redis(self) -> bool:
        """Whether the data stack runs the ElastiCache node the tasks share."""
        return self.shared_redis == "on" or (self.shared_redis == "auto" and self.max_tasks > 1)

    @property
    def connection_budget(self) -> ConnectionBudget:
        return ConnectionBudget(
            max_tasks=self.max_tasks, pooling=self.db_pooling, min_acu=self.min_acu, max_acu=self.max_acu
        )

    # --- Constructors -------------------------------------------------------------------------------

    @classmethod
    def from_app(cls, app: Any) -> LettaConfig:
        """The app's whole context (cdk.json plus `-c`), unknown keys refused. `app` is a cdk App (or any
        construct whose node holds the context)."""
        return cls.from_mapping(app.node.get_all_context(), default_region=os.environ.get("CDK_DEFAULT_REGION"))

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> LettaConfig:
        """Reads each known key through `get` (e.g. `node.try_get_context`). It cannot see unknown keys:
        prefer `from_app`."""
        return cls.from_mapping({k: v for k in CONFIG_KEYS if (v := get(k)) is not None})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, default_region: str | None = None) -> LettaConfig:
        """A plain mapping: cdk.json types or `-c` strings. CDK's own keys are ignored, unknown keys refused.
        `default_region` is where an unset `region` deploys (the CLI's CDK_DEFAULT_REGION)."""
        mine = {k: v for k, v in values.items() if not _is_cdk_key(k)}
        try:
            return cls.model_validate(mine, context={"default_region": default_region})
        except ValidationError as error:
            raise _one_line(error) from None

    # --- Parsing: `-c` strings and cdk.json values become the field's type ----------------------------

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ConfigError("context", data, "a mapping of keys to values")
        for name, value in data.items():
            if name not in cls.model_fields:
                close = difflib.get_close_matches(_normal(name), CONFIG_KEYS, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else "see the config table in docs/configuration.md"
                raise ConfigError(name, value, f"not a config key; {hint}")
        # A JSON null means "unset", as a missing key does: the default applies.
        parsed = {name: _coerce(name, value) for name, value in data.items() if value is not None}
        profile = parsed.get("profile")
        if profile is None:
            profile = parsed["profile"] = "prod" if parsed.get("env") == "prod" else "dev"
        if profile == "prod":
            for name, field in cls.model_fields.items():
                extra = field.json_schema_extra
                # An existing VPC brings its own egress: prod's two NAT gateways belong to the created VPC.
                if name == "nat_gateways" and parsed.get("vpc_id"):
                    continue
                if isinstance(extra, dict) and "prod" in extra and name not in parsed:
                    parsed[name] = extra["prod"]
        return parsed

    # --- One key at a time ----------------------------------------------------------------------------

    @field_validator("env")
    @classmethod
    def _env(cls, value: str) -> str:
        return check_env(value)

    @field_validator("postgres_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # "postgres_version": 17.9 typed as a number in cdk.json means the version "17.9".
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator(*_AWS_RULES)
    @classmethod
    def _aws_rule(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The rule AWS or PostgreSQL would apply to this key at deploy time, applied now (stacks/aws_rules.py)."""
        name = str(info.field_name)
        if value is not None and (problem := _AWS_RULES[name](value)):
            raise ConfigError(name, value, problem)
        return value

    @field_validator(*_AWS_LIST_RULES)
    @classmethod
    def _aws_list_rule(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """Each item under its AWS rule; an item twice is a typo (one subnet cannot serve two zones)."""
        name = str(info.field_name)
        for item in value:
            if problem := _AWS_LIST_RULES[name](item):
                raise ConfigError(name, item, problem)
        # Subnets may share one route table; no subnet or zone serves twice.
        if name != "vpc_private_route_table_ids" and len(set(value)) != len(value):
            raise ConfigError(name, ",".join(value), "each value once")
        return value

    @field_validator("db_allowed_cidrs", "api_allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        cidrs = []
        for item in value:
            try:
                cidrs.append(str(ipaddress.ip_network(item, strict=True)))
            except ValueError:
                raise ConfigError(
                    info.field_name or "cidrs", item, "IPv4 or IPv6 CIDRs such as 203.0.113.7/32 (host bits zero)"
                ) from None
        return tuple(cidrs)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ConfigError("log_retention_days", value, cls._allowed("log_retention_days"))
        return value

    @field_validator("llm_secret_keys")
    @classmethod
    def _llm_keys(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ConfigError("llm_secret_keys", value, "a non-empty JSON object: env var -> JSON key in the secret")
        for env_var, json_key in value.items():
            if env_var not in LLM_ENV_VARS:
                raise ConfigError("llm_secret_keys", env_var, f"one of {', '.join(LLM_ENV_VARS)}")
            if not _JSON_KEY.match(json_key):
                raise ConfigError("llm_secret_keys", json_key, "a JSON key of letters, digits, '_', '.', '-'")
        return value

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ConfigError("alarm_email", value, "an email address")
        return value

    @field_validator("pipeline_repo")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        if value is not None and not _REPO.match(value):
            raise ConfigError("pipeline_repo", value, "a repository as owner/name")
        return value

    @field_validator("github_repo")
    @classmethod
    def _github_repo(cls, value: str | None) -> str | None:
        if value is not None and not _REPO.match(value):
            raise ConfigError("github_repo", value, "a repository as owner/name")
        return value

    @field_validator("github_oidc_provider_arn")
    @classmethod
    def _oidc_arn(cls, value: str | None) -> str | None:
        if value is not None and not _OIDC_ARN.match(value):
            raise ConfigError(
                "github_oidc_provider_arn",
                value,
                "arn:<partition>:iam::<12-digit account>:oidc-provider/token.actions.githubusercontent.com",
            )
        return value

    @field_validator("permissions_boundary")
    @classmethod
    def _boundary(cls, value: str | None) -> str | None:
        # https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html: PolicyName, 1-128 of [\w+=,.@-].
        if value is not None and not re.fullmatch(r"[\w+=,.@-]{1,128}", value):
            raise ConfigError("permissions_boundary", value, "an IAM policy name: 1-128 letters, digits, _+=,.@-")
        return value

    @field_validator("pipeline_branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        # https://git-scm.com/docs/git-check-ref-format: no '..', '//', '@{', no leading '/' or trailing '/' '.'.
        if not _BRANCH.match(value) or value.endswith(".lock"):
            raise ConfigError("pipeline_branch", value, "a git branch name (git check-ref-format)")
        return value

    # --- Rules that involve more than one key ---------------------------------------------------------

    @model_validator(mode="after")
    def _relations(self, info: ValidationInfo) -> LettaConfig:
        context = info.context or {}
        if self.min_acu > self.max_acu:
            raise ConfigError("min_acu", self.min_acu, f"at most max_acu ({self.max_acu})")
        if self.min_tasks > self.max_tasks:
            raise ConfigError("min_tasks", self.min_tasks, f"at most max_tasks ({self.max_tasks})")
        sizes = FARGATE_SIZES[self.task_cpu]
        if self.task_memory not in sizes:
            raise ConfigError(
                "task_memory", self.task_memory, f"with task_cpu {self.task_cpu}: {', '.join(map(str, sizes))} MiB"
            )
        # The database sits in isolated subnets without a public address: only a routed private network reaches it.
        for cidr in self.db_allowed_cidrs:
            if problem := aws_rules.routed_private_problem(cidr):
                raise ConfigError("db_allowed_cidrs", cidr, problem)
        if (covered := aws_rules.public_cover(self.api_allowed_cidrs)) and not self.api_allow_public:
            shown = ",".join(self.api_allowed_cidrs)
            raise ConfigError(
                "api_allowed_cidrs", shown, f"ranges that do not admit all of {covered}, or api_allow_public=true"
            )
        if covered and not self.uses_tls and not self.allow_plain_http:
            # Every request carries the server password as a bearer token: to the whole internet, only over TLS.
            raise ConfigError(
                "certificate_arn",
                None,
                f"an ACM certificate ARN (or domain_name) when api_allowed_cidrs admit all of {covered}, or "
                "allow_plain_http=true",
            )
        # The API opens 80 (and 443 with a certificate) per CIDR; the database's group also admits the service.
        for cidrs_key, ports, reserved in (
            ("api_allowed_cidrs", 2 if self.uses_tls else 1, 0),
            ("db_allowed_cidrs", 1, 1),
        ):
            if problem := aws_rules.security_group_rules_problem(
                getattr(self, cidrs_key), ports=ports, reserved=reserved
            ):
                raise ConfigError(cidrs_key, f"{len(getattr(self, cidrs_key))} CIDRs", problem)
        self._scale_out_rules()
        self._profile_rules()
        self._region_rules(context.get("default_region"))
        self._secret_rules()
        self._pipeline_rules()
        self._restore_rules(context.get("default_region"))
        self._ci_roles_rules()
        self._vpc_rules(context.get("default_region"))
        self._domain_rules()
        if (remote := [o for o in self.browser_origins if o.startswith("https://")]) and not self.uses_tls:
            raise ConfigError(
                "browser_origins",
                remote[0],
                "https origins only with certificate_arn or domain_name (a browser blocks an https page's calls to a "
                "plain-HTTP API)",
            )
        if self.alarm_email and not self.alarms:
            raise ConfigError("alarm_email", self.alarm_email, "only with alarms=true")
        return self

    def _scale_out_rules(self) -> None:
        if self.shared_redis == "off" and self.max_tasks > 1:
            # Each task would keep its own locks and streams: two messages to one agent would not serialize.
            raise ConfigError("shared_redis", "off", f"'auto' or 'on' with max_tasks {self.max_tasks} (above 1)")
        budget = self.connection_budget
        if not budget.fits:
            raise ConfigError(
                "max_acu",
                self.max_acu,
                f"a connection budget that fits: {budget.explain()}; raise max_acu or lower max_tasks"
                + ("" if self.db_pooling else " (or set db_pooling=true)"),
            )

    def _profile_rules(self) -> None:
        if not self.is_prod:
            return
        if self.removal_behaviour == "destroy":
            raise ConfigError("removal_behaviour", "destroy", "'snapshot' in the prod profile")
        if self.vpc_id and not self.vpc_private_subnet_ids:
            # Prod tasks run in private subnets, never with a public IP.
            raise ConfigError(
                "vpc_private_subnet_ids", "", "subnet ids in the prod profile (its tasks get no public IP)"
            )
        if self.nat_gateways == 0 and not self.vpc_id:
            # Prod tasks run in private subnets; with no NAT they cannot pull the image or reach an LLM.
            raise ConfigError("nat_gateways", 0, "1 or 2 in the prod profile (tasks in private subnets need egress)")
        if not self.uses_tls and not self.allow_plain_http:
            raise ConfigError(
                "certificate_arn",
                None,
                "an ACM certificate ARN (or domain_name) in the prod profile, or allow_plain_http=true",
            )

    def _region_rules(self, default_region: str | None) -> None:
        region = self.region
        if region is None and default_region:
            if problem := aws_rules.region_problem(default_region):
                raise ConfigError("region", default_region, f"{problem} (from CDK_DEFAULT_REGION; set -c region)")
            region = default_region
        if self.certificate_arn and (problem := aws_rules.certificate_arn_problem(self.certificate_arn, region)):
            raise ConfigError("certificate_arn", self.certificate_arn, problem)
        for name in ("llm_secret_arn", "letta_image_credentials_arn"):
            arn = getattr(self, name)
            if arn and (problem := aws_rules.secret_arn_problem(arn, region)):
                raise ConfigError(name, arn, problem)
        if self.db_tls_verify and region and region_roots(region) is None:
            raise ConfigError(
                "db_tls_verify",
                True,
                f"false in {region}: stacks/service/rds_ca/rds-roots.pem has no RDS roots for it (China and GovCloud "
                "publish their own bundles; a newer region: run scripts/update_rds_ca.py)",
            )

    def _secret_rules(self) -> None:
        if self.llm_secret_arn:
            return
        # The secret the stack creates is filled by the operator as {"OPENAI_API_KEY": "..."}: members are
        # named like the variables (docs/operations.md and the SetLlmKeysCommand output say so).
        for env_var, json_key in self.llm_secret_keys.items():
            if json_key != env_var:
                raise ConfigError(
                    "llm_secret_keys",
                    f"{env_var}:{json_key}",
                    f"JSON key {env_var} for {env_var} when the stack creates the secret (set llm_secret_arn "
                    "to map other key names)",
                )

    def _ci_roles_rules(self) -> None:
        if self.ci_roles and not self.github_repo:
            raise ConfigError("github_repo", None, "required with ci_roles=true: the repository as owner/name")
        if self.ci_roles and self.pipeline:
            raise ConfigError("ci_roles", True, "not together with pipeline=true: deploy one, then the other")

    def _pipeline_rules(self) -> None:
        if not self.pipeline:
            return
        for required in ("pipeline_repo", "pipeline_connection_arn"):
            if not getattr(self, required):
                raise ConfigError(required, None, "required with pipeline=true (owner/name and a CodeConnections ARN)")
        if not self.region:
            # The pipeline and its CodeConnections source are regional: say where, do not inherit a default.
            raise ConfigError("region", None, "required with pipeline=true: the region the pipeline runs in")

    def _restore_rules(self, default_region: str | None) -> None:
        """A restore names exactly one source of data and a source for the encryption key (docs/restore.md)."""
        if self.restore_snapshot and (self.restore_source_cluster or self.restore_time):
            other = "restore_source_cluster" if self.restore_source_cluster else "restore_time"
            raise ConfigError(
                "restore_snapshot", self.restore_snapshot, f"a snapshot or a point in time, not both (unset {other})"
            )
        if self.restore_time and not self.restore_source_cluster:
            raise ConfigError(
                "restore_time", self.restore_time, "only with restore_source_cluster (the cluster to read)"
            )
        if self.restore_source_cluster and not self.restore_time:
            raise ConfigError(
                "restore_source_cluster",
                self.restore_source_cluster,
                "with restore_time: an ISO-8601 UTC time or 'latest'",
            )
        if self.restore_source_cluster == self.cluster_identifier:
            raise ConfigError(
                "restore_source_cluster",
                self.restore_source_cluster,
                f"another environment's cluster: {self.cluster_identifier} is env '{self.env}' itself; restore into a "
                "new env (-c env=<new>)",
            )
        region = self.region or default_region
        if self.restore_snapshot and (problem := aws_rules.snapshot_problem(self.restore_snapshot, region)):
            raise ConfigError("restore_snapshot", self.restore_snapshot, problem)
        copies = ("restore_encryption_key_arn", "restore_server_password_arn", "restore_llm_keys_arn")
        if self.restore_kind is None:
            for name in copies:
                if value := getattr(self, name):
                    raise ConfigError(name, value, "only with restore_snapshot or restore_source_cluster")
            return
        if not self.restore_encryption_key_arn:
            raise ConfigError(
                "restore_encryption_key_arn",
                None,
                "the source environment's LETTA_ENCRYPTION_KEY secret ARN with a restore: a new key would leave every "
                "encrypted value in the restored rows unreadable",
            )
        if self.restore_llm_keys_arn and self.llm_secret_arn:
            raise ConfigError(
                "restore_llm_keys_arn",
                self.restore_llm_keys_arn,
                "unset while llm_secret_arn is set (the tasks read that secret; there is nothing to copy into)",
            )
        for name in copies:
            arn = getattr(self, name)
            if arn and region and (problem := aws_rules.secret_arn_problem(arn, region)):
                raise ConfigError(name, arn, problem)
            if arn and region and arn.split(":")[3] != region:
                # The copy handler reads it with a client of the stack's region (replicate the secret first).
                raise ConfigError(name, arn, f"a secret in the stack's region {region} (replicate it there first)")

    def _vpc_rules(self, default_region: str | None) -> None:
        """An existing VPC comes as ids, complete and consistent: synth looks nothing up (docs/network.md)."""
        lists = ("vpc_availability_zones", "vpc_public_subnet_ids", "vpc_private_subnet_ids", "vpc_database_subnet_ids")
        if not self.vpc_id:
            for name in (*lists, "vpc_private_route_table_ids"):
                if value := getattr(self, name):
                    raise ConfigError(name, ",".join(value), "only with vpc_id (the created VPC makes its own)")
            if self.vpc_endpoints:
                raise ConfigError(
                    "vpc_endpoints", True, "only with vpc_id (the created VPC's tasks use NAT or a public IP)"
                )
            return
        if self.nat_gateways:
            raise ConfigError(
                "nat_gateways",
                self.nat_gateways,
                "0 with vpc_id (the existing VPC's egress is its own; set -c nat_gateways=0)",
            )
        if self.vpc_cidr != LettaConfig.model_fields["vpc_cidr"].default:
            raise ConfigError("vpc_cidr", self.vpc_cidr, "unset with vpc_id (the existing VPC has its range)")
        zones = self.vpc_availability_zones
        # Aurora's subnet group, the load balancer and the cache's subnet group each need two zones.
        if len(zones) < 2 or len(zones) > 6:
            raise ConfigError("vpc_availability_zones", ",".join(zones), "2 to 6 zone names with vpc_id")
        region = self.region or default_region
        for zone in zones:
            if problem := aws_rules.availability_zone_problem(zone, region):
                raise ConfigError("vpc_availability_zones", zone, problem)
        for name in lists[1:]:
            value = getattr(self, name)
            if name == "vpc_private_subnet_ids" and not value:
                continue
            if len(value) != len(zones):
                raise ConfigError(
                    name,
                    ",".join(value),
                    f"one subnet id per zone of vpc_availability_zones ({len(zones)}), same order",
                )
        public, private = set(self.vpc_public_subnet_ids), set(self.vpc_private_subnet_ids)
        for name in ("vpc_private_subnet_ids", "vpc_database_subnet_ids"):
            if shared := public & set(getattr(self, name)):
                raise ConfigError(name, ",".join(sorted(shared)), "subnets other than vpc_public_subnet_ids")
        routes = self.vpc_private_route_table_ids
        if self.vpc_endpoints and not private:
            raise ConfigError(
                "vpc_endpoints", True, "with vpc_private_subnet_ids (the endpoints serve the task subnets)"
            )
        if self.vpc_endpoints and len(routes) != len(private):
            raise ConfigError(
                "vpc_private_route_table_ids",
                ",".join(routes),
                f"one route table id per private subnet ({len(private)}) with vpc_endpoints (the S3 gateway endpoint)",
            )
        if routes and not self.vpc_endpoints:
            raise ConfigError("vpc_private_route_table_ids", ",".join(routes), "only with vpc_endpoints=true")

    def _domain_rules(self) -> None:
        zone_keys = ("hosted_zone_id", "hosted_zone_name")
        if not self.domain_name:
            for name in zone_keys:
                if value := getattr(self, name):
                    raise ConfigError(name, value, "only with domain_name")
            return
        for name in zone_keys:
            if not getattr(self, name):
                raise ConfigError(name, None, "required with domain_name (no lookup at synth)")
        zone = str(self.hosted_zone_name)
        if self.domain_name != zone and not self.domain_name.endswith(f".{zone}"):
            raise ConfigError("domain_name", self.domain_name, f"a name in the hosted zone {zone} ({zone} or *.{zone})")

    @property
    def uses_tls(self) -> bool:
        """Whether the API listens on HTTPS: a brought certificate, or one made for domain_name."""
        return bool(self.certificate_arn or self.domain_name)

    @property
    def uses_existing_vpc(self) -> bool:
        return self.vpc_id is not None

    @classmethod
    def _allowed(cls, name: str) -> str:
        extra = cls.model_fields[name].json_schema_extra
        return str(extra["allowed"]) if isinstance(extra, dict) else "see docs/configuration.md"


CONFIG_KEYS: tuple[str, ...] = tuple(LettaConfig.model_fields)


def check_env(value: Any) -> str:
    """`value` if it is an environment name the stacks accept, else ConfigError. The operator scripts use it
    for `--env`: one rule for synth and for finding the stacks."""
    value = _coerce("env", value)
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ConfigError("env", value, LettaConfig._allowed("env"))
    for name in (f"letta-{value}-data", f"letta-{value}-service", f"letta-{value}-pipeline"):
        if problem := aws_rules.stack_name_problem(name):
            raise ConfigError("env", value, problem)
    if problem := aws_rules.cluster_identifier_problem(f"letta-{value}"):
        raise ConfigError("env", value, problem)
    return value


def _coerce(name: str, value: Any) -> Any:
    """A `-c` string or a cdk.json value as the type `name` is declared with; the model then checks it."""
    return context_values.parse(name, value, LettaConfig.model_fields[name].annotation, LettaConfig._allowed(name))


def _is_cdk_key(name: str) -> bool:
    return name.startswith(_CDK_KEY_PREFIXES) or name in _CDK_KEYS or (":" in name and name not in CONFIG_KEYS)


def _normal(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _one_line(error: ValidationError) -> ConfigError:
    """The first problem pydantic found, as the one line a user sees."""
    first = error.errors(include_url=False)[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigError):
        return cause
    location = first.get("loc") or ("config",)
    name = str(location[0])
    value = first.get("input")
    if name in LettaConfig.model_fields:
        allowed = LettaConfig._allowed(name)
        if first["type"].endswith("_type") or first["type"] in ("dict_type", "tuple_type"):
            allowed = f"{allowed} ({first['msg'].lower()})"
        return ConfigError(name, value, allowed)
    return ConfigError(name, value, first["msg"])
