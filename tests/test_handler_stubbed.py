"""The Lambda handler end to end: Secrets Manager stubbed, the SQL run on a real PostgreSQL (16 and 18).

The Data API executor is swapped for the psycopg one (the handler's ``executor_factory`` hook); the
Secrets Manager client is a real boto3 client under botocore's Stubber, which checks every request
against the service model.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from botocore.stub import Stubber

from scripts.embedded_postgres import EmbeddedPostgres
from stacks.pgsql.errors import BootstrapError
from stacks.pgsql.executor import Executor
from stacks.pgsql.psycopg_executor import PsycopgExecutor
from stacks.pgsql.sql_files import SqlFile, sql_hash
from stacks.pgvector import handler
from tests.postgres_server import generate_password, unique_role

ACCOUNT = "123456789012"
CLUSTER_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:letta-data"
MASTER_SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:letta-master-AbCdEf"
APP_SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:letta-app-GhIjKl"
CONNECTION_SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:letta-uri-MnOpQr"
URI_PATTERN = re.compile(
    r"^postgresql://(?P<user>[a-z_][a-z0-9_]*):(?P<password>[A-Za-z0-9\-_.^,]+)@127\.0\.0\.1:\d+/\w+$"
)


class FakeContext:
    """The part of the Lambda context the handler uses."""

    def __init__(self, remaining_ms: int = 600_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def secretsmanager() -> Any:
    return boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stubber(secretsmanager: Any) -> Iterator[Stubber]:
    with Stubber(secretsmanager) as stub:
        yield stub
        stub.assert_no_pending_responses()


def event(
    request_type: str, pg: EmbeddedPostgres, database: str, files: list[SqlFile], app_role: str = "letta_app"
) -> dict[str, Any]:
    """A custom-resource event as CloudFormation sends it (every scalar property a string)."""
    body: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:provider",
        "RequestId": "3c1f0b38-8a43-4c3d-9a3b-000000000000",
        "StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/LettaData/0",
        "LogicalResourceId": "PgvectorBootstrap",
        "ResourceType": "Custom::PgvectorBootstrap",
        "ResourceProperties": {
            "ServiceToken": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:provider",
            "ClusterArn": CLUSTER_ARN,
            "MasterSecretArn": MASTER_SECRET_ARN,
            "AppSecretArn": APP_SECRET_ARN,
            "ConnectionSecretArn": CONNECTION_SECRET_ARN,
            "Database": database,
            "AppRole": app_role,
            "Host": "127.0.0.1",
            "Port": str(pg.port),
            "SqlFiles": [{"name": f.name, "sql": f.text} for f in files],
            "SqlHash": sql_hash(files),
        },
    }
    if request_type != "Create":
        body["PhysicalResourceId"] = handler.physical_id(CLUSTER_ARN, database)
    return body


def stub_app_secret(stubber: Stubber, secret: dict[str, Any]) -> None:
    stubber.add_response(
        "get_secret_value",
        {
            "ARN": APP_SECRET_ARN,
            "Name": "letta-app",
            "SecretString": json.dumps(secret),
            "VersionId": "v" * 32,
        },
        {"SecretId": APP_SECRET_ARN},
    )


def stub_put_uri(stubber: Stubber, uri: str) -> None:
    stubber.add_response(
        "put_secret_value",
        {"ARN": CONNECTION_SECRET_ARN, "Name": "letta-uri", "VersionId": "w" * 32},
        {"SecretId": CONNECTION_SECRET_ARN, "SecretString": json.dumps({"uri": uri})},
    )


class Recorder:
    """An executor factory that runs on the embedded server and records the deadline it was given."""

    def __init__(self, pg: EmbeddedPostgres) -> None:
        self.pg = pg
        self.deadlines: list[float] = []

    def __call__(self, props: handler.Properties, deadline: float) -> Executor:
        self.deadlines.append(deadline)
        return PsycopgExecutor(self.pg.dsn(props.database))


def refuse_executor(props: handler.Properties, deadline: float) -> Executor:
    raise AssertionError("no SQL may run here")


def test_create_then_update_stubbed(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
    stubber: Stubber,
    secretsmanager: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    uri = f"postgresql://{app_role}:{app_password}@127.0.0.1:{embedded_postgres.port}/{fresh_database}"
    assert URI_PATTERN.fullmatch(uri)
    recorder = Recorder(embedded_postgres)
    timings = []
    for request_type in ("Create", "Update"):
        stub_app_secret(stubber, {"username": app_role, "password": app_password, "engine": "postgres"})
        stub_put_uri(stubber, uri)  # the Stubber fails the call unless SecretString is exactly this
        started = time.monotonic()
        result = handler.on_event(
            event(request_type, embedded_postgres, fresh_database, sql_files, app_role),
            FakeContext(remaining_ms=600_000),
            secretsmanager=secretsmanager,
            executor_factory=recorder,
        )
        timings.append(time.monotonic() - started)
        assert result == {
            "PhysicalResourceId": handler.physical_id(CLUSTER_ARN, fresh_database),
            "Data": {"PgvectorVersion": "0.8.5"},
        }
    # The deadline leaves the safety margin before the Lambda's own timeout.
    assert recorder.deadlines[0] - started <= 600 - handler.SAFETY_MARGIN_S
    assert recorder.deadlines[0] - started >= 600 - handler.SAFETY_MARGIN_S - 30
    # The URI written to the secret logs in as the app role.
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            app_role,
            fresh_database,
        )
    with psycopg.connect(embedded_postgres.dsn(fresh_database)) as conn:
        (verifier,) = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (app_role,)).fetchone()
    logged = caplog.text
    assert app_password not in logged and verifier not in logged and "SCRAM-SHA-256$" not in logged
    assert f"postgresql://{app_role}:****@127.0.0.1" in logged
    assert "001_vector_extension.sql statement 1/1 done in" in logged
    assert all(t < 10 for t in timings), timings


def test_renaming_the_app_role_keeps_letta_tables_and_redeploys_the_uri_stubbed(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_password: str,
    sql_files: list[SqlFile],
    stubber: Stubber,
    secretsmanager: Any,
) -> None:
    old, new = unique_role("letta_old"), unique_role("letta_new")
    new_password = generate_password()
    recorder = Recorder(embedded_postgres)
    old_uri = f"postgresql://{old}:{app_password}@127.0.0.1:{embedded_postgres.port}/{fresh_database}"
    stub_app_secret(stubber, {"username": old, "password": app_password})
    stub_put_uri(stubber, old_uri)
    create = event("Create", embedded_postgres, fresh_database, sql_files, old)
    handler.on_event(create, FakeContext(), secretsmanager=secretsmanager, executor_factory=recorder)
    with psycopg.connect(old_uri, autocommit=True) as conn:  # what Letta's migrations do as the app role
        conn.execute("CREATE TABLE agents (id text PRIMARY KEY)")
    # The rename changes the secret's generator: CloudFormation generated a new password for the new name.
    new_uri = f"postgresql://{new}:{new_password}@127.0.0.1:{embedded_postgres.port}/{fresh_database}"
    stub_app_secret(stubber, {"username": new, "password": new_password})
    stub_put_uri(stubber, new_uri)
    update = event("Update", embedded_postgres, fresh_database, sql_files, new)
    update["OldResourceProperties"] = create["ResourceProperties"]
    result = handler.on_event(update, FakeContext(), secretsmanager=secretsmanager, executor_factory=recorder)
    assert result["PhysicalResourceId"] == handler.physical_id(CLUSTER_ARN, fresh_database)
    with psycopg.connect(new_uri) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'agents'").fetchone()
        assert owner == (new,)
        assert conn.execute("SELECT count(*) FROM agents").fetchone() == (0,)
    with psycopg.connect(embedded_postgres.dsn(fresh_database)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (old,)).fetchone() == (0,)


def test_renaming_onto_an_existing_role_is_refused_stubbed(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_password: str,
    sql_files: list[SqlFile],
    stubber: Stubber,
    secretsmanager: Any,
) -> None:
    old, new = unique_role("letta_old"), unique_role("letta_new")
    with psycopg.connect(embedded_postgres.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {old} LOGIN")
        conn.execute(f"CREATE ROLE {new} LOGIN")
    stub_app_secret(stubber, {"username": new, "password": app_password})
    update = event("Update", embedded_postgres, fresh_database, sql_files, new)
    update["OldResourceProperties"] = {**update["ResourceProperties"], "AppRole": old}
    with pytest.raises(BootstrapError, match=f"cannot rename the app role '{old}' to '{new}': both roles exist"):
        handler.on_event(
            update, FakeContext(), secretsmanager=secretsmanager, executor_factory=Recorder(embedded_postgres)
        )


def test_physical_id_is_stable_and_specific_stubbed() -> None:
    first = handler.physical_id(CLUSTER_ARN, "letta")
    assert first == handler.physical_id(CLUSTER_ARN, "letta")
    assert first != handler.physical_id(CLUSTER_ARN, "other")
    assert first != handler.physical_id(CLUSTER_ARN.replace("letta-data", "other"), "letta")
    assert re.fullmatch(r"pgvector-bootstrap-[0-9a-f]{24}", first)


def test_delete_does_nothing_stubbed(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
    stubber: Stubber,
    secretsmanager: Any,
) -> None:
    stub_app_secret(stubber, {"username": app_role, "password": app_password})
    stub_put_uri(stubber, f"postgresql://{app_role}:{app_password}@127.0.0.1:{embedded_postgres.port}/{fresh_database}")
    recorder = Recorder(embedded_postgres)
    create = event("Create", embedded_postgres, fresh_database, sql_files, app_role)
    handler.on_event(create, FakeContext(), secretsmanager=secretsmanager, executor_factory=recorder)

    delete = event("Delete", embedded_postgres, fresh_database, sql_files)
    # No stubbed responses are left: any AWS call would fail, and so would any SQL.
    result = handler.on_event(delete, FakeContext(), secretsmanager=secretsmanager, executor_factory=refuse_executor)
    assert result == {"PhysicalResourceId": delete["PhysicalResourceId"]}
    with psycopg.connect(embedded_postgres.dsn(fresh_database)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (app_role,)).fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone() == (1,)


def test_delete_after_a_failed_create_ignores_broken_properties_stubbed(secretsmanager: Any) -> None:
    broken = {
        "RequestType": "Delete",
        "PhysicalResourceId": "request-id-of-failed-create",
        "ResourceProperties": {},
    }
    result = handler.on_event(broken, FakeContext(), secretsmanager=secretsmanager, executor_factory=refuse_executor)
    assert result == {"PhysicalResourceId": "request-id-of-failed-create"}


def test_a_failing_file_fails_the_resource_without_writing_the_uri_stubbed(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
    stubber: Stubber,
    secretsmanager: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stub_app_secret(stubber, {"username": app_role, "password": app_password})
    files = [*sql_files, SqlFile("003_broken.sql", "GRANT NOTHING TO nobody_at_all;")]
    with pytest.raises(BootstrapError) as error:
        handler.on_event(
            event("Update", embedded_postgres, fresh_database, files, app_role),
            FakeContext(),
            secretsmanager=secretsmanager,
            executor_factory=Recorder(embedded_postgres),
        )
    assert str(error.value).startswith("003_broken.sql statement 1/1 failed: ERROR:")
    assert app_password not in str(error.value) and app_password not in caplog.text
    # No put_secret_value was stubbed: reaching it would have raised a stub error instead.


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({"username": "letta_app"}, "lacks the string keys 'username' and 'password'"),
        (
            {"username": "Letta App", "password": "fine"},
            "the app secret's username 'Letta App' is not a plain identifier",
        ),
        (
            {"username": "letta_app", "password": "has@and%inside"},
            "character(s) Letta's connection string cannot take: '%' '@'",
        ),
    ],
)
def test_a_bad_app_secret_fails_before_any_sql_stubbed(
    embedded_postgres: EmbeddedPostgres,
    sql_files: list[SqlFile],
    stubber: Stubber,
    secretsmanager: Any,
    secret: dict[str, Any],
    message: str,
) -> None:
    stub_app_secret(stubber, secret)
    with pytest.raises(BootstrapError) as error:
        handler.on_event(
            event("Create", embedded_postgres, "letta", sql_files),
            FakeContext(),
            secretsmanager=secretsmanager,
            executor_factory=refuse_executor,
        )
    assert message in str(error.value)
    assert APP_SECRET_ARN in str(error.value)
    if "password" in secret:
        assert secret["password"] not in str(error.value)


def test_unreadable_app_secret_fails_with_a_reason_stubbed(
    embedded_postgres: EmbeddedPostgres, sql_files: list[SqlFile], stubber: Stubber, secretsmanager: Any
) -> None:
    stubber.add_client_error("get_secret_value", service_error_code="AccessDeniedException", service_message="denied")
    with pytest.raises(BootstrapError, match=r"reading the app secret .* failed: .*AccessDeniedException"):
        handler.on_event(
            event("Create", embedded_postgres, "letta", sql_files),
            FakeContext(),
            secretsmanager=secretsmanager,
            executor_factory=refuse_executor,
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SqlHash": "0" * 64}, "SqlHash does not match SqlFiles"),
        ({"Database": "Letta"}, "invalid resource properties: Database 'Letta'"),
        ({"Port": "54x"}, "invalid resource properties"),
        ({"SqlFiles": "001.sql"}, "SqlFiles is not a list"),
        ({"ClusterArn": ""}, "missing resource properties: ClusterArn"),
        ({"SqlFiles": [], "SqlHash": sql_hash([])}, "SqlFiles is empty"),
    ],
)
def test_bad_properties_fail_before_any_call_stubbed(
    embedded_postgres: EmbeddedPostgres,
    sql_files: list[SqlFile],
    secretsmanager: Any,
    stubber: Stubber,
    change: dict[str, str],
    message: str,
) -> None:
    bad = event("Create", embedded_postgres, "letta", sql_files)
    bad["ResourceProperties"].update(change)
    with pytest.raises(BootstrapError, match=re.escape(message)):
        handler.on_event(bad, FakeContext(), secretsmanager=secretsmanager, executor_factory=refuse_executor)


@pytest.mark.parametrize(("change", "message"), [({"Host": "db@evil"}, "host 'db@evil'"), ({"Port": "0"}, "port")])
def test_a_bad_endpoint_fails_before_any_sql_stubbed(
    embedded_postgres: EmbeddedPostgres,
    sql_files: list[SqlFile],
    secretsmanager: Any,
    stubber: Stubber,
    change: dict[str, str],
    message: str,
) -> None:
    stub_app_secret(stubber, {"username": "letta_app", "password": "pw"})
    bad = event("Create", embedded_postgres, "letta", sql_files)
    bad["ResourceProperties"].update(change)
    with pytest.raises(BootstrapError, match=f"cannot build the connection string: {message}"):
        handler.on_event(bad, FakeContext(), secretsmanager=secretsmanager, executor_factory=refuse_executor)


def test_production_executor_runs_as_the_master_secret_without_sdk_retries_stubbed(
    monkeypatch: pytest.MonkeyPatch, embedded_postgres: EmbeddedPostgres, sql_files: list[SqlFile]
) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    props = handler.Properties.from_event(event("Create", embedded_postgres, "letta", sql_files)["ResourceProperties"])
    executor = handler.data_api_executor(props, time.monotonic() + 60)
    client = executor._client
    # Our loop owns the retries, so that the deadline bounds the whole wait.
    assert client.meta.config.retries["total_max_attempts"] == 1
    with Stubber(client) as stub:
        stub.add_response(
            "execute_statement",
            {"records": [[{"longValue": 1}]]},
            {
                "resourceArn": CLUSTER_ARN,
                "secretArn": MASTER_SECRET_ARN,
                "database": "letta",
                "sql": "SELECT 1",
            },
        )
        assert executor.execute("SELECT 1") == [(1,)]
        stub.assert_no_pending_responses()


def test_unknown_request_type_fails_stubbed(secretsmanager: Any) -> None:
    with pytest.raises(BootstrapError, match="unknown RequestType 'Replace'"):
        handler.on_event({"RequestType": "Replace"}, FakeContext(), secretsmanager=secretsmanager)
