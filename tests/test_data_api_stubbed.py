"""The Data API executor against botocore's Stubber on a real ``rds-data`` client (no AWS account).

The stubs check every request against the service model shipped with botocore, so the request shape
(resourceArn, secretArn, database, sql) is the real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber

from stacks.pgsql.bootstrap import VERSION_QUERY, apply, plan
from stacks.pgsql.data_api import (
    BACKOFF_CAP_S,
    TRANSIENT_ERROR_CODES,
    DataApiExecutor,
    backoff_delay,
)
from stacks.pgsql.errors import BootstrapError, StatementError
from stacks.pgsql.sql_files import load_sql_files
from tests.postgres_server import SQL_DIR

CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:letta-data"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:letta-master-AbCdEf"
DATABASE = "letta"
UNREACHABLE = (
    "Communications link failure\n\nThe last packet sent successfully to the server was 0 milliseconds ago. "
    "The driver has not received any packets from the server."
)


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return boto3.client(
        "rds-data", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_executor(client: Any, fake_time: FakeTime, *, budget: float = 300.0) -> DataApiExecutor:
    return DataApiExecutor(
        client,
        resource_arn=CLUSTER_ARN,
        secret_arn=SECRET_ARN,
        database=DATABASE,
        deadline=fake_time.now + budget,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        jitter=lambda: 0.5,
    )


def expected(sql: str) -> dict[str, Any]:
    return {"resourceArn": CLUSTER_ARN, "secretArn": SECRET_ARN, "database": DATABASE, "sql": sql}


def test_request_shape_and_rows_stubbed(client: Any, stubber: Stubber, fake_time: FakeTime) -> None:
    stubber.add_response(
        "execute_statement",
        {"records": [[{"stringValue": "0.8.5"}]], "numberOfRecordsUpdated": 0},
        expected(VERSION_QUERY),
    )
    assert make_executor(client, fake_time).execute(VERSION_QUERY) == [("0.8.5",)]
    assert fake_time.sleeps == []


def test_statement_without_result_gives_no_rows_stubbed(client: Any, stubber: Stubber, fake_time: FakeTime) -> None:
    sql = "CREATE EXTENSION IF NOT EXISTS vector"
    stubber.add_response("execute_statement", {"numberOfRecordsUpdated": 0}, expected(sql))
    assert make_executor(client, fake_time).execute(sql) == []


def test_record_conversion_stubbed(client: Any, stubber: Stubber, fake_time: FakeTime) -> None:
    record = [
        {"stringValue": "text"},
        {"longValue": 42},
        {"doubleValue": 0.5},
        {"booleanValue": False},
        {"isNull": True},
        {"blobValue": b"\x00\x01"},
        {"arrayValue": {"longValues": [1, 2]}},
        {"arrayValue": {"arrayValues": [{"stringValues": ["a"]}, {"booleanValues": [True]}]}},
    ]
    stubber.add_response("execute_statement", {"records": [record, [{"longValue": 7}] * 8]}, expected("SELECT"))
    rows = make_executor(client, fake_time).execute("SELECT")
    assert rows == [
        ("text", 42, 0.5, False, None, b"\x00\x01", [1, 2], [["a"], [True]]),
        (7,) * 8,
    ]


def test_retries_while_resuming_then_succeeds_stubbed(client: Any, stubber: Stubber, fake_time: FakeTime) -> None:
    for _ in range(3):
        stubber.add_client_error(
            "execute_statement",
            service_error_code="DatabaseResumingException",
            service_message="The Aurora DB instance db-XYZ is resuming after being auto-paused.",
            http_status_code=400,
            expected_params=expected("SELECT 1"),
        )
    stubber.add_response("execute_statement", {"records": [[{"longValue": 1}]]}, expected("SELECT 1"))
    assert make_executor(client, fake_time).execute("SELECT 1") == [(1,)]
    # Doubling steps of 1, 2, 4 s; jitter 0.5 lands at three quarters of each.
    assert fake_time.sleeps == [0.75, 1.5, 3.0]


@pytest.mark.parametrize("code", sorted(TRANSIENT_ERROR_CODES))
def test_every_transient_error_is_retried_stubbed(
    client: Any, stubber: Stubber, fake_time: FakeTime, code: str
) -> None:
    stubber.add_client_error("execute_statement", service_error_code=code, service_message="not yet")
    stubber.add_response("execute_statement", {}, expected("SELECT 1"))
    assert make_executor(client, fake_time).execute("SELECT 1") == []
    assert len(fake_time.sleeps) == 1


def test_communications_link_failure_is_retried_stubbed(client: Any, stubber: Stubber, fake_time: FakeTime) -> None:
    stubber.add_client_error("execute_statement", service_error_code="BadRequestException", service_message=UNREACHABLE)
    stubber.add_response("execute_statement", {}, expected("SELECT 1"))
    assert make_executor(client, fake_time).execute("SELECT 1") == []
    assert len(fake_time.sleeps) == 1


def test_connection_error_is_retried_stubbed(fake_time: FakeTime) -> None:
    class FlakyClient:
        calls = 0

        def execute_statement(self, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            if self.calls == 1:
                raise EndpointConnectionError(endpoint_url="https://rds-data.us-east-1.amazonaws.com")
            return {"records": [[{"longValue": 1}]]}

    assert make_executor(FlakyClient(), fake_time).execute("SELECT 1") == [(1,)]
    assert len(fake_time.sleeps) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("BadRequestException", 'ERROR: syntax error at or near "SELEC"\n  Position: 1; SQLState: 42601'),
        ("DatabaseErrorException", 'ERROR: permission denied to create extension "vector"; SQLState: 42501'),
        ("AccessDeniedException", "User is not authorized to perform: rds-data:ExecuteStatement"),
        ("HttpEndpointNotEnabledException", "HttpEndpoint is not enabled for cluster letta-data."),
        ("ForbiddenException", "Forbidden"),
        ("StatementTimeoutException", "The statement timed out"),
    ],
)
def test_non_transient_errors_fail_at_once_stubbed(
    client: Any, stubber: Stubber, fake_time: FakeTime, code: str, message: str
) -> None:
    stubber.add_client_error("execute_statement", service_error_code=code, service_message=message)
    with pytest.raises(StatementError) as error:
        make_executor(client, fake_time).execute("SELEC 1")
    assert str(error.value) == f"{code}: {message}"
    assert fake_time.sleeps == []


def test_deadline_exceeded_raises_bootstrap_error_stubbed(client: Any, stubber: Stubber, fake_time: FakeTime) -> None:
    sql = "ALTER ROLE \"letta\" WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5'"
    for _ in range(9):
        stubber.add_client_error(
            "execute_statement", service_error_code="DatabaseResumingException", service_message="resuming"
        )
    executor = make_executor(client, fake_time, budget=60.0)
    with pytest.raises(BootstrapError) as error:
        executor.execute(sql)
    message = str(error.value)
    assert message.startswith("the cluster did not become reachable through the Data API in 60 s")
    assert "last error: DatabaseResumingException: resuming" in message
    assert "SCRAM" not in message and "PASSWORD" not in message
    assert "(9 tries)" in message
    # Steps 1, 2, 4, 8, 16, 20 (the cap), 20 at jitter 0.5, then only what is left of the 60 s budget.
    assert fake_time.sleeps == [0.75, 1.5, 3.0, 6.0, 12.0, 15.0, 15.0, 6.75]
    assert sum(fake_time.sleeps) == pytest.approx(60.0)


def test_backoff_is_capped_with_jitter_stubbed() -> None:
    for attempt in range(40):
        low, high = backoff_delay(attempt, jitter=0.0), backoff_delay(attempt, jitter=0.999999)
        assert 0 < low <= high <= BACKOFF_CAP_S
        assert high <= 2 * low + 1e-6  # the jitter spreads over half a step, never to zero
    assert backoff_delay(0, jitter=0.0) == 0.5
    assert backoff_delay(100, jitter=0.999999) == pytest.approx(BACKOFF_CAP_S)


def test_apply_sends_one_statement_per_call_stubbed(client: Any, stubber: Stubber, fake_time: FakeTime) -> None:
    files = load_sql_files(SQL_DIR)
    for statement in plan(files, app_role="letta_app", database=DATABASE):
        stubber.add_response("execute_statement", {}, expected(statement.sql))
    role_check = [
        {"stringValue": "postgres"},
        {"booleanValue": False},
        {"booleanValue": False},
        {"booleanValue": False},
        {"booleanValue": False},
    ]
    stubber.add_response("execute_statement", {"records": [role_check]}, {**expected(ANY)})
    password_params = {**expected(ANY)}
    stubber.add_response("execute_statement", {}, password_params)
    stubber.add_response("execute_statement", {"records": [[{"stringValue": "0.8.7"}]]}, expected(VERSION_QUERY))

    seen: list[str] = []
    client.meta.events.register(
        "provide-client-params.rds-data.ExecuteStatement", lambda params, **_: seen.append(params["sql"])
    )
    version = apply(
        make_executor(client, fake_time),
        files,
        app_role="letta_app",
        database=DATABASE,
        app_password="Secr3t-pw",
    )
    assert version == "0.8.7"
    assert len(seen) == 7 and all(";" not in sql.rstrip()[-1:] for sql in seen)
    assert seen[5].startswith('ALTER ROLE "letta_app" WITH LOGIN PASSWORD \'SCRAM-SHA-256$4096:')
    assert "Secr3t-pw" not in "".join(seen)
