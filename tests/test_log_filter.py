"""The container's start command, run for real as PID 1 of a new PID namespace, as ECS runs it, with a stand-in
for Letta's start script that prints exactly the lines Letta prints at start (LETTA_FACTS.md), secrets included.

PID 1 is what matters: the kernel delivers no signal to PID 1 that it has no handler for, and kills every
other process of the namespace when PID 1 exits, so a command that works as an ordinary process can still
lose the last lines of a crashing start or never pass ECS's SIGTERM on. `unshare --fork --pid` needs root
(CI runs the tests as root); elsewhere the tests ask for a user namespace too and fail, never skip, if the
machine allows neither.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stacks.service import supervisor
from stacks.service.log_filter import LETTA_START, MASK, SUPERVISOR_SOURCE, start_command

DB_PASSWORD = "Zq9-xV_r.^,T4kLm8Pw2"
SERVER_PASSWORD = "s3rverPassw0rdAbCdEfGhIjKlMnOp"
ENCRYPTION_KEY = "encKey0123456789abcdefABCDEF"
OPENAI_KEY = "sk-proj-AbCdEf0123456789GhIjKl"
HOST = "letta-dev.cluster-abc123.us-east-1.rds.amazonaws.com"
URI = f"postgresql://letta_app:{DB_PASSWORD}@{HOST}:5432/letta"
SECRETS = {
    "LETTA_PG_URI": URI,
    "LETTA_SERVER_PASSWORD": SERVER_PASSWORD,
    "LETTA_ENCRYPTION_KEY": ENCRYPTION_KEY,
    "OPENAI_API_KEY": OPENAI_KEY,
}
CRASH_LINE = "ERROR: Database migration failed!"

# (what the start script prints, what must reach the log): the secret-bearing lines exactly as Letta prints them.
LETTA_START_LINES = [
    ("Starting Letta server at http://localhost:8283", "Starting Letta server at http://localhost:8283"),
    (  # start scripts before 0.16
        f"External Postgres configuration detected via LETTA_PG_URI: {URI}",
        f"External Postgres configuration detected via LETTA_PG_URI: postgresql://letta_app:{MASK}@{HOST}:5432/letta",
    ),
    ("Attempting to migrate database...", "Attempting to migrate database..."),
    (f"Using database: {URI}", f"Using database: postgresql://letta_app:{MASK}@{HOST}:5432/letta"),
    # Exactly as the real 0.16.8 prints them (seen in the local rehearsal's logs): alembic names the driver.
    (
        f"Using database:  postgresql+pg8000://letta_app:{DB_PASSWORD}@127.0.0.1:5432/letta",
        f"Using database:  postgresql+pg8000://letta_app:{MASK}@127.0.0.1:5432/letta",
    ),
    ("INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.",) * 2,
    (f"Using secure mode with password: {SERVER_PASSWORD}", f"Using secure mode with password: {MASK}"),
    (f"\u25b6 Using secure mode with password: {SERVER_PASSWORD}", f"\u25b6 Using secure mode with password: {MASK}"),
    (f"openai key loaded: {OPENAI_KEY}", f"openai key loaded: {MASK}"),
    (f"encryption key is {ENCRYPTION_KEY}", f"encryption key is {MASK}"),
    ("INFO:     Uvicorn running on http://0.0.0.0:8283 (Press CTRL+C to quit)",) * 2,
]


def crashing_start_lines() -> list[tuple[str, str]]:
    """About 200 lines, Letta's secret-bearing ones among them, ending in the migration's failure."""
    lines = []
    for revision in range(190):
        lines.append((f"INFO  [alembic.runtime.migration] Running upgrade r{revision} -> r{revision + 1}",) * 2)
        if revision % 19 == 0:
            lines.append(LETTA_START_LINES[(revision // 19) % len(LETTA_START_LINES)])
    return [*lines, (CRASH_LINE, CRASH_LINE)]


def stand_in(tmp_path: Path, lines: list[tuple[str, str]], *, body: str = "", exit_code: int = 0) -> Path:
    """A start script that prints `lines` (alternately to stdout and stderr, as Letta's tools do), runs `body`
    and exits with `exit_code`. It never sleeps: a crash is as fast as the shell."""
    script = tmp_path / "startup.sh"
    printed = "\n".join(
        f"printf '%s\\n' {shlex.quote(line)}{' >&2' if index % 2 else ''}" for index, (line, _) in enumerate(lines)
    )
    script.write_text(f"#!/bin/sh\n{printed}\n{body}\nexit {exit_code}\n")
    script.chmod(0o755)
    return script


def container_env(**overrides: str) -> dict[str, str]:
    # No database behind HOST: these tests are about the log and the signals, so the migration lock (run against
    # a real PostgreSQL in test_migration_lock.py) is off here.
    return {**os.environ, **SECRETS, supervisor.LOCK_SWITCH_VAR: "off", **overrides}


def in_pid_namespace(command: list[str]) -> list[str]:
    """`command` as PID 1 of a new PID namespace; without root, inside a user namespace that maps us to root."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--fork", "--pid", "--kill-child", *command]


def the_command(script: Path, masked: list[str] | None = None) -> list[str]:
    names = sorted(SECRETS) if masked is None else masked
    return in_pid_namespace(start_command(masked_env_vars=names, start=str(script), python=sys.executable))


LOCK_OFF_LINE = (
    b"letta-supervisor: migration lock: off (LETTA_MIGRATION_LOCK=off): this start migrates alongside any other\n"
)


def run(script: Path, *, masked: list[str] | None = None, **env: str) -> subprocess.CompletedProcess[bytes]:
    """The command's outcome; its stderr without the one line saying the lock is off (see container_env)."""
    result = subprocess.run(
        the_command(script, masked), env=container_env(**env), capture_output=True, timeout=30, check=False
    )
    assert b"unshare:" not in result.stderr, f"cannot create a PID namespace here: {result.stderr!r}"
    result.stderr = result.stderr.replace(LOCK_OFF_LINE, b"", 1)
    return result


def expected_log(lines: list[tuple[str, str]]) -> bytes:
    return "".join(f"{logged}\n" for _, logged in lines).encode()


@pytest.mark.cli  # fifty starts of the container's command, each its own process: seconds, not the fast tier
def test_the_last_line_of_a_crashing_start_reaches_the_log_50_of_50(tmp_path: Path) -> None:
    lines = crashing_start_lines()
    script = stand_in(tmp_path, lines, exit_code=1)
    started = time.monotonic()
    outcomes = [run(script) for _ in range(50)]
    elapsed = time.monotonic() - started
    incomplete = [
        (r.returncode, r.stdout[-200:], r.stderr)
        for r in outcomes
        if (r.returncode, r.stdout, r.stderr) != (1, expected_log(lines), b"")
    ]
    assert not incomplete, f"{50 - len(incomplete)} of 50 complete; the first incomplete: {incomplete[0]}"
    assert len(lines) > 200
    print(f"50 crashes of {len(lines)} lines each in {elapsed:.1f} s")


def test_every_secret_is_masked_and_nothing_else(tmp_path: Path) -> None:
    result = run(stand_in(tmp_path, LETTA_START_LINES))
    assert result.returncode == 0
    assert result.stdout == expected_log(LETTA_START_LINES)
    for secret in (*SECRETS.values(), DB_PASSWORD):
        assert secret.encode() not in result.stdout + result.stderr


def test_the_masked_names_are_the_callers_not_a_list_of_its_own(tmp_path: Path) -> None:
    lines = [
        ("custom token abcdef123456", f"custom token {MASK}"),
        ("region us-east-1 visible", "region us-east-1 visible"),
        # LETTA_SERVER_PASSWORD is set but not among this task's secrets: its value is just text here.
        (f"server password {SERVER_PASSWORD}", f"server password {SERVER_PASSWORD}"),
    ]
    result = run(
        stand_in(tmp_path, lines),
        masked=["LETTA_PG_URI", "CUSTOM_TOKEN"],
        CUSTOM_TOKEN="abcdef123456",
        AWS_REGION="us-east-1",
    )
    assert result.returncode == 0
    assert result.stdout == expected_log(lines)


def test_invalid_utf8_passes_through_still_masked(tmp_path: Path) -> None:
    script = tmp_path / "startup.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"printf 'caf\\351 %s \\377\\376 done\\n' {shlex.quote(SERVER_PASSWORD)}\n"
        f"printf 'Using database: postgresql://u:{DB_PASSWORD}@\\200host/db\\n' >&2\n"
        "printf 'still logging after the bad bytes\\n'\n"
        "printf 'last words without a newline'\n"
        "exit 4\n"
    )
    script.chmod(0o755)
    result = run(script)
    assert result.returncode == 4  # the writer was not killed by SIGPIPE
    assert result.stdout == (
        b"caf\xe9 **** \xff\xfe done\n"
        b"Using database: postgresql://u:****@\x80host/db\n"
        b"still logging after the bad bytes\n"
        b"last words without a newline"
    )


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("", "LETTA_PG_URI is empty"),
        ("   ", "LETTA_PG_URI is empty"),
        (f"postgres://letta_app:{DB_PASSWORD}@{HOST}:5432/letta", "not a postgresql:// URI"),
        (f"mysql://letta_app:{DB_PASSWORD}@{HOST}/letta", "not a postgresql:// URI"),
    ],
)
def test_refuses_to_start_without_a_usable_database_uri(tmp_path: Path, uri: str, problem: str) -> None:
    marker = tmp_path / "started"
    script = stand_in(tmp_path, [], body=f"touch {marker}")
    result = run(script, LETTA_PG_URI=uri)
    assert result.returncode == supervisor.EX_CONFIG
    assert not marker.exists()  # Letta's start script never ran: no throwaway PostgreSQL
    assert result.stdout == b""
    message = result.stderr.decode().splitlines()
    assert len(message) == 1 and problem in message[0] and message[0].startswith("letta-supervisor: ")
    assert DB_PASSWORD not in result.stderr.decode()


def test_refuses_to_start_when_the_uri_is_unset(tmp_path: Path) -> None:
    script = stand_in(tmp_path, [])
    env = container_env()
    del env["LETTA_PG_URI"]
    result = subprocess.run(the_command(script), env=env, capture_output=True, timeout=30, check=False)
    assert result.returncode == supervisor.EX_CONFIG
    assert b"LETTA_PG_URI is empty" in result.stderr


def test_background_children_holding_the_pipe_do_not_keep_the_task_alive(tmp_path: Path) -> None:
    # Like the image's redis-server and collector: started in the background, they inherit the log pipe.
    script = stand_in(tmp_path, [("before", "before")], body=f"sleep 60 &\nprintf '%s\\n' '{CRASH_LINE}'", exit_code=3)
    started = time.monotonic()
    result = run(script)
    assert time.monotonic() - started < 5
    assert result.returncode == 3
    assert result.stdout == f"before\n{CRASH_LINE}\n".encode()


def test_a_start_killed_by_a_signal_gives_128_plus_the_signal(tmp_path: Path) -> None:
    result = run(stand_in(tmp_path, [("dying", "dying")], body="kill -KILL $$"))
    assert result.returncode == 128 + signal.SIGKILL
    assert result.stdout == b"dying\n"


def test_a_missing_start_script_is_one_clear_line(tmp_path: Path) -> None:
    result = run(tmp_path / "no-such-startup.sh")
    assert result.returncode == 127
    assert result.stderr.decode().startswith("letta-supervisor: cannot start ")
    assert len(result.stderr.splitlines()) == 1


def supervisor_pid(unshare: subprocess.Popen[bytes]) -> int:
    """The outer PID of the namespace's PID 1: the only child of `unshare --fork`."""
    children = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


@pytest.mark.parametrize(("signum", "trapped_exit"), [(signal.SIGTERM, 0), (signal.SIGINT, 0), (signal.SIGTERM, None)])
def test_signals_reach_the_start_script(tmp_path: Path, signum: signal.Signals, trapped_exit: int | None) -> None:
    name = signum.name.removeprefix("SIG")
    if trapped_exit is None:  # no trap: the start script dies of the signal and the container reports it
        body = "printf 'ready\\n'\nsleep 60 & wait $!"
    else:
        body = f"trap \"printf 'got {name}\\n'; exit {trapped_exit}\" {name}\nprintf 'ready\\n'\nsleep 60 & wait $!"
    script = stand_in(tmp_path, [("starting", "starting")], body=body)
    with subprocess.Popen(the_command(script), env=container_env(), stdout=subprocess.PIPE) as unshare:
        assert unshare.stdout is not None
        assert unshare.stdout.readline() == b"starting\n"
        assert unshare.stdout.readline() == b"ready\n"  # the trap is set
        os.kill(supervisor_pid(unshare), signum)
        rest = unshare.stdout.read()
        code = unshare.wait(timeout=10)
    if trapped_exit is None:
        assert (code, rest) == (128 + signum, b"")
    else:
        assert (code, rest) == (trapped_exit, f"got {name}\n".encode())


def test_the_command_embeds_the_supervisor_and_takes_the_names_it_is_given() -> None:
    command = start_command(masked_env_vars=["OPENAI_API_KEY", "LETTA_PG_URI", "OPENAI_API_KEY"])
    assert command == ["python3", "-u", "-c", SUPERVISOR_SOURCE, LETTA_START, "OPENAI_API_KEY", "LETTA_PG_URI"]
    assert Path(supervisor.__file__).read_text(encoding="utf-8") == SUPERVISOR_SOURCE
    with pytest.raises(ValueError, match="not an environment variable name"):
        start_command(masked_env_vars=["LETTA_PG_URI", "$(reboot)"])


def test_llm_keys_arrive_as_one_json_secret_and_only_the_mapped_ones_are_exported(tmp_path: Path) -> None:
    anthropic = "sk-ant-0123456789abcdefXYZ"
    script = stand_in(
        tmp_path,
        [],
        body='printf "openai=%s anthropic=%s groq=%s\\n" '
        '"$OPENAI_API_KEY" "$ANTHROPIC_API_KEY" "${GROQ_API_KEY-unset}"',
    )
    keys = f'{{"openai": "{OPENAI_KEY}", "ANTHROPIC_API_KEY": "{anthropic}", "groq": ""}}'
    mapping = '{"OPENAI_API_KEY": "openai", "ANTHROPIC_API_KEY": "ANTHROPIC_API_KEY", "GROQ_API_KEY": "groq"}'
    secrets = {k: v for k, v in SECRETS.items() if k != "OPENAI_API_KEY"}
    env = {**container_env(), **secrets, "LETTA_LLM_KEYS": keys, "LETTA_LLM_KEY_MAP": mapping}
    names = sorted([*secrets, "LETTA_LLM_KEYS"])
    result = subprocess.run(the_command(script, names), env=env, capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    # Both keys reached the start script (masked in the log, as every value of the task's secrets); an empty
    # member is a provider not configured yet: left unset, not exported empty.
    assert result.stdout == f"openai={MASK} anthropic={MASK} groq=unset\n".encode()
    assert b"LLM keys exported: ANTHROPIC_API_KEY, OPENAI_API_KEY" in result.stderr
    assert OPENAI_KEY.encode() not in result.stdout + result.stderr


def test_llm_keys_that_are_not_a_json_object_stop_the_start_with_one_line(tmp_path: Path) -> None:
    script = stand_in(tmp_path, [("should not run", "should not run")])
    result = run(script, LETTA_LLM_KEYS="sk-pasted-without-json", LETTA_LLM_KEY_MAP='{"OPENAI_API_KEY": "o"}')
    assert result.returncode == supervisor.EX_CONFIG
    assert result.stdout == b""
    assert result.stderr.decode().strip().splitlines() == [
        "letta-supervisor: LETTA_LLM_KEYS is not a JSON object of strings: store the LLM keys as "
        '{"OPENAI_API_KEY": "..."}; refusing to start'
    ]
