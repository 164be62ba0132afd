"""Synthesizes the app in-process exactly as app.py does, with cdk.json's context plus overrides."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import assertions, cx_api

from stacks.composition import compose
from stacks.stage import LettaStacks

ROOT = Path(__file__).resolve().parents[1]
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
# What `cdk synth` adds to the context by default, so that tests lint the templates the CLI writes.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


@dataclass(frozen=True)
class Synthesized:
    app: cdk.App
    stacks: LettaStacks
    root: cx_api.CloudAssembly

    def template(self, stack: str) -> assertions.Template:
        """`stack` is "Data", "Service" or "Reader"."""
        return assertions.Template.from_stack(self.stack(stack))

    def stack(self, stack: str) -> cdk.Stack:
        return {"Data": self.stacks.data, "Service": self.stacks.service, "Reader": self.stacks.reader}[stack]

    def templates(self) -> dict[str, dict[str, Any]]:
        """Every template of the environment's three stacks, by stack name."""
        return {s.stack_name: s.template for s in self.root.stacks_recursively if s.stack_name in self.stack_names}

    @property
    def stack_names(self) -> set[str]:
        return {stack.stack_name for stack in self.stacks.all}

    @property
    def root_dir(self) -> Path:
        """The app's output directory: every template, nested assemblies included, and validation-report.json."""
        return Path(self.root.directory)


def synthesize(overrides: dict[str, Any] | None = None, *, nag: bool = False) -> Synthesized:
    """A fresh synth; `nag` registers cdk-nag as app.py does (synth then raises on any finding)."""
    app = cdk.App(context={**CLI_CONTEXT, **CDK_JSON_CONTEXT, **(overrides or {})})
    built = compose(app, nag=nag)
    root = app.synth()
    # With pipeline=true the stacks sit in a Stage inside the pipeline stack.
    stacks = built if isinstance(built, LettaStacks) else built.stage.stacks
    return Synthesized(app, stacks, root)


def profile_context(name: str) -> dict[str, Any]:
    """Overrides for a profile; prod without a certificate needs allow_plain_http=true to synthesize."""
    return {"profile": name, "allow_plain_http": True} if name == "prod" else {"profile": name}


@cache
def _cached(key: str) -> Synthesized:
    return synthesize(json.loads(key))


def synthesized(**overrides: Any) -> Synthesized:
    """A cached synth for read-only assertions (synth costs seconds; most tests share a handful)."""
    return _cached(json.dumps(overrides, sort_keys=True))


# Template variants worth checking beyond the profile defaults: the optional branches of the templates.
UUID = "00000000-0000-0000-0000-000000000000"
CERTIFICATE = f"arn:aws:acm:us-east-1:123456789012:certificate/{UUID}"
SOURCE_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:Secrets"
# docs/network.md's existing VPC: two zones, a public, a private (egress through the account's own NAT or Transit
# Gateway) and an isolated subnet in each.
EXISTING_VPC = {
    "vpc_id": "vpc-0a1b2c3d4e5f60718",
    "vpc_availability_zones": "us-east-1a,us-east-1b",
    "vpc_public_subnet_ids": "subnet-0aaaaaaaaaaaaaaa1,subnet-0aaaaaaaaaaaaaaa2",
    "vpc_private_subnet_ids": "subnet-0bbbbbbbbbbbbbbb1,subnet-0bbbbbbbbbbbbbbb2",
    "vpc_database_subnet_ids": "subnet-0ccccccccccccccc1,subnet-0ccccccccccccccc2",
}
# The same VPC whose private subnets have no NAT: the stacks add the task's AWS endpoints.
EXISTING_VPC_NO_NAT = {
    **EXISTING_VPC,
    "vpc_endpoints": True,
    "vpc_private_route_table_ids": "rtb-0ddddddddddddddd1,rtb-0ddddddddddddddd2",
}
# Variants worth linting beyond the profile defaults: the optional branches of the templates.
VARIANTS = [
    {"profile": "dev"},
    {"profile": "prod", "allow_plain_http": True},
    {"profile": "dev", "min_acu": 0, "db_allowed_cidrs": "10.8.0.0/16,fd12:3456::/48"},
    {"profile": "prod", "certificate_arn": CERTIFICATE, "enable_ecs_exec": True, "alarm_email": "ops@example.com"},
    {
        "pipeline": True,
        "region": "eu-west-1",
        "pipeline_repo": "acme/letta-aurora-cdk",
        "pipeline_connection_arn": f"arn:aws:codeconnections:us-east-1:123456789012:connection/{UUID}",
    },
    # The documented public API: the world on the load balancer, opted in explicitly, over TLS only.
    {"profile": "dev", "api_allowed_cidrs": "0.0.0.0/0,::/0", "api_allow_public": True, "certificate_arn": CERTIFICATE},
    # docs/restore.md's two kinds of restore into a new environment, with every secret copied from the source.
    RESTORE_SNAPSHOT := {
        "env": "restored",
        "profile": "prod",
        "allow_plain_http": True,
        "restore_snapshot": "rds:letta-prod-2026-12-01-03-00",
        "restore_encryption_key_arn": f"{SOURCE_SECRET}EncryptionKey-AbC123",
        "restore_server_password_arn": f"{SOURCE_SECRET}ServerPassword-DeF456",
        "restore_llm_keys_arn": f"{SOURCE_SECRET}LlmKeys-GhI789",
    },
    {"profile": "prod", "certificate_arn": CERTIFICATE, **EXISTING_VPC},
    {"profile": "dev", **EXISTING_VPC_NO_NAT},
    # docs/network.md's own domain and the browser origins the API admits.
    DOMAIN := {
        "profile": "prod",
        "domain_name": "letta.example.com",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
        "hosted_zone_name": "example.com",
        "browser_origins": "https://ade.example.com,http://localhost:5173",
    },
    RESTORE_POINT_IN_TIME := {
        "env": "restored",
        "restore_source_cluster": "letta-dev",
        "restore_time": "2026-01-15T09:30:00Z",
        "restore_encryption_key_arn": f"{SOURCE_SECRET}EncryptionKey-AbC123",
    },
]


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    """The resources of one type in a synthesized template, by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(template: dict[str, Any], type_: str) -> dict[str, Any]:
    """The one resource of a type in a template (fails when there are none or several)."""
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {list(found)}"
    return next(iter(found.values()))
