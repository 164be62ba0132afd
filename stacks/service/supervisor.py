"""PID 1 of the Letta container: starts Letta's start script, masks its secrets in the log, loses no line.

Run as `python3 -u -c <this file's text> START NAME…` (see log_filter.start_command): START is Letta's start
script, each NAME an environment variable whose value is a secret. Stdlib only: it runs in the image's Python.

Why a supervisor and not `exec > >(filter) 2>&1; exec start`: with the start script as PID 1 and the filter
as its child, the kernel kills the filter when the start script exits, before the filter has drained the
pipe, so a crashing start lost its last lines, `ERROR: Database migration failed!` among them. Here the
process that writes the log is PID 1 itself and exits only after the pipe is drained. It also:
- forwards SIGTERM and SIGINT (and HUP, QUIT, USR1, USR2) to the start script: PID 1 gets no signal it has
  no handler for, so without forwarding ECS's SIGTERM would never reach Letta;
- reaps orphans (the start script's background redis-server and collector end up as its children);
- exits with the start script's code, 128+N when a signal N killed it;
- reads bytes, so an invalid UTF-8 byte passes through (still masked) instead of killing the log;
- refuses to start when LETTA_PG_URI is empty or not a postgresql:// URI, because the image's start script
  would then quietly run a throwaway PostgreSQL inside the task and lose every agent at the next restart;
- exports the LLM provider keys: the task receives the operator's LLM-keys secret whole, as JSON, in
  LETTA_LLM_KEYS, and LETTA_LLM_KEY_MAP (names only) says which member becomes which variable. A provider
  whose key is not stored yet is simply left out, where mapping single JSON keys as ECS secrets would keep
  every task from starting;
- runs Letta's migrations and first-start writes once at a time across all tasks (the migration lock below);
- verifies the database's TLS certificate before Letta starts (verified TLS, below).

Verified TLS. With PGSSLMODE=verify-full (or verify-ca) in the task definition, the supervisor writes the PEM roots
that DB_CA_VAR carries (the RDS roots of the stack's region; the image stays as it is) to a file, points
PGSSLROOTCERT at it, and makes one TLS handshake with the database (PostgreSQL's SSLRequest, then TLS with those
roots and, for verify-full, the URI's host name) before anything else touches it. A wrong CA, a wrong host name or a
server without TLS stops the start with one line and EX_CONFIG; an unreachable server with EX_TEMPFAIL. Letta's
asyncpg reads PGSSLMODE and PGSSLROOTCERT from the environment (with pooling off; with pooling on Letta passes
ssl="require", and asyncpg then checks the chain to PGSSLROOTCERT but not the host name), and the migration lock's
pg8000 session uses the same verifying context. Letta's own migrations (pg8000, no environment settings) still
encrypt without verifying: docs/network.md.

The migration lock. Letta migrates at every start and takes no lock, and an image bump starts every new task
together: two starts at once on one database fail in `alembic upgrade head` (a unique violation in pg_type) or
race its check-then-insert first-start writes (default organization, base providers). So before it starts the
start script, the supervisor takes a PostgreSQL advisory lock (MIGRATION_LOCK_KEY) on LETTA_PG_URI and holds it
while the script migrates and until this task's own server answers its health route (its first-start writes are
done by then), repairs the indexes an interrupted `CREATE INDEX CONCURRENTLY` left invalid, then lets go. Other
tasks wait, saying so in one line; after LOCK_WAIT_SECONDS they exit EX_TEMPFAIL so that ECS starts them again
rather than leave them hanging. The lock is session-scoped, in a session that holds no transaction open (an
open transaction would make Letta's own `CREATE INDEX CONCURRENTLY` wait for it, and so for the lock: a
deadlock), with an `idle_session_timeout` that the holder keeps resetting: a task that dies mid-migration loses
the lock when its connection closes, or at the latest that many seconds after its last heartbeat (a vanished
network peer). pg8000 is Letta's own migration driver, imported only when the lock is taken (the unit tests
import this file without it); with verified TLS it verifies as above, else like Letta's migrations it uses TLS
whenever the server offers it (Aurora with rds.force_ssl=1 requires it) and plain TCP only with a server that refuses
TLS (the rehearsal's PostgreSQL).
`LETTA_MIGRATION_LOCK=off` starts without it: the rehearsal's control that shows the race.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any

MASK = b"****"
LLM_KEYS_VAR = "LETTA_LLM_KEYS"
LLM_KEY_MAP_VAR = "LETTA_LLM_KEY_MAP"
EX_CONFIG = 78  # sysexits.h: configuration error
EX_TEMPFAIL = 75  # sysexits.h: temporary failure, try again (the migration lock could not be had)
# Shorter values would mask ordinary words all over the log; no generated secret is that short.
MIN_SECRET_LENGTH = 4
FORWARDED_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
# After the start script has exited, everything it wrote is already in the pipe; its background children
# (redis-server, the collector) may keep the pipe open forever, so the drain stops at the first quiet moment.
DRAIN_IDLE_SECONDS = 0.2
DRAIN_MAX_SECONDS = 5.0
# A line longer than this without a newline is written out anyway (masked), so memory stays bounded.
MAX_LINE_BYTES = 1 << 20

_URI_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")
# Generic masks for what Letta prints: `Using database: postgresql+pg8000://user:PASSWORD@host…` and
# `Using secure mode with password: PASSWORD`, also when the value is not one of the task's secrets.
_CREDENTIALS = re.compile(rb"(://[^:/@\s]+:)[^@\s]+@")
_PASSWORD_WORD = re.compile(rb"(password[^:=\n]{0,20}[:=]\s*)\S+", re.IGNORECASE)


def secret_values(names: Iterable[str], environ: Mapping[str, str]) -> list[bytes]:
    """The byte strings to mask: each named variable's value, of a URI only its password (the host stays
    readable), of a multi-line value each line; longest first, so a secret containing another is masked whole."""
    found: set[bytes] = set()
    for name in names:
        value = environ.get(name) or ""
        uri = _URI_PASSWORD.search(value)
        if uri:
            value = uri.group(1)
        for piece in value.splitlines() or [value]:
            if len(piece.strip()) >= MIN_SECRET_LENGTH:
                found.add(piece.encode("utf-8", "surrogateescape"))
    return sorted(found, key=lambda s: (-len(s), s))


def mask(line: bytes, secrets: Iterable[bytes]) -> bytes:
    """`line` with every secret and every URI or `password:` credential replaced by MASK; other bytes unchanged."""
    for secret in secrets:
        line = line.replace(secret, MASK)
    line = _CREDENTIALS.sub(rb"\1" + MASK + b"@", line)
    return _PASSWORD_WORD.sub(rb"\1" + MASK, line)


def pg_uri_problem(environ: Mapping[str, str]) -> str | None:
    """Why LETTA_PG_URI cannot be used, in one line that never shows its value; None when it can."""
    uri = environ.get("LETTA_PG_URI") or ""
    if not uri.strip():
        return "LETTA_PG_URI is empty: refusing to start, Letta would run a throwaway PostgreSQL inside the task"
    if not uri.startswith("postgresql://"):
        return "LETTA_PG_URI is not a postgresql:// URI: refusing to start, Letta cannot use it"
    return None


def llm_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The provider variables to export: `{variable: key}` for each non-empty member of LETTA_LLM_KEYS that
    LETTA_LLM_KEY_MAP maps to a variable. Raises ValueError, in one line that shows no key, when either is not
    a JSON object of strings."""
    raw = environ.get(LLM_KEYS_VAR) or ""
    if not raw.strip():
        return {}
    try:
        keys = json.loads(raw)
        mapping = json.loads(environ.get(LLM_KEY_MAP_VAR) or "{}")
    except ValueError:
        keys = mapping = None
    for name, value in ((LLM_KEYS_VAR, keys), (LLM_KEY_MAP_VAR, mapping)):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError(
                f'{name} is not a JSON object of strings: store the LLM keys as {{"OPENAI_API_KEY": "..."}}'
            )
    return {variable: keys[member] for variable, member in mapping.items() if keys.get(member)}


def exit_code(status: int) -> int:
    """The container's exit code for a wait status: the child's own, or 128+N for a death by signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _write_all(fd: int, data: bytes) -> bool:
    """Write everything; False once the reader is gone (then the log is discarded, the start goes on)."""
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BrokenPipeError:
            return False
    return True


class _LineMasker:
    """Cuts the child's output into lines, masks each and writes it at once (one flush per line)."""

    def __init__(self, secrets: list[bytes], out_fd: int) -> None:
        self.secrets = secrets
        self.out_fd = out_fd
        self.pending = b""
        self.out_open = True

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        while True:
            end = self.pending.find(b"\n")
            if end < 0:
                if len(self.pending) >= MAX_LINE_BYTES:
                    self._emit(self.pending)
                    self.pending = b""
                return
            self._emit(self.pending[: end + 1])
            self.pending = self.pending[end + 1 :]

    def finish(self) -> None:
        """A last line without a newline is written as it is."""
        if self.pending:
            self._emit(self.pending)
            self.pending = b""

    def _emit(self, line: bytes) -> None:
        if self.out_open:
            self.out_open = _write_all(self.out_fd, mask(line, self.secrets))


def _say(message: str, secrets: Iterable[bytes] = ()) -> None:
    """One line of the supervisor's own on stderr, masked like Letta's (a driver error might quote a value)."""
    _write_all(2, mask(f"letta-supervisor: {message}\n".encode(), secrets))


# --- Verified TLS to the database (see the module docstring) ----------------------------------------------

DB_CA_VAR = "LETTA_DB_CA_PEM"
"""The task definition's PEM roots the database's certificate must chain to (the RDS roots of the stack's region)."""
SSL_MODE_VAR = "PGSSLMODE"
SSL_ROOT_CERT_VAR = "PGSSLROOTCERT"
VERIFYING_MODES = ("verify-ca", "verify-full")
PREFLIGHT_TIMEOUT_SECONDS = 15.0
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
"""PostgreSQL's SSLRequest: the server answers one byte, S (TLS follows) or N (no TLS)."""


def ssl_mode(environ: Mapping[str, str]) -> str:
    """PGSSLMODE as libpq and asyncpg read it ('' when unset)."""
    return (environ.get(SSL_MODE_VAR) or "").strip()


def prepare_db_tls(environ: MutableMapping[str, str]) -> str | None:
    """When PGSSLMODE asks for verification: write DB_CA_VAR's roots to a new file and set PGSSLROOTCERT to it (a
    PGSSLROOTCERT already set is kept when DB_CA_VAR is empty). One line why not, or None."""
    mode = ssl_mode(environ)
    if mode not in VERIFYING_MODES:
        return None
    pem = environ.get(DB_CA_VAR) or ""
    if not pem.strip():
        if environ.get(SSL_ROOT_CERT_VAR):
            return None
        return f"{SSL_MODE_VAR}={mode} but {DB_CA_VAR} holds no CA roots: refusing to start"
    if "-----BEGIN CERTIFICATE-----" not in pem:
        return f"{DB_CA_VAR} holds no PEM certificate: refusing to start"
    path = os.path.join(tempfile.mkdtemp(prefix="letta-db-ca-"), "db-ca-roots.pem")
    with open(path, "w", encoding="utf-8") as roots:
        roots.write(pem)
    environ[SSL_ROOT_CERT_VAR] = path
    return None


def db_ssl_context(environ: Mapping[str, str]) -> ssl.SSLContext | None:
    """The context asyncpg builds for PGSSLMODE verify-ca/verify-full: only PGSSLROOTCERT's roots, the certificate
    required, the host name checked for verify-full. None when PGSSLMODE asks for no verification."""
    mode = ssl_mode(environ)
    if mode not in VERIFYING_MODES:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=environ[SSL_ROOT_CERT_VAR])
    context.check_hostname = mode == "verify-full"
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def tls_preflight(uri: str, context: ssl.SSLContext, *, timeout: float = PREFLIGHT_TIMEOUT_SECONDS) -> tuple[str, int]:
    """One TLS handshake with the database of `uri` (SSLRequest, then TLS with `context`), no login. Returns (line,
    exit code): 0 when the server's certificate verified, EX_CONFIG when it did not or the server offers no TLS,
    EX_TEMPFAIL when the server cannot be reached. The line never shows the URI's credentials."""
    try:
        args = pg_connect_args(uri)
    except ValueError:  # a port that is not a number
        return "database TLS: LETTA_PG_URI has no valid host and port: refusing to start", EX_CONFIG
    host, port = args["host"], args["port"]
    where = f"{host}:{port}"
    checks = "chain and host name" if context.check_hostname else "chain"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_SSL_REQUEST)
            answer = sock.recv(1)
            if answer != b"S":
                return f"database TLS: {where} offers no TLS (answered {answer!r} to SSLRequest): refusing to start", (
                    EX_CONFIG
                )
            with context.wrap_socket(sock, server_hostname=host) as tls:
                version = tls.version()
    except ssl.SSLCertVerificationError as error:
        why = " ".join(str(error.verify_message or error.reason or error).split())
        return (
            f"database TLS: the certificate of {where} failed verification ({why}) against the roots in "
            f"{SSL_ROOT_CERT_VAR}: refusing to start",
            EX_CONFIG,
        )
    except ssl.SSLError as error:
        return f"database TLS: handshake with {where} failed ({error.reason or error}): refusing to start", EX_CONFIG
    except OSError as error:
        why = error.strerror or type(error).__name__
        return f"database TLS: cannot reach {where} ({why}); exiting {EX_TEMPFAIL} so that ECS tries again", EX_TEMPFAIL
    return f"database TLS: {where} verified ({checks}, {version}) against the roots in {SSL_ROOT_CERT_VAR}", 0


# --- The migration lock and the index repair (see the module docstring) ---------------------------------

MIGRATION_LOCK_KEY = 7810777171939388775
"""The advisory lock's key: the bytes of `letta-mg` as a bigint (Letta's own batch-polling lock is another)."""
LOCK_SWITCH_VAR = "LETTA_MIGRATION_LOCK"
"""`off` starts without the lock (the rehearsal's no-lock control); anything else, or unset, takes it."""
LOCK_WAIT_VAR = "LETTA_MIGRATION_LOCK_WAIT"
LOCK_WAIT_SECONDS = 600.0
"""How long a task waits for the lock (LOCK_WAIT_VAR overrides) before it exits EX_TEMPFAIL."""
HOLD_SECONDS = 600.0
"""How long the lock is held for a server that neither becomes healthy nor exits (a hung start must not stop
every other task for ever)."""
LOCK_POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 1.0
IDLE_TIMEOUT_SECONDS = 60
"""The lock session's idle_session_timeout: PostgreSQL ends a holder that stopped beating (PostgreSQL 14+)."""
CONNECT_TIMEOUT_SECONDS = 30.0
# What stacks/letta_contract.py says (this file runs alone in the image, so it cannot import it; a test
# checks they agree): the route a healthy server answers, and the port startup.sh serves on unless PORT is set.
HEALTH_PATH = "/v1/health/"
DEFAULT_PORT = 8283
_LEFTOVER = re.compile(r"_cc(new|old)\d*$")
"""The names REINDEX CONCURRENTLY gives its temporary copies: invalid ones are debris of a failed rebuild."""
INVALID_INDEXES_SQL = """
SELECT c.relname, t.relname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND n.nspname = 'public'
ORDER BY c.relname
"""

Say = Callable[[str], None]


def pg_connect_args(uri: str) -> dict[str, Any]:
    """pg8000's keyword arguments for a LETTA_PG_URI (postgresql://, user, password, host, port, database)."""
    parts = urllib.parse.urlsplit(uri)
    return {
        "user": urllib.parse.unquote(parts.username or ""),
        "password": urllib.parse.unquote(parts.password or "") or None,
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "database": urllib.parse.unquote(parts.path.lstrip("/")) or None,
    }


def connect(uri: str, timeout: float | None = CONNECT_TIMEOUT_SECONDS) -> Any:
    """A pg8000 native connection (autocommit) to `uri`. With PGSSLMODE verify-ca/verify-full: TLS verified as
    `db_ssl_context` says, or no connection. Otherwise TLS when the server offers it, unverified as Letta's own
    migrations are (pg8000's default), plain TCP only when the server refuses TLS. `timeout` bounds every socket
    operation, the connect included (None: a statement may take as long as it takes)."""
    import pg8000.native  # Letta's migration driver, in the image's venv

    return pg8000.native.Connection(
        **pg_connect_args(uri),
        application_name="letta-supervisor",
        timeout=timeout,
        ssl_context=db_ssl_context(os.environ),
    )


def db_error(error: BaseException) -> str:
    """One line for a driver error: PostgreSQL's message, or the error's type and text (never the URI)."""
    detail = error.args[0] if error.args else ""
    if isinstance(detail, dict):
        return f"{detail.get('C', '')} {detail.get('M', '')}".strip()
    return f"{type(error).__name__}: {' '.join(str(error).split())}"[:300]


def _quoted(name: str) -> str:
    return 'public."' + name.replace('"', '""') + '"'


def repair_invalid_indexes(conn: Any, say: Say) -> dict[str, list[str]]:
    """Rebuild every invalid index in schema `public` (what an interrupted `CREATE INDEX CONCURRENTLY` leaves:
    `IF NOT EXISTS` never rebuilds it) with `REINDEX INDEX CONCURRENTLY`, which keeps the table writable, and drop
    the `_ccnew`/`_ccold` copies a failed REINDEX CONCURRENTLY leaves. One log line per index; a rebuild that fails
    (duplicates under a unique index) is logged, its copy dropped, and the start goes on: an invalid index is
    unused by queries, not harmful. `conn` must be in autocommit (CONCURRENTLY refuses a transaction block).
    Returns the names rebuilt, dropped and failed."""
    done: dict[str, list[str]] = {"rebuilt": [], "dropped": [], "failed": []}
    for name, table in conn.run(INVALID_INDEXES_SQL):
        if _LEFTOVER.search(name):
            continue  # dropped below, after any rebuild that may leave one more
        started = time.monotonic()
        try:
            conn.run(f"REINDEX INDEX CONCURRENTLY {_quoted(name)}")
        except Exception as error:  # any failure is logged; the index stays as it was
            done["failed"].append(name)
            say(f"index repair: could not rebuild invalid index {name} on {table}: {db_error(error)}")
            continue
        done["rebuilt"].append(name)
        say(
            f"index repair: rebuilt invalid index {name} on {table} (REINDEX INDEX CONCURRENTLY, "
            f"{time.monotonic() - started:.1f} s)"
        )
    for name, table in conn.run(INVALID_INDEXES_SQL):
        if _LEFTOVER.search(name):
            try:
                conn.run(f"DROP INDEX CONCURRENTLY IF EXISTS {_quoted(name)}")
            except Exception as error:
                done["failed"].append(name)
                say(f"index repair: could not drop {name} on {table}: {db_error(error)}")
                continue
            done["dropped"].append(name)
            say(f"index repair: dropped {name} on {table}, left by an interrupted REINDEX CONCURRENTLY")
    return done


def healthy(url: str) -> bool:
    """Whether `url` answers 200 (no proxy: it is this task's own loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as answer:
            return answer.status == 200
    except (OSError, ValueError):
        return False


class MigrationLock:
    """The advisory lock that lets one task at a time migrate and make its first-start writes."""

    def __init__(self, uri: str, say: Say, *, key: int = MIGRATION_LOCK_KEY) -> None:
        self.uri, self.say, self.key = uri, say, key
        self.conn: Any = None
        self.acquired_at = 0.0

    def acquire(self, wait_seconds: float, interrupted: Callable[[], bool] = lambda: False) -> str:
        """`acquired`, `timeout`, `interrupted` (a signal came while waiting) or `error` (said in one line)."""
        started = time.monotonic()
        try:
            self.conn = connect(self.uri)
            self.conn.run(f"SET idle_session_timeout = '{IDLE_TIMEOUT_SECONDS}s'")
            said = False
            while not self.conn.run("SELECT pg_try_advisory_lock(:key)", key=self.key)[0][0]:
                if not said:
                    self.say(
                        f"migration lock: another task holds it (it migrates or starts): waiting up to "
                        f"{wait_seconds:.0f} s before starting Letta"
                    )
                    said = True
                deadline = min(started + wait_seconds, time.monotonic() + LOCK_POLL_SECONDS)
                while time.monotonic() < deadline:
                    if interrupted():
                        self.close()
                        return "interrupted"
                    time.sleep(0.1)
                if time.monotonic() >= started + wait_seconds:
                    self.say(
                        f"migration lock: not had within {wait_seconds:.0f} s; exiting {EX_TEMPFAIL} so that "
                        "ECS starts this task again"
                    )
                    self.close()
                    return "timeout"
        except Exception as error:  # driver, network or authentication: one line, then exit
            self.say(f"migration lock: cannot take it on the database: {db_error(error)}")
            self.close()
            return "error"
        self.acquired_at = time.monotonic()
        self.say(
            f"migration lock: acquired after {self.acquired_at - started:.1f} s; Letta's migrations and "
            "first-start writes run under it"
        )
        return "acquired"

    def heartbeat(self) -> bool:
        """Reset the session's idle timer; False (said once) when the session is gone."""
        try:
            self.conn.run("SELECT 1")
        except Exception as error:
            self.say(f"migration lock: its session ended ({db_error(error)}); no longer held")
            self.close()
            return False
        return True

    def hold(self, health_url: str, stopped: threading.Event, hold_seconds: float = HOLD_SECONDS) -> None:
        """Hold the lock until this task's server answers `health_url` (then repair indexes, still holding it),
        until the start script exits (`stopped`), or for `hold_seconds` at most; then release it."""
        try:
            deadline = time.monotonic() + hold_seconds
            while not healthy(health_url):
                if stopped.is_set() or time.monotonic() > deadline or not self.heartbeat():
                    why = "Letta's start exited" if stopped.is_set() else f"no healthy server in {hold_seconds:.0f} s"
                    if self.conn is not None:
                        self.say(f"migration lock: released ({why})")
                    return
                stopped.wait(HEARTBEAT_SECONDS)
            held = time.monotonic() - self.acquired_at
            self.say(f"migration lock: Letta healthy {held:.1f} s after the lock; checking for invalid indexes")
            outcome: dict[str, dict[str, list[str]]] = {}
            repair = threading.Thread(target=self._repair, args=(outcome,), daemon=True)
            repair.start()
            while repair.is_alive():
                repair.join(HEARTBEAT_SECONDS * 5)
                if repair.is_alive() and not self.heartbeat():
                    break
            result = outcome.get("done", {})
            counts = ", ".join(f"{len(v)} {k}" for k, v in result.items()) or "not run"
            self.say(
                f"migration lock: released after {time.monotonic() - self.acquired_at:.1f} s (index repair: {counts})"
            )
        finally:
            self.close()

    def _repair(self, outcome: dict[str, dict[str, list[str]]]) -> None:
        try:
            conn = connect(self.uri, timeout=None)  # a rebuild of a large table may take minutes: heartbeats go on
        except Exception as error:
            self.say(f"index repair: cannot connect: {db_error(error)}")
            return
        try:
            outcome["done"] = repair_invalid_indexes(conn, self.say)
        except Exception as error:
            self.say(f"index repair: stopped: {db_error(error)}")
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        """End the session: PostgreSQL ends its transaction, and the lock with it."""
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None


def lock_wait_seconds(environ: Mapping[str, str]) -> float:
    """LOCK_WAIT_VAR in seconds when it is a positive number, else LOCK_WAIT_SECONDS."""
    with contextlib.suppress(ValueError):
        value = float(environ.get(LOCK_WAIT_VAR) or "")
        if value > 0:
            return value
    return LOCK_WAIT_SECONDS


def health_url(environ: Mapping[str, str]) -> str:
    """This task's own health route: startup.sh serves on $PORT, else on Letta's port."""
    return f"http://127.0.0.1:{environ.get('PORT') or DEFAULT_PORT}{HEALTH_PATH}"


def supervise(
    command: list[str],
    masked_names: Iterable[str],
    out_fd: int = 1,
    *,
    lock: MigrationLock | None = None,
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> int:
    """Run `command` with its stdout and stderr masked onto `out_fd`; return the container's exit code. With
    `lock`, take it first (waiting up to `lock_wait` seconds) and hold it until this task is healthy."""
    secrets = secret_values(masked_names, os.environ)
    masker = _LineMasker(secrets, out_fd)
    child: int | None = None
    pending_signals: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if child is None:
            pending_signals.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):  # already exited: its exit status says the rest
            os.kill(child, signum)

    # Every signal, SIGCHLD included, writes a byte to `wake_w`, so the select below wakes up for it.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)

    stopped = threading.Event()
    if lock is not None:
        outcome = lock.acquire(lock_wait, interrupted=lambda: bool(pending_signals))
        if outcome == "interrupted":
            return 128 + pending_signals[0]
        if outcome != "acquired":
            return EX_TEMPFAIL
        threading.Thread(target=lock.hold, args=(health_url(os.environ), stopped), daemon=True).start()

    read_fd, write_fd = os.pipe()
    try:
        child = os.posix_spawnp(
            command[0],
            command,
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, write_fd, 1), (os.POSIX_SPAWN_DUP2, write_fd, 2)],
            # Python ignores SIGPIPE and SIGXFSZ; the start script gets the defaults a shell would give it.
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    except OSError as error:
        _say(f"cannot start {command[0]}: {error.strerror}")
        stopped.set()
        return 126 if isinstance(error, PermissionError) else 127
    finally:
        os.close(write_fd)
    for signum in pending_signals:
        forward(signum, None)

    status: int | None = None
    reading = True
    drain_deadline = 0.0
    while reading:
        # Wait for output or a signal; once the start script has exited, only for a quiet moment.
        timeout = None if status is None else min(DRAIN_IDLE_SECONDS, max(0.0, drain_deadline - time.monotonic()))
        ready, _, _ = select.select([read_fd, wake_r], [], [], timeout)
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
        if read_fd in ready:
            chunk = os.read(read_fd, 65536)
            if chunk:
                masker.feed(chunk)
            else:
                reading = False  # every writer has closed the pipe
        elif status is not None and wake_r not in ready:
            reading = False  # quiet after the start script's exit: all it wrote is out
        if status is None:
            status = _reap(child)
            if status is not None:
                stopped.set()  # a start that exits gives the lock up at once
                drain_deadline = time.monotonic() + DRAIN_MAX_SECONDS
        elif time.monotonic() >= drain_deadline:
            reading = False  # its background children still write: they must not keep the task alive
    masker.finish()
    os.close(read_fd)
    while status is None:
        status = _reap(child, block=True)
    stopped.set()
    return exit_code(status)


def _reap(child: int, *, block: bool = False) -> int | None:
    """Reap every exited process (as PID 1, orphans are ours too); the child's wait status once it has exited."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            if block:
                raise  # the child is gone without our having reaped it: no exit code to report
            return None
        if pid == 0:
            return None
        if pid == child:
            return status


def main(argv: list[str]) -> int:
    """argv: the start script, then the names of the variables to mask."""
    if not argv:
        _say("usage: supervisor START [MASKED_VARIABLE ...]")
        return 64
    problem = pg_uri_problem(os.environ) or prepare_db_tls(os.environ)
    if problem:
        _say(problem)
        return EX_CONFIG
    try:
        context = db_ssl_context(os.environ)
    except (ssl.SSLError, OSError) as error:  # a PEM block that is no certificate, an unreadable file
        _say(f"the CA roots in {SSL_ROOT_CERT_VAR} cannot be loaded ({type(error).__name__}): refusing to start")
        return EX_CONFIG
    if context is not None:
        line, code = tls_preflight(os.environ["LETTA_PG_URI"], context)
        _say(line)
        if code:
            return code
    try:
        llm = llm_variables(os.environ)
    except ValueError as error:
        _say(f"{error}; refusing to start")
        return EX_CONFIG
    os.environ.update(llm)
    if llm:
        _say(f"LLM keys exported: {', '.join(sorted(llm))}")
    masked = [*argv[1:], *llm]
    lock = None
    if (os.environ.get(LOCK_SWITCH_VAR) or "").strip().lower() == "off":
        _say(f"migration lock: off ({LOCK_SWITCH_VAR}=off): this start migrates alongside any other")
    else:
        secrets = secret_values(masked, os.environ)
        lock = MigrationLock(os.environ["LETTA_PG_URI"], lambda line: _say(line, secrets))
    return supervise([argv[0]], masked, lock=lock, lock_wait=lock_wait_seconds(os.environ))


if __name__ == "__main__":  # also true under `python3 -c`, which is how the container runs this text
    sys.exit(main(sys.argv[1:]))
