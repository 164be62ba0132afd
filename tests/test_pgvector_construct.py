"""Template assertions on the pgvector custom resource: ordering, least privilege, logs, re-apply on change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from stacks.pgsql.sql_files import load_sql_files, sql_hash
from stacks.pgvector import lambda_asset
from stacks.pgvector.construct import SQL_DIR
from tests.cdk_app import only, resources, synthesized


def data() -> dict[str, Any]:
    return synthesized().template("Data").to_json()


def service() -> dict[str, Any]:
    """The service stack runs the bootstrap (its Lambda and secrets are the data stack's)."""
    return synthesized().template("Service").to_json()


def bootstrap(template: dict[str, Any]) -> dict[str, Any]:
    return only(template, "Custom::PgvectorBootstrap")


def handler(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    functions = resources(template, "AWS::Lambda::Function")
    return next((k, f) for k, f in functions.items() if f["Properties"].get("Handler") == lambda_asset.HANDLER)


def test_bootstrap_runs_after_the_writer_instance_and_the_service_after_it() -> None:
    (writer_id,) = resources(data(), "AWS::RDS::DBInstance")
    # The run names the writer (an import of its id): the service stack starts after the data stack anyway, and
    # the name says why in the template (and orders scripts/deploy_path.py's floor).
    writer = bootstrap(service())["Properties"]["WriterInstance"]["Fn::ImportValue"]
    assert f"Ref{writer_id}" in writer
    (run_id,) = resources(service(), "Custom::PgvectorBootstrap")
    assert run_id in only(service(), "AWS::ECS::Service")["DependsOn"]
    assert not resources(data(), "Custom::PgvectorBootstrap")


def test_properties_carry_the_sql_files_and_their_hash() -> None:
    props = bootstrap(service())["Properties"]
    files = load_sql_files(SQL_DIR)
    assert [f["name"] for f in props["SqlFiles"]] == [f.name for f in files]
    assert props["SqlHash"] == sql_hash(files)
    for key in ("ClusterArn", "MasterSecretArn", "AppSecretArn", "ConnectionSecretArn", "Host", "Port"):
        assert key in props
    assert props["Database"] == "letta"


def test_changing_a_sql_file_changes_the_hash_and_so_triggers_an_update(tmp_path: Path) -> None:
    # SqlHash is a resource property (above), so a new hash is a new property value: CloudFormation sends Update.
    changed = tmp_path / "sql"
    shutil.copytree(SQL_DIR, changed)
    original = sql_hash(load_sql_files(changed))
    first = sorted(changed.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- reviewed\n")
    assert sql_hash(load_sql_files(changed)) != original


def test_handler_is_python_arm64_outside_the_vpc_with_its_own_log_group() -> None:
    template = data()
    _, function = handler(template)
    props = function["Properties"]
    assert props["Runtime"].startswith("python3.")
    assert props["Architectures"] == ["arm64"]
    assert "VpcConfig" not in props
    group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    group = template["Resources"][group_id]
    assert group["DeletionPolicy"] == "Delete" and group["Properties"]["RetentionInDays"] == 7


def test_handler_policy_is_least_privilege() -> None:
    template = data()
    _, function = handler(template)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        p for p in resources(template, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    by_action: dict[str, list[Any]] = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            by_action.setdefault(action, []).extend(resources_)
    assert set(by_action) == {
        "rds-data:ExecuteStatement",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    for action, targets in by_action.items():
        assert "*" not in targets, action
    (cluster_id,) = resources(template, "AWS::RDS::DBCluster")
    (cluster_arn,) = by_action["rds-data:ExecuteStatement"]
    assert cluster_arn["Fn::Join"][1][-2:] == [":cluster:", {"Ref": cluster_id}]
    put_targets = json.dumps(by_action["secretsmanager:PutSecretValue"])
    assert "ConnectionString" in put_targets and "AppCredentials" not in put_targets
    get_targets = json.dumps(by_action["secretsmanager:GetSecretValue"])
    assert "AppCredentials" in get_targets and "ConnectionString" not in get_targets


def test_custom_resource_cannot_hang_the_stack() -> None:
    props = bootstrap(service())["Properties"]
    assert int(props["ServiceTimeout"]) <= 15 * 60
    _, function = handler(data())
    assert function["Properties"]["Timeout"] < int(props["ServiceTimeout"])


def test_pgvector_version_is_a_stack_output() -> None:
    outputs = service()["Outputs"]
    (resource_id,) = resources(service(), "Custom::PgvectorBootstrap")
    assert outputs["PgvectorVersion"]["Value"] == {"Fn::GetAtt": [resource_id, "PgvectorVersion"]}
    assert "ConnectionSecretArn" in data()["Outputs"]
