"""End to end, nothing mocked: `local_stack.py up --offline` (embedded PostgreSQL with pgvector, the cloud's
bootstrap and connection-string code, Letta's migrations, the real Letta 0.16.8 server), then the walkthrough's
agent flow through `smoke_test.py`, then `inspect_db.py --dsn` on the rows it left, then `down`.

The only stand-in is the LLM: the clearly labelled offline echo endpoint. The first run on a machine installs
Letta's pinned venv (a few minutes); later runs reuse it from the user cache.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local_stack import State, app_uri

# Starts the real Letta server (and installs its venv on a fresh machine).
pytestmark = pytest.mark.letta

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_stack(state_dir: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/local_stack.py", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module", name="rehearsal")
def rehearsal_fixture() -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    # PostgreSQL may run as an unprivileged user, which cannot enter pytest's 0700 tmp folders.
    base = Path(tempfile.mkdtemp(prefix="letta-rehearsal-"))
    base.chmod(0o755)
    state_dir = base / "state"
    try:
        up = local_stack(state_dir, "up", "--offline", "--port", str(free_port()), "--llm-port", str(free_port()))
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
    assert f"Letta is up: http://127.0.0.1:{state.letta_port}" in up.stdout
    assert "OFFLINE echo endpoint" in up.stdout
    # No secret reaches the terminal: the URI is shown redacted, the token only by where it is.
    for secret in (state.app_password, state.server_password, state.encryption_key):
        assert secret not in up.stdout + up.stderr
    assert (state_dir / "state.json").stat().st_mode & 0o077 == 0


def test_letta_logs_keep_no_secret(rehearsal: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    # Real Letta prints the server password and alembic the database URI; the logs must show neither.
    state_dir, up = rehearsal
    assert up.returncode == 0
    state = State.load(state_dir)
    assert state is not None
    logs = {path.name: path.read_text(errors="replace") for path in (state_dir / "letta" / "logs").glob("*.log")}
    assert {"letta-server.log", "migrations.log"} <= set(logs)
    assert "Using secure mode with password: ***" in logs["letta-server.log"]
    assert "Using database:" in logs["migrations.log"]
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
        [sys.executable, "scripts/inspect_db.py", "--dsn", app_uri(state), "--agent", agent_id, "--json"],
        cwd=ROOT,
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
    assert {"letta: stopped", "llm: offline echo stopped", "postgres: stopped"} <= set(down.stdout.splitlines())
    after = local_stack(state_dir, "status", timeout=60)
    assert "not running from this state folder" in after.stdout and "offline echo stopped" in after.stdout
    assert (state_dir / "pgdata" / "PG_VERSION").exists(), "down keeps the data"
    # Switching LLM mode on existing data is refused with a reason instead of a broken server.
    mixed = local_stack(state_dir, "up", timeout=60)
    assert mixed.returncode == 1
    assert "created with --offline" in mixed.stderr
