"""The container's start command, run for real in bash with a stand-in for Letta's start script that prints
exactly the lines Letta prints at start (LETTA_FACTS.md), secrets included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stacks.service.log_filter import MASK, start_command

DB_PASSWORD = "Zq9-xV_r.^,T4kLm8Pw2"
SERVER_PASSWORD = "s3rverPassw0rdAbCdEfGhIjKlMnOp"
ENCRYPTION_KEY = "encKey0123456789abcdefABCDEF"
OPENAI_KEY = "sk-proj-AbCdEf0123456789GhIjKl"
URI = f"postgresql://letta_app:{DB_PASSWORD}@letta-dev.cluster-abc123.us-east-1.rds.amazonaws.com:5432/letta"

LETTA_START_LINES = [
    "Starting Letta server at http://localhost:8283",
    f"External Postgres configuration detected via LETTA_PG_URI: {URI}",  # start scripts before 0.16
    "Attempting to migrate database...",
    f"Using database: {URI}",
    # Exactly as the real 0.16.8 prints them (seen in the local rehearsal's logs): alembic names the driver.
    f"Using database:  postgresql+pg8000://letta_app:{DB_PASSWORD}@127.0.0.1:5432/letta",
    "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",
    f"Using secure mode with password: {SERVER_PASSWORD}",
    f"\u25b6 Using secure mode with password: {SERVER_PASSWORD}",
    f"openai key loaded: {OPENAI_KEY}",
    f"encryption key is {ENCRYPTION_KEY}",
    "INFO:     Uvicorn running on http://0.0.0.0:8283 (Press CTRL+C to quit)",
]


def fake_letta(tmp_path: Path, *, exit_code: int = 0, on_stderr: bool = False, body: str = "") -> Path:
    script = tmp_path / "startup.sh"
    redirect = " >&2" if on_stderr else ""
    lines = "\n".join(f"printf '%s\\n' '{line}'{redirect}" for line in LETTA_START_LINES)
    script.write_text(f"#!/bin/sh\n{lines}\n{body}\nexit {exit_code}\n")
    script.chmod(0o755)
    return script


MASKED = ["LETTA_PG_URI", "LETTA_SERVER_PASSWORD", "LETTA_ENCRYPTION_KEY", "OPENAI_API_KEY"]


def container_env() -> dict[str, str]:
    return {
        **os.environ,
        "LETTA_PG_URI": URI,
        "LETTA_SERVER_PASSWORD": SERVER_PASSWORD,
        "LETTA_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "OPENAI_API_KEY": OPENAI_KEY,
    }


def run(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        start_command(masked_env_vars=MASKED, start=str(script), python=sys.executable),
        env=container_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_letta_start_lines_reach_the_log_with_every_secret_masked(tmp_path: Path) -> None:
    result = run(fake_letta(tmp_path))
    out = result.stdout
    for secret in (DB_PASSWORD, SERVER_PASSWORD, ENCRYPTION_KEY, OPENAI_KEY, URI):
        assert secret not in out
    assert f"Using secure mode with password: {MASK}" in out
    assert "Using database: postgresql://letta_app:****@letta-dev.cluster-abc123" in out
    assert "Using database:  postgresql+pg8000://letta_app:****@127.0.0.1:5432/letta" in out
    assert f"\u25b6 Using secure mode with password: {MASK}" in out
    # Everything that is not a secret passes unchanged, in order.
    assert "Attempting to migrate database..." in out
    assert out.index("Starting Letta") < out.index("Uvicorn running")
    assert len(out.splitlines()) == len(LETTA_START_LINES)


def test_stderr_is_filtered_too(tmp_path: Path) -> None:
    result = run(fake_letta(tmp_path, on_stderr=True))
    assert SERVER_PASSWORD not in result.stdout + result.stderr
    assert DB_PASSWORD not in result.stdout + result.stderr
    assert "Using secure mode with password: ****" in result.stdout


def test_exit_code_of_letta_is_the_containers(tmp_path: Path) -> None:
    # A failed migration must still stop the task (ECS restarts it; the circuit breaker counts it).
    assert run(fake_letta(tmp_path, exit_code=1)).returncode == 1
    assert run(fake_letta(tmp_path, exit_code=0)).returncode == 0


def test_sigterm_reaches_letta_directly(tmp_path: Path) -> None:
    marker = tmp_path / "got-term"
    script = fake_letta(tmp_path, body=f"trap 'echo term > {marker}; exit 0' TERM\nwhile :; do sleep 0.1; done")
    process = subprocess.Popen(
        start_command(masked_env_vars=MASKED, start=str(script), python=sys.executable), env=container_env()
    )
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert marker.read_text().strip() == "term"


def test_the_command_starts_letta_with_its_own_start_script() -> None:
    command = start_command(masked_env_vars=MASKED)
    assert command[:2] == ["bash", "-c"]
    assert command[2].rstrip().endswith("exec ./letta/server/startup.sh")
