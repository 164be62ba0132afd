"""End to end, nothing mocked: `local_stack.py up --offline` (embedded PostgreSQL with pgvector, the cloud's
bootstrap and connection-string code, then the container command read from `cdk.out`: the supervisor running Letta's
own startup.sh, which migrates and starts the real server), then the walkthrough's
agent flow through `smoke_test.py`, then `inspect_db.py --dsn` on the rows it left, then `down`.

The only stand-in is the LLM: the clearly labelled offline echo endpoint. The first run on a machine installs
Letta's pinned venv (a few minutes); later runs reuse it from the user cache.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local_stack import State, app_dsn
from tests.rehearsal import local_stack

ROOT = Path(__file__).resolve().parents[1]
# The dev templates with one extra browser origin (docs/network.md, "Open the ADE"): the task's ACCEPTABLE_ORIGINS
# then reaches the real server, and the CORS test below reads its answer. A loopback http origin needs no TLS.
EXTRA_ORIGIN = "http://localhost:5173"
# Starts the real Letta server (and installs its venv on a fresh machine) on the embedded PostgreSQL.
pytestmark = [pytest.mark.letta, pytest.mark.postgres]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module", name="rehearsal")
def rehearsal_fixture() -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    # PostgreSQL may run as an unprivileged user, which cannot enter pytest's 0700 tmp folders.
    base = Path(tempfile.mkdtemp(prefix="letta-rehearsal-"))
    base.chmod(0o755)
    state_dir = base / "state"
    try:
        from tests.cdk_app import synthesized

        cdk_out = synthesized(browser_origins=EXTRA_ORIGIN).root_dir
        ports = ("--port", str(free_port()), "--llm-port", str(free_port()))
        up = local_stack(state_dir, "up", "--offline", *ports, "--cdk-out", str(cdk_out))
        yield state_dir, up
    finally:
        local_stack(state_dir, "down", "--wipe", timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def test_up_brings_letta_up_healthy_on_the_bootstrapped_database(
    rehearsal: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    state_dir, up = rehearsal
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    state = State.load(state_dir)
    assert state is not None
    assert "bootstrap: bootstrap_sql applied, pgvector 0.8.5" in up.stdout
    assert "letta: schema at 1c28e167b74f, 49 tables in public" in up.stdout
    assert f"Letta is up: http://127.0.0.1:{state.port}" in up.stdout
    assert "letta: running the container command of " in up.stdout and "letta-dev-service.template.json" in up.stdout
    assert "otel: /usr/local/bin/otelcol-contrib is absent here" in up.stdout
    assert "OFFLINE echo endpoint" in up.stdout
    # No secret reaches the terminal: the URI is shown redacted, the token only by where it is.
    for secret in (state.app_password, state.server_password, state.encryption_key):
        assert secret not in up.stdout + up.stderr
    assert (state_dir / "state.json").stat().st_mode & 0o077 == 0


def _preflight(port: int, origin: str) -> dict[str, str]:
    """A browser's CORS preflight for an authenticated GET, as the ADE sends it (no password on a preflight)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/agents/",
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as refused:  # Starlette answers a disallowed origin's preflight with 400
        return {k.lower(): v for k, v in refused.headers.items()}


def test_a_cors_preflight_is_admitted_for_the_configured_origin_and_the_ade_only(
    rehearsal: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    state = State.load(rehearsal[0])
    assert state is not None
    for origin, admitted in (
        (EXTRA_ORIGIN, True),  # browser_origins -> ACCEPTABLE_ORIGINS
        ("https://app.letta.com", True),  # the ADE: Letta always admits it
        ("https://ade.example.com", False),
        (f"{EXTRA_ORIGIN}/", False),  # not the same string: why browser_origins refuses a trailing '/'
    ):
        headers = _preflight(state.port, origin)
        assert (headers.get("access-control-allow-origin") == origin) is admitted, (origin, headers)


def test_letta_logs_keep_no_secret(rehearsal: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    # Real Letta prints the server password and alembic the database URI: the container's own supervisor, the
    # one masking mechanism, must have masked both in what startup.sh wrote (migrations included).
    state_dir, up = rehearsal
    assert up.returncode == 0
    state = State.load(state_dir)
    assert state is not None
    logs = {path.name: path.read_text(errors="replace") for path in (state_dir / "logs").glob("*.log")}
    letta_log = logs["letta-0.log"]
    assert "letta-supervisor: LLM keys exported: OPENAI_API_KEY" in letta_log
    assert "No external Redis configuration detected, starting internal Redis..." in letta_log
    assert "Using internal Redis at: localhost" in letta_log
    assert "Using database:  postgresql+pg8000://letta_app:****@127.0.0.1:" in letta_log
    assert "Database migration completed successfully." in letta_log
    assert "Using secure mode with password: ****" in letta_log
    for name, text in logs.items():
        for secret in (state.app_password, state.server_password, state.encryption_key):
            assert secret not in text, name


def test_smoke_test_and_inspection_see_the_agent_in_postgres(
    rehearsal: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    state_dir, up = rehearsal
    assert up.returncode == 0
    smoke = local_stack(state_dir, "smoke", "--keep", timeout=300)
    assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-3000:]
    assert "Agent: Echo: Hello! Can you remember that my favorite color is blue?" in smoke.stdout
    assert "archival memory: stored and found" in smoke.stdout
    assert "smoke test: all checks passed" in smoke.stdout
    agent_id = next(line.split(": ", 1)[1] for line in smoke.stdout.splitlines() if line.startswith("Created agent"))

    state = State.load(state_dir)
    assert state is not None
    inspect = subprocess.run(
        [sys.executable, "scripts/inspect_db.py", "--dsn", app_dsn(state), "--agent", agent_id, "--json"],
        cwd=ROOT,
        env={**os.environ, "PGPASSWORD": state.app_password},  # libpq reads it; never the command line
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert inspect.returncode == 0, inspect.stderr
    report = json.loads(inspect.stdout)
    text = json.dumps(report)
    assert report["tables_in_public"] == 49
    assert report["pgvector_version"] == "0.8.5"
    assert agent_id in text
    assert "favorite color is blue" in text  # the user's message, stored by Letta in PostgreSQL
    assert "Echo: Hello!" in text  # the assistant's reply
    assert state.app_password not in text


def test_status_then_down_stops_exactly_what_up_started(
    rehearsal: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    state_dir, up = rehearsal
    assert up.returncode == 0
    status = local_stack(state_dir, "status", timeout=60)
    assert status.returncode == 0
    assert "healthy on" in status.stdout and "offline echo running" in status.stdout
    assert "postgres: running on 127.0.0.1:" in status.stdout
    down = local_stack(state_dir, "down", timeout=120)
    assert down.returncode == 0, down.stderr
    stopped = {"letta-0: stopped", "llm: stopped", "letta-0: its private redis-server stopped", "postgres: stopped"}
    assert stopped <= set(down.stdout.splitlines()), down.stdout
    after = local_stack(state_dir, "status", timeout=60)
    assert "letta-0: not running" in after.stdout and "offline echo stopped" in after.stdout
    assert (state_dir / "pgdata" / "PG_VERSION").exists(), "down keeps the data"
    # Switching LLM mode on existing data is refused with a reason instead of a broken server.
    mixed = local_stack(state_dir, "up", timeout=60)
    assert mixed.returncode == 1
    assert "created with --offline" in mixed.stderr
