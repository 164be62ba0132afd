"""local_stack.py's failure paths: each gives one line and a non-zero exit at once, never a hang or a traceback.
(The working path, end to end with the real Letta, is tests/test_rehearsal_e2e.py.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.local_stack import State

# Every test here runs scripts/local_stack.py as its own process, the way an operator does.
pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/local_stack.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


@pytest.fixture(name="state_dir")
def state_dir_fixture() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="letta-local-stack-") as base:
        yield Path(base) / "state"


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_busy_letta_port_is_refused_before_anything_starts(state_dir: Path) -> None:
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        port = other_program.getsockname()[1]
        started = time.monotonic()
        line = one_line_failure(run("--state-dir", str(state_dir), "up", "--offline", "--port", str(port)))
    assert f"port {port} on 127.0.0.1 is in use by a program this rehearsal did not start" in line
    assert time.monotonic() - started < 30
    assert not (state_dir / "pgdata").exists()


def test_no_llm_key_and_no_offline_is_refused(state_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    line = one_line_failure(run("--state-dir", str(state_dir), "up", env=env))
    assert "no LLM key in the environment" in line and "--offline" in line


def test_stale_pids_are_not_killed_and_down_still_succeeds(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "60"])  # a live process under a recorded PID, but started at another time
    try:
        procs = {"llm": [sleeper.pid, 1.0], "letta-0": [sleeper.pid, 1.0]}
        State(pg_port=1, app_password="a", server_password="b", encryption_key="c", offline=True, procs=procs).save(
            state_dir
        )
        down = run("--state-dir", str(state_dir), "down")
        assert down.returncode == 0, down.stderr
        assert sleeper.poll() is None, "a PID that no longer runs our program must be left alone"
        status = run("--state-dir", str(state_dir), "status")
        assert status.returncode == 0
        assert "offline echo stopped" in status.stdout and "letta-0: not running" in status.stdout
    finally:
        sleeper.kill()
        sleeper.wait()


def test_up_without_a_synthesized_task_definition_says_how_to_make_one(state_dir: Path, tmp_path: Path) -> None:
    line = one_line_failure(run("--state-dir", str(state_dir), "up", "--offline", "--cdk-out", str(tmp_path)))
    assert f"no Letta task definition in {tmp_path}" in line
    assert "bash scripts/setup.sh" in line and "npx cdk synth -c env=dev -o cdk.out/dev" in line
    assert not state_dir.exists()


def test_smoke_without_up_says_so(state_dir: Path) -> None:
    line = one_line_failure(run("--state-dir", str(state_dir), "smoke"))
    assert "run `up` first" in line


def test_missing_package_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # A fresh clone before setup: run the script with an interpreter that lacks the project's packages.
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['psycopg'] = None\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = run("status", env=env)
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "local_stack.py: missing Python package 'psycopg': run `bash scripts/setup.sh` first"
    )
