"""Every config change a user may make is a CloudFormation update: each row of CHANGES is synthesized before and
after and compared with the CDK CLI's own diff library (tests/support/template_diff.js), which knows from the
CloudFormation resource specification which property changes replace a resource.

Whatever the row, no update may replace or delete the cluster, its instances or any secret, change an existing
secret's generator (CloudFormation would generate a new value over what the operator stored), change or remove
an export the deployed service stack imports ("export … in use"), or set the ECS service's DesiredCount (which
CloudFormation applies on every update). Each row also names what must change, so that a row whose change
does nothing fails too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from stacks.pgvector import construct
from tests.cdk_app import ROOT, synthesize

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
DIGEST = "sha256:" + "ab" * 32
DEV: dict[str, Any] = {"postgres_version": "17.7"}
PROD: dict[str, Any] = {"profile": "prod", "certificate_arn": CERTIFICATE, "postgres_version": "17.7"}
ZONE = {
    "domain_name": "letta.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "hosted_zone_name": "example.com",
}
DATA, SERVICE, READER = "letta-dev-data", "letta-dev-service", "letta-dev-reader"
STACKS = (DATA, SERVICE, READER)
PROTECTED = {"AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::SecretsManager::Secret"}
LOSSY = {"WILL_REPLACE", "MAY_REPLACE", "WILL_DESTROY", "WILL_ORPHAN"}


@dataclass(frozen=True)
class Change:
    """One config change: `before` and `after` are context overrides; `expect` maps a logical-id prefix or a
    resource type (in `stack`) to the impact the diff must show; `regenerates` names the secrets whose
    generator this change changes on purpose."""

    name: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    expect: Mapping[tuple[str, str], str]
    regenerates: tuple[str, ...] = ()
    outputs: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # Deployed in two steps, as README says: the service stack alone first (`cdk deploy --exclusively`), so that it
    # stops importing what the data stack then removes; then both. Needed where a change removes an export.
    service_first: bool = False


CHANGES = [
    Change(
        "image tag bump",
        DEV,
        {**DEV, "letta_image": "letta/letta:0.16.9"},
        {(SERVICE, "LettaTask"): "WILL_REPLACE"},
    ),
    Change(
        "image by digest",
        DEV,
        {**DEV, "letta_image": f"letta/letta@{DIGEST}"},
        {(SERVICE, "LettaTask"): "WILL_REPLACE"},
    ),
    Change(
        "min and max ACU",
        DEV,
        {**DEV, "min_acu": 1, "max_acu": 4},
        {(DATA, "DatabaseCluster"): "WILL_UPDATE"},
    ),
    Change(
        # What a dev deployed before auto-pause became dev's default sees at its next deploy: an in-place update.
        "auto-pause (min ACU 0.5 -> 0)",
        {**DEV, "min_acu": 0.5},
        DEV,
        {(DATA, "DatabaseCluster"): "WILL_UPDATE"},
    ),
    Change(
        "task CPU and memory",
        DEV,
        {**DEV, "task_cpu": 2048, "task_memory": 4096},
        {(SERVICE, "LettaTask"): "WILL_REPLACE"},
    ),
    Change(
        "min and max tasks",
        # 6 tasks x 2 x 36 + 11 = 443 connections: 3 ACU (611) hold them (the connection budget).
        {**DEV, "max_acu": 3},
        {**DEV, "max_acu": 3, "min_tasks": 2, "max_tasks": 6},
        {(SERVICE, "LettaServiceTaskCount"): "WILL_UPDATE", (DATA, "SharedRedisReplicationGroup"): "WILL_CREATE"},
    ),
    Change(
        "enabling the shared Redis",
        DEV,
        {**DEV, "shared_redis": "on"},
        {(DATA, "SharedRedisReplicationGroup"): "WILL_CREATE", (SERVICE, "LettaTask"): "WILL_REPLACE"},
    ),
    Change(
        "disabling the shared Redis (service stack first)",
        {**DEV, "shared_redis": "on"},
        DEV,
        {(DATA, "SharedRedisReplicationGroup"): "WILL_DESTROY", (SERVICE, "LettaTask"): "WILL_REPLACE"},
        service_first=True,
    ),
    Change(
        "shared Redis node type",
        PROD,
        {**PROD, "cache_node_type": "cache.t4g.small"},
        {(DATA, "SharedRedisReplicationGroup"): "WILL_UPDATE"},
    ),
    Change(
        "adding a reader",
        {**PROD, "readers": 0},
        PROD,
        # The reader stack (created beside the service stack) holds the reader; the alarms follow the READER role.
        {(READER, "Reader"): "WILL_CREATE", (SERVICE, "AlarmsAuroraReaderLag"): "WILL_CREATE"},
    ),
    Change(
        # What deploying verified TLS (db_tls_verify, on by default) does to a service deployed before it.
        "verified TLS to Aurora on",
        {**DEV, "db_tls_verify": False},
        DEV,
        {(SERVICE, "LettaTask"): "WILL_REPLACE"},
    ),
    Change(
        "Letta's connection pool on",
        DEV,
        {**DEV, "db_pooling": True},
        {(SERVICE, "LettaTask"): "WILL_REPLACE"},
    ),
    Change(
        "adding an LLM provider",
        DEV,
        {
            **DEV,
            "llm_secret_keys": json.dumps({"OPENAI_API_KEY": "OPENAI_API_KEY", "GEMINI_API_KEY": "GEMINI_API_KEY"}),
        },
        {(SERVICE, "LettaTask"): "WILL_REPLACE"},
    ),
    Change(
        "removing an LLM provider",
        DEV,
        {**DEV, "llm_secret_keys": json.dumps({"OPENAI_API_KEY": "OPENAI_API_KEY"})},
        {(SERVICE, "LettaTask"): "WILL_REPLACE"},
    ),
    Change(
        "adding an API CIDR",
        {**DEV, "api_allowed_cidrs": "203.0.113.7/32"},
        {**DEV, "api_allowed_cidrs": "203.0.113.7/32,198.51.100.0/24"},
        {(DATA, "ApiLoadBalancerSecurityGroup"): "WILL_UPDATE"},
    ),
    Change(
        "adding a certificate",
        DEV,
        {**DEV, "certificate_arn": CERTIFICATE},
        {(SERVICE, "LettaLoadBalancerHttps"): "WILL_CREATE"},
        outputs={(SERVICE, "ApiUrl"): "changed"},
    ),
    Change(
        # Fargate Spot on a deployed dev: the service moves from its launch type to a capacity provider strategy.
        # LaunchType is create-only, so CloudFormation creates a new service (unnamed: no name clash) beside the old,
        # waits for it to be stable behind the same target group, then deletes the old one. dev runs one task, the
        # count a new service starts with; prod stays on its launch type unless an operator opts in.
        "Fargate Spot on (dev: on-demand -> spot)",
        {**DEV, "capacity_provider": "on-demand"},
        DEV,
        {
            (SERVICE, "LettaService"): "WILL_REPLACE",
            (SERVICE, "AWS::ECS::ClusterCapacityProviderAssociations"): "WILL_CREATE",
        },
    ),
    Change(
        "Fargate Spot off (dev: spot -> on-demand)",
        DEV,
        {**DEV, "capacity_provider": "on-demand"},
        {
            (SERVICE, "LettaService"): "WILL_REPLACE",
            (SERVICE, "AWS::ECS::ClusterCapacityProviderAssociations"): "WILL_DESTROY",
        },
    ),
    Change(
        "adding your domain",
        DEV,
        {**DEV, **ZONE},
        {
            (SERVICE, "LettaDomainCertificate"): "WILL_CREATE",
            (SERVICE, "LettaAliasRecord"): "WILL_CREATE",
            (SERVICE, "LettaLoadBalancerHttps"): "WILL_CREATE",
        },
        outputs={(SERVICE, "ApiUrl"): "changed"},
    ),
    Change(
        "a brought certificate for your domain",
        {**DEV, **ZONE},
        {**DEV, **ZONE, "certificate_arn": CERTIFICATE},
        {(SERVICE, "LettaDomainCertificate"): "WILL_DESTROY", (SERVICE, "LettaLoadBalancerHttps"): "WILL_UPDATE"},
    ),
    Change(
        "browser origins for Letta (ACCEPTABLE_ORIGINS)",
        {**DEV, "certificate_arn": CERTIFICATE},
        {**DEV, "certificate_arn": CERTIFICATE, "browser_origins": "https://ade.example.com"},
        {(SERVICE, "LettaTask"): "WILL_REPLACE"},
    ),
    Change(
        "ECS Exec on",
        DEV,
        {**DEV, "enable_ecs_exec": True},
        {(SERVICE, "LettaService"): "WILL_UPDATE"},
    ),
    Change(
        "alarm e-mail",
        PROD,
        {**PROD, "alarm_email": "ops@example.com"},
        {(SERVICE, "AlarmsTopic"): "WILL_CREATE"},
    ),
    Change(
        "log retention",
        DEV,
        {**DEV, "log_retention_days": 30},
        {(SERVICE, "LettaLogs"): "WILL_UPDATE", (DATA, "DatabasePostgresLog"): "WILL_UPDATE"},
    ),
    Change(
        "PostgreSQL minor bump",
        DEV,
        {**DEV, "postgres_version": "17.9"},
        {(DATA, "DatabaseCluster"): "WILL_UPDATE"},
    ),
    Change(
        "Aurora storage type (standard -> I/O-Optimized)",
        DEV,
        {**DEV, "storage_type": "aurora-iopt1"},
        {(DATA, "DatabaseCluster"): "WILL_UPDATE"},
    ),
    # Telemetry on a cluster deployed before it existed (or with db_telemetry=false): every instance updates in
    # place (MonitoringInterval, MonitoringRoleArn), the cluster too (Database Insights, Performance Insights).
    Change(
        "database telemetry turned on (prod, writer and reader)",
        {**PROD, "db_telemetry": False},
        PROD,
        {
            (DATA, "DatabaseCluster5"): "WILL_UPDATE",
            (DATA, "DatabaseClusterWriter"): "WILL_UPDATE",
            (READER, "Reader"): "WILL_UPDATE",
            (DATA, "DatabaseMonitoringRole"): "WILL_CREATE",
        },
    ),
    Change(
        "backup retention",
        DEV,
        {**DEV, "backup_retention_days": 7},
        {(DATA, "DatabaseCluster"): "WILL_UPDATE"},
    ),
    Change(
        "NAT gateways in prod (2 -> 1)",
        PROD,
        {**PROD, "nat_gateways": 1},
        {(DATA, "NetworkVpcpublicSubnet2NATGateway"): "WILL_DESTROY"},
    ),
    Change(
        "NAT gateway in dev (0 -> 1): tasks move to private subnets",
        DEV,
        {**DEV, "nat_gateways": 1},
        {(DATA, "NetworkVpcappSubnet1"): "WILL_CREATE", (SERVICE, "LettaService"): "WILL_UPDATE"},
    ),
    Change(
        "rotating the app role's password",
        DEV,
        {**DEV, "app_password_generation": 2},
        {(SERVICE, "Custom::PgvectorBootstrap"): "WILL_UPDATE", (SERVICE, "LettaTask"): "WILL_REPLACE"},
        regenerates=("PgvectorAppCredentials",),
    ),
    Change(
        "renaming the app role",
        DEV,
        {**DEV, "app_db_user": "letta_service"},
        {(SERVICE, "Custom::PgvectorBootstrap"): "WILL_UPDATE", (SERVICE, "LettaTask"): "WILL_REPLACE"},
        regenerates=("PgvectorAppCredentials",),
    ),
    Change(
        "a new bootstrap SQL file",
        DEV,
        {**DEV, "_extra_sql": "SELECT 1;"},
        {(SERVICE, "Custom::PgvectorBootstrap"): "WILL_UPDATE"},
    ),
]


@cache
def templates(overrides_json: str) -> dict[str, dict[str, Any]]:
    overrides = json.loads(overrides_json)
    extra_sql = overrides.pop("_extra_sql", None)
    if extra_sql is None:
        return synthesize(overrides).templates()
    # A bootstrap change: bootstrap_sql/ plus one file, as the construct's default SQL directory.
    folder = Path(tempfile.mkdtemp())
    for file in construct.SQL_DIR.glob("*.sql"):
        shutil.copy(file, folder / file.name)
    (folder / "900_extra.sql").write_text(extra_sql)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(construct.PgvectorBootstrap.__init__.__kwdefaults__, "sql_dir", folder)
        return synthesize(overrides).templates()


def synth(overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return templates(json.dumps(dict(overrides), sort_keys=True))


def template_diff(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The CDK CLI's own diff library (tests/support/template_diff.js) over each old/new template pair."""
    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "node"), str(ROOT / "tests" / "support" / "template_diff.js")],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return list(json.loads(result.stdout))


@cache
def diffs() -> dict[str, dict[str, dict[str, Any]]]:
    """{row name: {stack name: diff summary}}, all rows through one run of the diff library."""
    pairs, keys = [], []
    for change in CHANGES:
        before, after = synth(change.before), synth(change.after)
        for stack in STACKS:
            pairs.append({"old": before[stack], "new": after[stack]})
            keys.append((change.name, stack))
    summaries: dict[str, dict[str, dict[str, Any]]] = {}
    for (name, stack), summary in zip(keys, template_diff(pairs), strict=True):
        summaries.setdefault(name, {})[stack] = summary
    return summaries


def imports(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if "Fn::ImportValue" in value:
            yield value["Fn::ImportValue"]
        for item in value.values():
            yield from imports(item)
    elif isinstance(value, list):
        for item in value:
            yield from imports(item)


def exports(template: dict[str, Any]) -> dict[str, Any]:
    return {o["Export"]["Name"]: o["Value"] for o in template.get("Outputs", {}).values() if "Export" in o}


def test_the_table_covers_at_least_fifteen_changes() -> None:
    assert len(CHANGES) >= 15
    assert len({c.name for c in CHANGES}) == len(CHANGES)


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.name)
def test_a_config_change_updates_in_place_and_loses_nothing(change: Change) -> None:
    summary = diffs()[change.name]
    before, after = synth(change.before), synth(change.after)
    # What the row changes, it does change (a row whose change is a no-op fails here).
    for (stack, prefix), impact in change.expect.items():
        found = {
            k: v["impact"] for k, v in summary[stack]["resources"].items() if prefix in (v["type"], k[: len(prefix)])
        }
        assert impact in found.values(), f"{stack}: expected {prefix}* {impact}, diff shows {found}"
    for (stack, name), kind in change.outputs.items():
        assert summary[stack]["outputs"].get(name) == kind, summary[stack]["outputs"]
    for stack in STACKS:
        for logical_id, resource in summary[stack]["resources"].items():
            # Nothing that holds data or a secret is replaced or deleted.
            if resource["type"] in PROTECTED:
                assert resource["impact"] not in LOSSY, f"{stack}/{logical_id}: {resource}"
            # No secret's generator changes, except where the row regenerates that secret on purpose.
            if resource["type"] == "AWS::SecretsManager::Secret" and "GenerateSecretString" in resource["properties"]:
                assert logical_id.startswith(change.regenerates), f"{stack}/{logical_id} gets a new value"
    # Every export the deployed service imports is still there, with the same value.
    old_exports, new_exports = exports(before[DATA]), exports(after[DATA])
    if change.service_first:
        # Step 1, the new service stack against the old data stack: it imports only what is there.
        for name in set(imports(after[SERVICE])):
            assert name in old_exports, f"the new service imports {name}, which the old data stack lacks"
        # Step 2, the data stack: it keeps every export the (now new) service imports.
        in_use = set(imports(after[SERVICE]))
    else:
        in_use = set(imports(before[SERVICE]))
    for name in in_use:
        assert new_exports.get(name) == old_exports[name], f"export {name} changes while in use"
    # The running task count is never part of an update, and a replaced task definition reaches the service
    # through its reference (the diff library reports only the replacement itself): a new deployment.
    for template in (before[SERVICE], after[SERVICE]):
        (service,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::Service"]
        assert "DesiredCount" not in service["Properties"]
        (task_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::ECS::TaskDefinition"]
        assert service["Properties"]["TaskDefinition"] == {"Ref": task_id}


def test_verified_tls_reaches_a_deployed_service_as_a_new_task_definition_revision_only() -> None:
    summary = diffs()["verified TLS to Aurora on"]
    assert summary[DATA]["resources"] == {}
    changed = {k: (v["type"], v["impact"]) for k, v in summary[SERVICE]["resources"].items()}
    print(changed)
    assert list(changed.values()) == [("AWS::ECS::TaskDefinition", "WILL_REPLACE")]


def test_destroying_and_redeploying_the_service_stack_loses_nothing() -> None:
    templates_ = synth(DEV)
    service = templates_[SERVICE]
    kinds = {r["Type"] for r in service["Resources"].values()}
    # Nothing in the service stack holds state: no database, no secret, nothing retained.
    assert not kinds & {"AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::SecretsManager::Secret"}
    assert not [r for r in service["Resources"].values() if r.get("DeletionPolicy", "Delete") != "Delete"]
    # Every secret the task reads is the data stack's, imported: a redeploy reads the same values.
    task = next(r for r in service["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition")
    for secret in task["Properties"]["ContainerDefinitions"][0]["Secrets"]:
        assert list(imports(secret["ValueFrom"])), secret["Name"]
    # Redeploying is a create from the same template: the data stack does not change at all.
    assert synth(DEV)[DATA] == templates_[DATA]


def test_the_database_cluster_cannot_be_replaced_by_an_update() -> None:
    """The one config key whose change would replace the cluster is `db_name` (DatabaseName requires
    replacement). The cluster has a fixed DBClusterIdentifier, and CloudFormation refuses to replace a
    custom-named resource: such an update fails before it changes anything ("CloudFormation cannot update a
    stack when a custom-named resource requires replacing"), and the old cluster keeps its data."""
    before, after = synth(DEV), synth({**DEV, "db_name": "letta_two"})
    pair = [{"old": before[DATA], "new": after[DATA]}]
    (summary,) = template_diff(pair)
    cluster_id, cluster = next((k, v) for k, v in summary["resources"].items() if v["type"] == "AWS::RDS::DBCluster")
    assert cluster["properties"]["DatabaseName"] == "WILL_REPLACE"
    assert before[DATA]["Resources"][cluster_id]["Properties"]["DBClusterIdentifier"] == "letta-dev"


def test_disabling_the_shared_redis_in_one_step_would_remove_an_export_in_use() -> None:
    """Why that row is service_first: the deployed service imports the Redis endpoint, and CloudFormation refuses to
    remove an export in use. README's "Scaling out" gives the two commands."""
    before, after = synth({**DEV, "shared_redis": "on"}), synth(DEV)
    removed = set(imports(before[SERVICE])) - set(exports(after[DATA]))
    assert removed and all("SharedRedis" in name for name in removed)


# --- Restore keys: once deployed, no change to them reaches the data -----------------------------------------
# Every restore property is create-only (AWS::RDS::DBCluster), so adding, changing or removing one is a
# replacement of the cluster; its fixed DBClusterIdentifier makes CloudFormation refuse that replacement before it
# touches anything ("cannot update a stack when a custom-named resource requires replacing"), and the update rolls
# back with the restored cluster intact. The secrets never change in place: a restored environment's copies have
# their own logical ids, so swapping them is a create plus a delete that CloudFormation leaves to the cleanup of a
# successful update, which the cluster's refusal prevents. A changed source secret alone reaches only the copy
# custom resource, whose handler refuses it (tests/test_restore_stack.py).

KEY = "arn:aws:secretsmanager:us-east-1:123456789012:secret:SecretsEncryptionKey-AbC123"
OTHER_KEY = "arn:aws:secretsmanager:us-east-1:123456789012:secret:SecretsEncryptionKey-XyZ789"
NEW_ENV: dict[str, Any] = {**DEV, "env": "restored"}
SNAPSHOT = {**NEW_ENV, "restore_snapshot": "letta-dev-before-upgrade", "restore_encryption_key_arn": KEY}
POINT = {**NEW_ENV, "restore_source_cluster": "letta-dev", "restore_time": "2026-01-15T09:30:00Z"}
POINT |= {"restore_encryption_key_arn": KEY}
RESTORED_DATA = "letta-restored-data"


@dataclass(frozen=True)
class RestoreChange:
    """A change of restore keys on a deployed environment, and what the cluster and the copy resource see."""

    name: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    cluster: str  # the diff's impact on the cluster: "WILL_REPLACE" (refused: custom name) or "NONE"
    copy_update: bool = False  # the copy custom resource gets an Update (its handler refuses a new source)


RESTORE_CHANGES = [
    RestoreChange("adding a snapshot restore to a live environment", NEW_ENV, SNAPSHOT, "WILL_REPLACE"),
    RestoreChange("adding a point-in-time restore to a live environment", NEW_ENV, POINT, "WILL_REPLACE"),
    RestoreChange(
        "changing the snapshot",
        SNAPSHOT,
        {**SNAPSHOT, "restore_snapshot": "letta-dev-after-upgrade"},
        "WILL_REPLACE",
    ),
    RestoreChange(
        "changing the point in time", POINT, {**POINT, "restore_time": "2026-01-15T10:00:00Z"}, "WILL_REPLACE"
    ),
    RestoreChange("point in time -> latest", POINT, {**POINT, "restore_time": "latest"}, "WILL_REPLACE"),
    RestoreChange("removing the snapshot restore keys", SNAPSHOT, NEW_ENV, "WILL_REPLACE"),
    RestoreChange("removing the point-in-time restore keys", POINT, NEW_ENV, "WILL_REPLACE"),
    RestoreChange(
        "changing the encryption key's source",
        SNAPSHOT,
        {**SNAPSHOT, "restore_encryption_key_arn": OTHER_KEY},
        "NONE",
        copy_update=True,
    ),
]


@cache
def restore_diffs() -> dict[str, dict[str, Any]]:
    pairs = [{"old": synth(c.before)[RESTORED_DATA], "new": synth(c.after)[RESTORED_DATA]} for c in RESTORE_CHANGES]
    return {c.name: s for c, s in zip(RESTORE_CHANGES, template_diff(pairs), strict=True)}


@pytest.mark.parametrize("change", RESTORE_CHANGES, ids=lambda c: c.name)
def test_a_restore_key_change_on_a_live_environment_never_reaches_the_data(change: RestoreChange) -> None:
    summary = restore_diffs()[change.name]["resources"]
    before = synth(change.before)[RESTORED_DATA]
    clusters = {k: v for k, v in summary.items() if v["type"] == "AWS::RDS::DBCluster"}
    if change.cluster == "NONE":
        assert not clusters, clusters
    else:
        ((cluster_id, cluster),) = clusters.items()
        # What `cdk diff` prints as "requires replacement": refused for the custom-named cluster, nothing lost.
        assert cluster["impact"] == change.cluster, cluster
        assert before["Resources"][cluster_id]["Properties"]["DBClusterIdentifier"] == "letta-restored"
    for logical_id, resource in summary.items():
        if resource["type"] == "AWS::SecretsManager::Secret":
            # Never updated in place (a new value over the key the rows were encrypted with): created or deleted.
            assert resource["impact"] in ("WILL_CREATE", "WILL_DESTROY"), f"{logical_id}: {resource}"
        if resource["type"] == "AWS::RDS::DBInstance":
            assert resource["impact"] not in ("WILL_DESTROY", "WILL_ORPHAN"), f"{logical_id}: {resource}"
    copy = [v for v in summary.values() if v["type"] == "Custom::RestoredSecrets"]
    if change.copy_update:
        assert [v["impact"] for v in copy] == ["WILL_UPDATE"], copy


# --- Switching the network of a deployed environment -----------------------------------------------------------
# The diff library sees templates, not AWS's rules. Between the created VPC and an existing one (either way), or to
# another vpc_cidr, it shows the VPC's security groups and target group replaced in the new VPC and the cluster's
# subnet group given the new VPC's subnets "in place". RDS refuses both halves of that: a DB subnet group in use
# cannot move to another VPC's subnets, and a cluster cannot take a security group of another VPC. The update fails
# and rolls back with the cluster untouched, so nothing is lost, and nothing is switched either. The way to move an
# environment is a new one restored from a snapshot (docs/network.md, docs/restore.md).

EXISTING: dict[str, Any] = {
    "vpc_id": "vpc-0a1b2c3d",
    "vpc_availability_zones": "us-east-1a,us-east-1b",
    "vpc_public_subnet_ids": "subnet-0aaaaaa1,subnet-0aaaaaa2",
    "vpc_database_subnet_ids": "subnet-0cccccc1,subnet-0cccccc2",
}
NETWORK_SWITCHES = {
    "created VPC -> existing VPC": (DEV, {**DEV, **EXISTING}),
    "existing VPC -> created VPC": ({**DEV, **EXISTING}, DEV),
    "another vpc_cidr": (DEV, {**DEV, "vpc_cidr": "10.41.0.0/16"}),
}


@cache
def network_diffs() -> dict[str, dict[str, Any]]:
    pairs = [{"old": synth(b)[s], "new": synth(a)[s]} for b, a in NETWORK_SWITCHES.values() for s in (DATA, SERVICE)]
    summaries = iter(template_diff(pairs))
    return {name: {DATA: next(summaries), SERVICE: next(summaries)} for name in NETWORK_SWITCHES}


@pytest.mark.parametrize("name", NETWORK_SWITCHES)
def test_switching_the_network_of_a_live_environment_moves_the_cluster_to_another_vpc(name: str) -> None:
    """What AWS then refuses (above): the cluster's security group is replaced in the other VPC and its subnet group
    gets the other VPC's subnets. Nothing that holds data is replaced or deleted by the template change itself."""
    data = network_diffs()[name][DATA]["resources"]
    impacts = {k: (v["type"], v["impact"]) for k, v in data.items()}
    assert impacts[next(k for k in impacts if k.startswith("NetworkDatabaseSecurityGroup"))] == (
        "AWS::EC2::SecurityGroup",
        "WILL_REPLACE",
    )
    # The subnet group's subnets change: named anew (another VPC's ids), or replaced under it (a new created VPC).
    groups = [v for v in data.values() if v["type"] == "AWS::RDS::DBSubnetGroup"]
    vpcs = [v["impact"] for v in data.values() if v["type"] == "AWS::EC2::VPC"]
    assert [g["properties"].get("SubnetIds") for g in groups] == ["WILL_UPDATE"] or vpcs == ["WILL_REPLACE"]
    for logical_id, (type_, impact) in impacts.items():
        if type_ in PROTECTED:
            assert impact not in LOSSY, f"{logical_id}: {impact}"


DEPLOYED_BEFORE_MOVES = ROOT / "tests" / "fixtures" / "deployed_before_moves"


def test_moving_a_deployed_prod_replaces_the_load_balancer_and_the_reader_and_nothing_that_holds_data() -> None:
    """What `cdk deploy --all` does to a prod environment deployed before the load balancer moved into the data
    stack, the reader into a stack of its own and the bootstrap's run into the service stack: the old templates
    are the ones main synthesized then (tests/fixtures/deployed_before_moves, scripts/setup.sh's prod context).
    docs/deploy-time.md, "Moving a deployed environment", gives the steps this diff implies."""
    from scripts.synthesized import synthesize as synthesize_profile

    new = synthesize_profile("prod")
    old = {
        name: json.loads((DEPLOYED_BEFORE_MOVES / f"{name}.template.json").read_text())
        for name in ("letta-prod-data", "letta-prod-service")
    }
    old["letta-prod-reader"] = {"Resources": {}}  # a new stack: everything in it is created
    names = ("letta-prod-data", "letta-prod-service", "letta-prod-reader")
    summaries = dict(zip(names, template_diff([{"old": old[n], "new": new[n]} for n in names]), strict=True))
    impacts = {
        (name.split("-")[-1], resource["type"], logical_id[:24]): resource["impact"]
        for name, summary in summaries.items()
        for logical_id, resource in summary["resources"].items()
    }

    def impact(stack: str, kind: str, prefix: str) -> str:
        (found,) = [v for (s, t, k), v in impacts.items() if (s, t) == (stack, kind) and k.startswith(prefix)]
        return found

    balancer, group = "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup"
    # A new load balancer beside Aurora (new DNS name: ApiUrl changes), the old one deleted at the end of the
    # service stack's update; a new target group (one group serves one load balancer) and listener.
    assert impact("data", balancer, "ApiLoadBalancer") == "WILL_CREATE"
    assert impact("service", balancer, "LettaLoadBalancer") == "WILL_DESTROY"
    assert impact("service", group, "LettaApiTargets") == "WILL_CREATE"
    assert impact("service", group, "LettaTargets") == "WILL_DESTROY"
    assert impact("service", "AWS::ElasticLoadBalancingV2::Listener", "LettaLoadBalancerHttp") == "WILL_REPLACE"
    assert summaries["letta-prod-service"]["outputs"].get("ApiUrl") == "changed"
    # The ECS service is updated in place (LoadBalancers is not create-only): a rolling deployment into the new
    # group, the running count untouched (the move itself changes no task definition; later changes to the task
    # may, and are each a new deployment of their own).
    (service,) = [r for r in summaries["letta-prod-service"]["resources"].values() if r["type"] == "AWS::ECS::Service"]
    assert service["impact"] == "WILL_UPDATE" and service["properties"].get("LoadBalancers") == "WILL_UPDATE"
    # The reader is deleted from the data stack and created in the reader stack: the one protected resource that
    # goes, and it holds no data of its own (the cluster's volume is shared). Nothing else protected is touched.
    assert impact("data", "AWS::RDS::DBInstance", "DatabaseClusterReader") == "WILL_DESTROY"
    assert impact("reader", "AWS::RDS::DBInstance", "Reader") == "WILL_CREATE"
    for (stack, kind, logical_id), change in impacts.items():
        if kind in PROTECTED and change in LOSSY:
            assert (stack, logical_id) == ("data", "DatabaseClusterReader78F"), (stack, kind, logical_id, change)
    # The bootstrap's run moves too: the data stack deletes its custom resource (Delete does nothing to the data), the
    # service stack creates one that applies the same idempotent files, sets the same app password and writes the
    # same URI before the service's update (the service depends on it). Its Lambda and secrets stay where they are.
    assert impact("data", "Custom::PgvectorBootstrap", "Pgvector") == "WILL_DESTROY"
    assert impact("service", "Custom::PgvectorBootstrap", "Pgvector") == "WILL_CREATE"
    moved = [k for k, v in impacts.items() if k[1] in ("AWS::Lambda::Function", "AWS::IAM::Role") and v in LOSSY]
    assert not moved, moved
    # The data stack is updated first, while the old service stack still imports from it: every export the old
    # service imports is still exported, with the same value.
    old_exports, new_exports = exports(old["letta-prod-data"]), exports(new["letta-prod-data"])
    for name in set(imports(old["letta-prod-service"])):
        assert new_exports.get(name) == old_exports[name], f"export {name} in use by the deployed service"
