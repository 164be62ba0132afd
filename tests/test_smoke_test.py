"""scripts/smoke_test.py against a fake Letta: a small HTTP server in this test that speaks the part of Letta's
REST API the real letta-client calls, and writes what it "stores" into a real PostgreSQL with pgvector, so the
database checks read real rows. AWS edges (stack outputs, the password secret) use botocore's Stubber."""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.stub import Stubber

from scripts import smoke_test
from scripts.embedded_postgres import EmbeddedPostgres
from tests.postgres_server import password_in_environment, shared_server

TOKEN = "s3rverPassw0rd"
LETTA_SHAPED_TABLES = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE agents (id text PRIMARY KEY, name text, created_at timestamptz DEFAULT now());
CREATE TABLE messages (
    id text PRIMARY KEY, agent_id text, role text, content json, created_at timestamptz DEFAULT now()
);
CREATE TABLE archival_passages (id text PRIMARY KEY, text text, embedding vector(3));
"""


class FakeLetta:
    """Letta's REST surface as letta-client 1.x uses it; records requests; stores rows in PostgreSQL."""

    def __init__(self, dsn: str, *, reply: bool = True, store_messages: bool = True) -> None:
        self.dsn, self.reply, self.store_messages = dsn, reply, store_messages
        self.requests: list[tuple[str, str, str | None]] = []
        self.passages: list[str] = []

    def handle(self, method: str, path: str, body: dict[str, Any], auth: str | None) -> tuple[int, Any]:
        self.requests.append((method, path, auth))
        if path == "/v1/health/":
            return 200, {"version": "0.16.8", "status": "ok"}
        if auth != f"Bearer {TOKEN}":
            return 401, {"detail": "Unauthorized"}
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "agents"]:
            agent_id = f"agent-{uuid.uuid4()}"
            self._sql("INSERT INTO agents (id, name) VALUES (%s, %s)", agent_id, body["name"])
            return 200, {"id": agent_id, "name": body["name"], "memory": {"blocks": body["memory_blocks"]}}
        if method == "POST" and parts[3:] == ["messages"]:
            text = body["messages"][0]["content"]
            answer = f"Echo: {text}"
            if self.store_messages:
                for role, content in (("user", text), ("assistant", answer)):
                    self._sql(
                        "INSERT INTO messages (id, agent_id, role, content) VALUES (%s, %s, %s, %s)",
                        f"message-{uuid.uuid4()}",
                        parts[2],
                        role,
                        json.dumps([{"type": "text", "text": content}]),
                    )
            messages = [{"message_type": "reasoning_message", "reasoning": "The user said hello."}]
            if self.reply:
                messages.append({"message_type": "assistant_message", "content": answer})
            return 200, {"messages": messages, "usage": {}}
        if method == "POST" and parts[3:] == ["archival-memory"]:
            self._sql(
                "INSERT INTO archival_passages (id, text, embedding) VALUES (%s, %s, '[1,2,3]')",
                f"passage-{uuid.uuid4()}",
                body["text"],
            )
            self.passages.append(body["text"])
            return 200, [{"id": "passage-1", "text": body["text"]}]
        if method == "GET" and parts[3:5] == ["archival-memory", "search"]:
            results = [{"id": "p", "content": text, "timestamp": "2026-11-25T00:00:00Z"} for text in self.passages]
            return 200, {"count": len(results), "results": results}
        if method == "DELETE" and len(parts) == 3:
            self._sql("DELETE FROM agents WHERE id = %s", parts[2])
            return 200, {}
        return 404, {"detail": f"no route {method} {path}"}

    def _sql(self, sql: str, *params: object) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(sql, params)


@pytest.fixture(name="database")
def database_fixture() -> Iterator[str]:
    server: EmbeddedPostgres = shared_server(16)
    name = f"smoke_{uuid.uuid4().hex[:10]}"
    server.create_database(name)
    dsn = server.dsn(name)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(LETTA_SHAPED_TABLES)
    yield dsn


@pytest.fixture(name="cli_dsn")
def cli_dsn_fixture(database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``database`` as the command line takes it: no password in the URI, which libpq reads from PGPASSWORD."""
    return password_in_environment(database, monkeypatch)


@pytest.fixture(name="token_env")
def token_env_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server password where an operator (and local_stack.py smoke) puts it: $LETTA_SERVER_PASSWORD."""
    monkeypatch.setenv("LETTA_SERVER_PASSWORD", TOKEN)


def serve(fake: FakeLetta) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            status, payload = fake.handle(
                self.command, self.path.split("?")[0], body, self.headers.get("Authorization")
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return smoke_test.main(argv, out=out), out.getvalue()


def test_walkthrough_flow_against_fake_letta_passes_with_real_database_rows(
    database: str, cli_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server password from --token-file (mode 0600), which wins over a stale $LETTA_SERVER_PASSWORD.
    monkeypatch.setenv("LETTA_SERVER_PASSWORD", "stale")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    fake = FakeLetta(database)
    server, url = serve(fake)
    try:
        code, out = run(
            ["--base-url", url, "--token-file", str(token_file), "--dsn", cli_dsn, "--health-timeout", "10"]
        )
    finally:
        server.shutdown()
    assert code == smoke_test.EXIT_OK, out
    assert f"Agent: Echo: {smoke_test.MESSAGE}" in out
    assert "database: agent row in agents: 1" in out
    assert "database: its messages in messages: 2" in out
    assert "database: vector in pg_extension: 1" in out
    assert "database: the passage in archival_passages: 1" in out
    assert "smoke test: all checks passed" in out
    methods = [(m, p.split("/")[-1] if m == "DELETE" else p) for m, p, _ in fake.requests]
    assert methods[0] == ("GET", "/v1/health/")
    assert methods[-1][0] == "DELETE"  # the test agent is cleaned up
    assert all(auth == f"Bearer {TOKEN}" for m, p, auth in fake.requests if p != "/v1/health/")
    assert TOKEN not in out


def test_keep_leaves_the_agent_and_no_archival_skips_passages(database: str, cli_dsn: str, token_env: None) -> None:
    fake = FakeLetta(database)
    server, url = serve(fake)
    try:
        code, out = run(["--base-url", url, "--dsn", cli_dsn, "--keep", "--no-archival"])
    finally:
        server.shutdown()
    assert code == smoke_test.EXIT_OK, out
    assert not [r for r in fake.requests if r[0] == "DELETE"]
    assert not [r for r in fake.requests if "archival" in r[1]]


def test_missing_assistant_reply_fails_the_agent_step(database: str, cli_dsn: str, token_env: None) -> None:
    server, url = serve(FakeLetta(database, reply=False))
    try:
        code, _ = run(["--base-url", url, "--dsn", cli_dsn])
    finally:
        server.shutdown()
    assert code == smoke_test.EXIT_AGENT


def test_messages_missing_from_the_database_fail_the_database_step(
    database: str, cli_dsn: str, token_env: None
) -> None:
    fake = FakeLetta(database, store_messages=False)
    server, url = serve(fake)
    try:
        code, out = run(["--base-url", url, "--dsn", cli_dsn])
    finally:
        server.shutdown()
    assert code == smoke_test.EXIT_DATABASE, out
    assert [r for r in fake.requests if r[0] == "DELETE"], "the agent is deleted even when a check fails"


def test_wrong_token_fails_the_agent_step(database: str, cli_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETTA_SERVER_PASSWORD", "wrong")
    server, url = serve(FakeLetta(database))
    try:
        code, _ = run(["--base-url", url, "--dsn", cli_dsn])
    finally:
        server.shutdown()
    assert code == smoke_test.EXIT_AGENT


def test_unreachable_server_times_out_on_health_with_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["--base-url", "http://127.0.0.1:9", "--health-timeout", "1"])
    assert code == smoke_test.EXIT_HEALTH
    assert "waiting for http://127.0.0.1:9/v1/health/" in out
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not healthy after 1 s" in err[0]


@pytest.mark.parametrize(
    ("mode", "content", "message"),
    [
        (0o644, TOKEN, "may be read by group or others (mode 0644): chmod 600 it first"),
        (0o640, TOKEN, "may be read by group or others (mode 0640)"),
        (0o600, "", "must hold the secret on one line"),
        (0o600, f"{TOKEN}\nsecond", "must hold the secret on one line"),
    ],
)
def test_a_token_file_others_may_read_or_not_one_line_is_refused(
    mode: int, content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(content, encoding="utf-8")
    token_file.chmod(mode)
    with pytest.raises(SystemExit) as exited:
        smoke_test.main(["--base-url", "http://127.0.0.1:9", "--token-file", str(token_file)])
    err = capsys.readouterr().err
    assert exited.value.code == smoke_test.EXIT_USAGE
    assert f"smoke_test.py: error: argument --token-file: '{token_file}' {message}" in err
    assert TOKEN not in err


def test_bad_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        smoke_test.main(["--health-timeout", "soon"])
    assert exited.value.code == smoke_test.EXIT_USAGE
    assert "--health-timeout" in capsys.readouterr().err


def test_target_from_stack_outputs_and_password_secret_stubbed() -> None:
    cfn = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    secrets = boto3.client("secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:pw-AbCdEf"
    with Stubber(cfn) as cfn_stub, Stubber(secrets) as secrets_stub:
        cfn_stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "letta-dev-service",
                        "CreationTime": "2026-11-25T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": "ApiUrl", "OutputValue": "http://letta.example"}],
                    }
                ]
            },
            {"StackName": "letta-dev-service"},
        )
        cfn_stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "letta-dev-data",
                        "CreationTime": "2026-11-25T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": "ServerPasswordSecretArn", "OutputValue": arn}],
                    }
                ]
            },
            {"StackName": "letta-dev-data"},
        )
        secrets_stub.add_response(
            "get_secret_value", {"SecretString": json.dumps({"password": TOKEN})}, {"SecretId": arn}
        )
        clients = {"cloudformation": cfn, "secretsmanager": secrets}
        args = smoke_test.build_parser().parse_args(["--env", "dev"])
        target = smoke_test.resolve_target(args, lambda service, region, **_: clients[service])
    assert (target.base_url, target.token) == ("http://letta.example", TOKEN)
    assert target.database_label == "Data API (letta-dev-data)"


def test_missing_stack_is_a_stack_error_stubbed(capsys: pytest.CaptureFixture[str]) -> None:
    cfn = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id letta-pr-9-service does not exist")
        code = smoke_test.main(["--env", "pr-9"], client_factory=lambda service, region, **_: cfn)
    assert code == smoke_test.EXIT_STACK
    assert "letta-pr-9-service not found" in capsys.readouterr().err
