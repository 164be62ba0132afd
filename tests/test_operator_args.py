"""Every operator script refuses bad input the same way: at once (well under 5 s), with one line on stderr,
no traceback, and the exit code its --help documents (2 for a bad command line)."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Every test here runs an operator script as its own process, as a user would: about a second each.
pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[1]
FAST = 5.0  # seconds, Python start-up included

# (script, arguments, exit code, a fragment of the one line)
ARGUMENT_ERRORS: list[tuple[str, list[str], int, str]] = [
    ("smoke_test.py", ["--base-url", "ftp://example.com"], 2, "not an http(s) URL"),
    ("smoke_test.py", ["--base-url", "file:///etc/passwd"], 2, "not an http(s) URL"),
    ("smoke_test.py", ["--base-url", "http://"], 2, "not an http(s) URL"),
    ("smoke_test.py", ["--base-url", "127.0.0.1:8283"], 2, "not an http(s) URL"),
    ("smoke_test.py", ["--base-url", "http://127.0.0.1:99999"], 2, "not an http(s) URL"),
    ("smoke_test.py", ["--base-url", "http://exa mple.com"], 2, "not an http(s) URL"),
    ("smoke_test.py", ["--health-timeout", "nan"], 2, "more than 0"),
    ("smoke_test.py", ["--health-timeout", "inf"], 2, "more than 0"),
    ("smoke_test.py", ["--health-timeout", "0"], 2, "more than 0"),
    ("smoke_test.py", ["--health-timeout=-5"], 2, "more than 0"),
    ("smoke_test.py", ["--health-timeout", "1e9"], 2, "at most 3600"),
    ("smoke_test.py", ["--timeout", "soon"], 2, "not a number of seconds"),
    ("smoke_test.py", ["--db-timeout=-inf"], 2, "more than 0"),
    ("smoke_test.py", ["--region", "EU-WEST-1"], 2, "not an AWS region name"),
    ("smoke_test.py", ["--env", "pr--42"], 2, "config 'env' = 'pr--42'"),
    ("smoke_test.py", ["--frobnicate"], 2, "unrecognized arguments"),
    ("connect.py", ["--port", "0"], 2, "port number from 1 to 65535"),
    ("connect.py", ["--port", "65536"], 2, "port number from 1 to 65535"),
    ("connect.py", ["--port", "http"], 2, "port number from 1 to 65535"),
    ("connect.py", ["--region", "mars"], 2, "not an AWS region name"),
    ("connect.py", ["--tunnel", "--local-port", "99999"], 2, "port number from 1 to 65535"),
    ("connect.py", ["--env", "Dev"], 2, "config 'env' = 'Dev'"),
    ("connect.py", ["--show-password"], 2, "--show-password only goes with --print"),
    ("connect.py", ["stray"], 2, "arguments for psql go after --"),
    ("inspect_db.py", ["--timeout", "0"], 2, "more than 0"),
    ("inspect_db.py", ["--timeout", "nan"], 2, "more than 0"),
    ("inspect_db.py", ["--timeout", "3601"], 2, "at most 3600"),
    ("inspect_db.py", ["--limit", "0"], 2, "whole number from 1 to 1000"),
    ("inspect_db.py", ["--width", "x"], 2, "whole number from 10"),
    ("inspect_db.py", ["--region", "us_east_1"], 2, "not an AWS region name"),
    ("inspect_db.py", ["--env", "dev-"], 2, "config 'env' = 'dev-'"),
    ("inspect_db.py", ["--dsn", "postgresql://x@127.0.0.1/db", "--master"], 2, "apply to the Data API"),
    ("inspect_db.py", ["--agent", "agent 1"], 2, "not an agent id"),
    ("local_stack.py", [], 2, "the following arguments are required"),
    ("local_stack.py", ["launch"], 2, "invalid choice"),
    ("local_stack.py", ["up", "--port", "0"], 2, "port number from 1 to 65535"),
    ("local_stack.py", ["up", "--port", "70000"], 2, "port number from 1 to 65535"),
    ("local_stack.py", ["up", "--llm-port=-1"], 2, "port number from 1 to 65535"),
    ("local_stack.py", ["up", "--port", "99999"], 2, "port number from 1 to 65535"),
    ("local_stack.py", ["up", "--port", "\u00b2"], 2, "invalid port value"),
    ("local_stack.py", ["up", "--instances", "0"], 2, "invalid choice"),
    ("local_stack.py", ["up", "--instances", "many"], 2, "--instances"),
    ("local_stack.py", ["up", "--cdk-out", "/nonexistent/cdk.out"], 2, "not an existing folder"),
    ("benchmark_rehearsal.py", ["--sizes", "1,x"], 2, "comma-separated list of whole numbers from 1 to 1000000"),
    ("benchmark_rehearsal.py", ["--sizes", ""], 2, "comma-separated list of whole numbers"),
    ("benchmark_rehearsal.py", ["--sizes", "0"], 2, "comma-separated list of whole numbers"),
    ("benchmark_rehearsal.py", ["--repeats", "0"], 2, "whole number from 1 to 1000"),
    ("benchmark_memory.py", ["--passages=-1"], 2, "whole number from 0 to 100000000"),
    ("benchmark_memory.py", ["--agents", "0"], 2, "whole number from 1 to 1000000"),
    ("benchmark_memory.py", ["--searches", "1.5"], 2, "whole number from 1 to 100000"),
    ("benchmark_memory.py", ["--widths", "1536,5000"], 2, "whole numbers from 1 to 4096"),
    ("benchmark_memory.py", ["--archive-sizes", "10,-1"], 2, "or '' for none"),
    ("benchmark_memory.py", ["--json", "/nonexistent/out.json"], 2, "not a file path in an existing folder"),
    ("benchmark_memory.py", ["--plot", "/tmp"], 2, "not a file path in an existing folder"),
    ("benchmark_instances.py", ["--messages", "0"], 2, "whole number from 1 to 100000"),
    ("benchmark_instances.py", ["--clients", "1000"], 2, "whole number from 1 to 64"),
    ("benchmark_instances.py", ["--instances", "1,3"], 2, "whole numbers from 1 to 2"),
    ("benchmark_instances.py", ["--pooling", "off,maybe"], 2, "comma-separated list of off, on"),
    ("benchmark_instances.py", ["--json", "/nonexistent/x.json"], 2, "not a file path in an existing folder"),
    ("connect.py", ["--tunnel", "--local-port", "0"], 2, "port number from 1 to 65535"),
    ("inspect_db.py", ["--limit", "1001"], 2, "whole number from 1 to 1000"),
    ("config_table.py", ["--frobnicate"], 2, "unrecognized arguments"),
    # This round's flags (issue 19): a password never on the command line.
    ("inspect_db.py", ["--dsn", "postgresql://u:pw@127.0.0.1/db"], 2, "holds a password"),
    ("inspect_db.py", ["--dsn", "host=127.0.0.1 dbname"], 2, "not a PostgreSQL connection string"),
    ("smoke_test.py", ["--dsn", "host=127.0.0.1 password=pw"], 2, "holds a password"),
    ("benchmark_memory.py", ["--dsn", "postgresql://u@127.0.0.1/db?password=pw"], 2, "holds a password"),
    ("smoke_test.py", ["--token", "s3cret"], 2, "no secret on the command line"),
    ("smoke_test.py", ["--token-file", "/nonexistent/token"], 2, "not a readable text file"),
    ("smoke_test.py", ["--token-file", "/tmp"], 2, "not a readable text file"),
]


def run(script: str, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """The script's result and the CPU seconds it took (user + system): what "at once" means for a refusal,
    unlike wall time, which the other tests running beside it on the same cores stretch."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, f"scripts/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.mark.parametrize(
    ("script", "args", "code", "fragment"),
    ARGUMENT_ERRORS,
    ids=[f"{s}-{' '.join(a)[:30]}" for s, a, _, _ in ARGUMENT_ERRORS],
)
def test_argument_error_is_one_line_and_fast(script: str, args: list[str], code: int, fragment: str) -> None:
    result, took = run(script, *args)
    assert result.returncode == code, result.stderr
    line = the_one_line(result)
    assert line.startswith(script) and ": error: " in line and fragment in line, line
    assert took < FAST


def test_no_region_names_what_boto3_reads(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    result, took = run("inspect_db.py", "--env", "dev", env=env)
    assert result.returncode == 3
    line = the_one_line(result)
    assert "no AWS region configured" in line and "AWS_DEFAULT_REGION" in line and "AWS_REGION " not in line
    assert took < FAST


def test_health_wait_stays_within_its_own_timeout() -> None:
    # A server on loopback that takes the connection and never answers: without the deadline the wait would hang
    # until the subprocess timeout. Wall time is what counts here (a hang costs no CPU).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nothing ever reads or answers them
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        result, _ = run("smoke_test.py", "--base-url", url, "--health-timeout", "1")
        took = time.monotonic() - started
    assert result.returncode == 4
    assert "not healthy after 1 s" in the_one_line(result)
    assert took < 20  # Python's start-up on busy cores, plus the one second; a hang would reach the 30 s timeout


STATE_FILES = {
    "corrupt": "{not json",
    "binary": "\udcff",
    "foreign": json.dumps({"name": "someone else's", "version": 3}),
    "wrong types": json.dumps(
        {"pg_port": "5432", "app_password": "a", "server_password": "b", "encryption_key": "c", "offline": True}
    ),
    "bad port": json.dumps(
        {"pg_port": 0, "app_password": "a", "server_password": "b", "encryption_key": "c", "offline": True}
    ),
    "a list": "[]",
}


@pytest.mark.parametrize("kind", list(STATE_FILES))
def test_broken_rehearsal_state_says_how_to_recover(kind: str, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    content = STATE_FILES[kind]
    if kind == "binary":
        (state_dir / "state.json").write_bytes(b"\xff\xfe\x00")
    else:
        (state_dir / "state.json").write_text(content)
    for command in ("status", "smoke", "down"):
        result, took = run("local_stack.py", "--state-dir", str(state_dir), command)
        assert result.returncode == 1, (command, result.stderr)
        line = the_one_line(result)
        assert "state.json" in line and "down --wipe" in line, line
        assert took < FAST
    wiped, took = run("local_stack.py", "--state-dir", str(state_dir), "down", "--wipe")
    assert wiped.returncode == 0, wiped.stderr
    assert not state_dir.exists()
    assert took < FAST


def test_state_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    result, took = run("local_stack.py", "--state-dir", str(not_a_dir), "up", "--offline")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    the_one_line(result)
    assert took < FAST
