"""Run Letta 0.16.8's migrations and its server process for the local rehearsal.

The environment contract (names checked in the installed 0.16.8 code):

- ``LETTA_PG_URI``: ``postgresql://USER:PASSWORD@HOST:PORT/DB``, nothing after the database name.
- ``LETTA_SERVER_SECURE=true``: exactly the lowercase string ``true`` (``app.py`` compares
  ``os.getenv("LETTA_SERVER_SECURE") == "true"``; ``True`` or ``1`` leave the API open).
- ``LETTA_SERVER_PASSWORD``: clients send ``Authorization: Bearer <it>`` (health stays open).
- ``LETTA_ENCRYPTION_KEY``: any string (PBKDF2 input); migrations and server need the same one.
- ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``: an OpenAI-compatible endpoint such as the offline
  echo (:mod:`scripts.rehearsal.offline_llm`); its chat models appear as ``openai-proxy/<id>``,
  embeddings as ``openai/text-embedding-3-small`` and friends.
- ``HOME``: Letta creates ``~/.letta/`` (config, logs, tool sandbox dir) at every start and reads
  ``~/.letta/pg_uri`` if present, so HOME points into the state folder. The working directory gets
  a 1.7 MB ``openapi_letta.json`` at every start, so it is a folder of the state folder too.
- Offline mode (default): ``HTTP(S)_PROXY`` point at a closed loopback port and ``NO_PROXY`` covers
  loopback, so anything Letta tries to fetch from the internet (at start: the NLTK ``punkt_tab``
  download) fails at once instead of hanging where DNS works but egress is blocked, while the
  database and the offline LLM on 127.0.0.1 stay reachable.

The server runs under a small supervisor (this file run as a script, stdlib only) that copies its
output to ``<state>/logs/letta-server.log`` with the secrets above replaced by ``***`` (Letta prints
the server password and alembic the full database URI), forwards SIGTERM, and leads the process
group; :class:`LettaServer` starts, health-checks and stops it, also from another process through
the PID file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import urlsplit

LETTA_VERSION = "0.16.8"
HEALTH_PATH = "/v1/health/"
"""The health route; the trailing slash matters (``/v1/health`` answers 307)."""
DEFAULT_PORT = 8283
EXPECTED_ALEMBIC_HEAD = "1c28e167b74f"
"""``alembic_version.version_num`` after ``alembic upgrade head`` of 0.16.8 (167 revisions)."""
EXPECTED_PUBLIC_TABLES = 49
"""Tables in ``public`` after the migrations (48 + ``alembic_version``)."""
ECHO_MODEL_HANDLE = "openai-proxy/echo-1"
"""Model handle for agents when ``OPENAI_BASE_URL`` is the offline echo endpoint."""
ECHO_EMBEDDING_HANDLE = "openai/text-embedding-3-small"
"""Embedding handle for agents with any OpenAI-compatible endpoint (1536 dimensions)."""
CLOSED_PROXY = "http://127.0.0.1:9"
"""Proxy used in offline mode: a loopback port nothing listens on, so outbound HTTP fails fast."""
REDACT_ENV = "LETTA_REHEARSAL_REDACT"
PASSWORD_ALPHABET = string.ascii_letters + string.digits
_ERROR_HINT = re.compile(r"(Error|Exception|error:|refused|does not exist|denied|FATAL)")
_MIN_SECRET_LEN = 6

Log = Callable[[str], None]


class LettaServerError(RuntimeError):
    """Migrations or the server failed; the message is one line (with the log file to read)."""


class _VenvLike(Protocol):
    """What is needed of :class:`scripts.rehearsal.letta_install.LettaVenv`."""

    @property
    def bin_dir(self) -> Path: ...
    @property
    def letta(self) -> Path: ...
    @property
    def alembic(self) -> Path: ...
    @property
    def migrations_dir(self) -> Path: ...


def _print(message: str) -> None:
    print(message, flush=True)


def generate_password(length: int = 32) -> str:
    """A random password of letters and digits (safe in a URI and in alembic's config)."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def check_pg_uri(uri: str) -> None:
    """Reject a ``LETTA_PG_URI`` that Letta 0.16.8 mishandles, with the reason.

    Letta needs ``postgresql://USER:PASSWORD@HOST:PORT/DB``: ``postgres://`` fails, a query string
    (``?sslmode=``) crashes the migration driver, and a password needing percent-encoding (or
    holding ``ssl=``, which Letta rewrites) breaks the migrations.
    """
    parts = urlsplit(uri)
    if parts.scheme != "postgresql":
        raise ValueError(f"LETTA_PG_URI must start with postgresql:// (got {parts.scheme or 'no'} scheme)")
    if parts.query or parts.fragment or "?" in uri or "#" in uri:
        raise ValueError("LETTA_PG_URI must not carry a query string or fragment (e.g. ?sslmode=)")
    if not (parts.username and parts.password and parts.hostname and parts.path.strip("/")):
        raise ValueError("LETTA_PG_URI must name user, password, host and database")
    if "%" in uri or "ssl=" in uri:
        raise ValueError("LETTA_PG_URI must not contain '%' or 'ssl=' (Letta's migrations break on them)")


def redact(text: str, secret_values: Iterable[str]) -> str:
    """Replace every secret (longest first, those of 6+ characters) in ``text`` by ``***``."""
    for value in sorted({s for s in secret_values if s and len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


@dataclass(frozen=True)
class LettaServerConfig:
    """Everything the Letta process needs; see the module docstring for the env contract.

    Attributes:
        pg_uri: the app role's ``LETTA_PG_URI``.
        state_dir: folder for HOME, the working directory, logs and the PID file.
        server_password: ``LETTA_SERVER_PASSWORD`` (secure mode is always on).
        encryption_key: ``LETTA_ENCRYPTION_KEY``.
        host, port: where the server listens (loopback by default).
        openai_base_url, openai_api_key: the OpenAI-compatible endpoint (e.g. the offline echo).
        offline: block outbound HTTP(S) except to loopback (see the module docstring).
        extra_env: more variables for the Letta process (they win over the above).
    """

    pg_uri: str
    state_dir: Path
    server_password: str
    encryption_key: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    offline: bool = True
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """``http://host:port`` for clients (``letta_client.Letta(base_url=..., api_key=password)``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def home_dir(self) -> Path:
        return self.state_dir / "home"

    @property
    def work_dir(self) -> Path:
        return self.state_dir / "cwd"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "letta-server.pid"

    def secret_values(self) -> list[str]:
        """Values that must not reach a log: password, key, the DB password, the API key."""
        values = [self.server_password, self.encryption_key, urlsplit(self.pg_uri).password or ""]
        if self.openai_api_key:
            values.append(self.openai_api_key)
        return [v for v in values if v]


def letta_env(config: LettaServerConfig, venv: _VenvLike) -> dict[str, str]:
    """The complete environment of the Letta process (and of its migrations); nothing else leaks in."""
    env: dict[str, str] = {
        key: os.environ[key] for key in ("LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE") if key in os.environ
    }
    env.update(
        {
            "PATH": f"{venv.bin_dir}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(config.home_dir),
            "PYTHONUNBUFFERED": "1",
            "LETTA_PG_URI": config.pg_uri,
            "LETTA_SERVER_SECURE": "true",
            "LETTA_SERVER_PASSWORD": config.server_password,
            "LETTA_ENCRYPTION_KEY": config.encryption_key,
        }
    )
    if config.openai_base_url:
        env["OPENAI_BASE_URL"] = config.openai_base_url
        env["OPENAI_API_KEY"] = config.openai_api_key or "offline"
    if config.offline:
        loopback = "127.0.0.1,localhost,::1"
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env[name] = CLOSED_PROXY
        env["NO_PROXY"] = env["no_proxy"] = loopback
    env.update(config.extra_env)
    return env


def _last_error_line(lines: Sequence[str]) -> str:
    """The most telling line of a failed run's output (last error-looking line, else the last line)."""
    stripped = [line.strip() for line in lines if line.strip()]
    for line in reversed(stripped):
        if _ERROR_HINT.search(line) and not line.startswith("File "):
            return line[:300]
    return stripped[-1][:300] if stripped else "no output"


def _prepare_dirs(config: LettaServerConfig) -> None:
    for path in (config.state_dir, config.home_dir, config.work_dir, config.log_dir):
        path.mkdir(parents=True, exist_ok=True)


# -- migrations ---------------------------------------------------------------------------------


def run_migrations(venv: _VenvLike, config: LettaServerConfig, *, timeout: float = 600.0, log: Log = _print) -> float:
    """Run the sdist's ``alembic upgrade head`` as the app role; return the seconds it took.

    It runs in ``venv.migrations_dir`` (only ``alembic/`` + ``alembic.ini``) with the same
    environment as the server. Output goes, redacted, to ``<state>/logs/migrations.log``.

    Raises:
        LettaServerError: non-zero exit or timeout, with the telling line of the output.
    """
    check_pg_uri(config.pg_uri)
    _prepare_dirs(config)
    log_path = config.log_dir / "migrations.log"
    log(f"letta-server: alembic upgrade head (log: {log_path})")
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [str(venv.alembic), "upgrade", "head"],
            cwd=venv.migrations_dir,
            env=letta_env(config, venv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LettaServerError(f"alembic upgrade head did not finish within {timeout:.0f} s") from exc
    seconds = time.monotonic() - started
    output = redact((proc.stdout or "") + (proc.stderr or ""), config.secret_values())
    log_path.write_text(output, encoding="utf-8")
    if proc.returncode != 0:
        raise LettaServerError(
            f"alembic upgrade head failed (exit {proc.returncode}): {_last_error_line(output.splitlines())} "
            f"(log: {log_path})"
        )
    log(f"letta-server: migrations done in {seconds:.1f} s")
    return seconds


@dataclass(frozen=True)
class SchemaStatus:
    """What the migrations left in the database."""

    revision: str | None
    public_tables: int

    @property
    def is_current(self) -> bool:
        return self.revision == EXPECTED_ALEMBIC_HEAD and self.public_tables == EXPECTED_PUBLIC_TABLES


def schema_status(pg_uri: str) -> SchemaStatus:
    """Read ``alembic_version`` and count the tables in ``public`` (needs psycopg, a project dep)."""
    import psycopg  # the project venv's driver; imported here so the supervisor stays stdlib-only

    with psycopg.connect(pg_uri, connect_timeout=10) as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
        has_version = conn.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL").fetchone()
        revision = None
        if has_version and has_version[0]:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
    return SchemaStatus(revision=revision, public_tables=int(tables[0]) if tables else 0)


# -- the server process -------------------------------------------------------------------------


def port_in_use(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_supervisor(pid: int) -> bool:
    """True if ``pid`` runs this file's ``supervise`` command (guards against a reused PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _pid_alive(pid)  # no /proc: trust the PID file
    return any(arg.endswith(b"letta_server.py") for arg in cmdline) and b"supervise" in cmdline


def health(base_url: str, timeout: float = 3.0) -> dict[str, str] | None:
    """``GET <base_url>/v1/health/``: the JSON body on 200, else None."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + HEALTH_PATH, timeout=timeout) as resp:
            if resp.status == 200:
                body = json.loads(resp.read() or b"{}")
                return body if isinstance(body, dict) else {}
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return None


class LettaServer:
    """The Letta server as a supervised child process.

    Usage::

        server = LettaServer(venv, config)
        server.start()
        server.wait_healthy()        # progress lines, bounded, clear error if Letta exits
        ...
        server.stop()

    or ``with LettaServer(venv, config) as server: ...`` (start + wait_healthy, stop on exit).
    A server started by another process is stopped with ``LettaServer.stop_pid_file(state_dir)``.
    """

    def __init__(self, venv: _VenvLike, config: LettaServerConfig, *, log: Log = _print) -> None:
        self.venv = venv
        self.config = config
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def log_path(self) -> Path:
        return self.config.log_dir / "letta-server.log"

    @property
    def pid(self) -> int | None:
        """PID of the supervisor (also the process group id), or None when not started."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Spawn the server (in its own process group); returns at once. See :meth:`wait_healthy`."""
        if self._proc is not None and self._proc.poll() is None:
            return
        check_pg_uri(self.config.pg_uri)
        if port_in_use(self.config.host, self.config.port):
            raise LettaServerError(f"port {self.config.port} on {self.config.host} is already in use")
        _prepare_dirs(self.config)
        env = letta_env(self.config, self.venv)
        env[REDACT_ENV] = json.dumps(self.config.secret_values())
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "supervise",
            "--log",
            str(self.log_path),
            "--cwd",
            str(self.config.work_dir),
            "--",
            str(self.venv.letta),
            "server",
            "--host",
            self.config.host,
            "--port",
            str(self.config.port),
        ]
        self.log(f"letta-server: starting Letta {LETTA_VERSION} on {self.base_url} (log: {self.log_path})")
        self._proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=self.config.work_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.config.pid_file.write_text(f"{self._proc.pid}\n", encoding="utf-8")

    def _last_log_line(self, errors_only: bool = False) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-200:]
        except OSError:
            return "no log yet"
        if errors_only:
            return _last_error_line(lines)
        stripped = [line.strip() for line in lines if line.strip()]
        if not stripped or stripped[-1].startswith("--- supervisor: started"):
            return "no output yet (importing Letta takes ~25 s of CPU)"
        return stripped[-1][:160]

    def wait_healthy(self, timeout: float = 300.0, *, progress_every: float = 10.0) -> float:
        """Poll ``/v1/health/`` until 200 with version 0.16.8; return the seconds since :meth:`start`.

        Raises:
            LettaServerError: the process exited first, or ``timeout`` passed (one line each).
        """
        if self._proc is None:
            raise LettaServerError("the server was not started")
        started = time.monotonic()
        next_note = started + progress_every
        while True:
            code = self._proc.poll()
            if code is not None:
                raise LettaServerError(
                    f"Letta exited with code {code} before it was healthy: "
                    f"{self._last_log_line(errors_only=True)} (log: {self.log_path})"
                )
            body = health(self.base_url)
            now = time.monotonic()
            if body is not None:
                version = body.get("version")
                if version != LETTA_VERSION:
                    raise LettaServerError(
                        f"{self.base_url} answers health with version {version!r}, expected {LETTA_VERSION}"
                    )
                self.log(f"letta-server: healthy after {now - started:.1f} s at {self.base_url}{HEALTH_PATH}")
                return now - started
            if now - started > timeout:
                raise LettaServerError(
                    f"Letta was not healthy within {timeout:.0f} s: last log line: "
                    f"{self._last_log_line()} (log: {self.log_path})"
                )
            if now >= next_note:
                self.log(f"letta-server: waiting for health, {now - started:.0f} s: {self._last_log_line()}")
                next_note = now + progress_every
            time.sleep(0.5)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the server, wait up to ``timeout``, then SIGKILL its process group; returns the code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        code = _terminate(proc.pid, timeout, proc.wait)
        self.config.pid_file.unlink(missing_ok=True)
        return code

    @staticmethod
    def recorded_pid(state_dir: Path) -> int | None:
        """The supervisor PID in ``<state_dir>/letta-server.pid`` if that process is still ours, else None."""
        try:
            pid = int((state_dir / "letta-server.pid").read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) and _is_our_supervisor(pid) else None

    @staticmethod
    def stop_pid_file(state_dir: Path, timeout: float = 30.0) -> bool:
        """Stop a server started by another process from ``<state_dir>/letta-server.pid``."""
        pid = LettaServer.recorded_pid(state_dir)
        if pid is not None:
            terminate_pid(pid, timeout)
        (state_dir / "letta-server.pid").unlink(missing_ok=True)
        return pid is not None

    def __enter__(self) -> LettaServer:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def terminate_pid(pid: int, timeout: float = 30.0) -> None:
    """Stop a process this program started earlier, known only by PID (it leads its own process group):
    SIGTERM, then SIGKILL of the group after ``timeout``."""

    def _wait(timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout or 0)
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(pid), timeout or 0)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.2)
        return 0

    _terminate(pid, timeout, _wait)


def _terminate(pid: int, timeout: float, wait: Callable[..., int]) -> int | None:
    """SIGTERM ``pid`` (the supervisor forwards it), then SIGKILL its process group after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        return wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            return wait(timeout=10)
    return None


# -- the supervisor (runs as a script: stdlib only) ---------------------------------------------


def supervise(command: Sequence[str], log_path: Path, cwd: Path) -> int:
    """Run ``command`` with its output redacted into ``log_path``; forward SIGTERM/SIGINT; return its code."""
    secret_values: list[str] = json.loads(os.environ.get(REDACT_ENV, "[]"))
    env = {k: v for k, v in os.environ.items() if k != REDACT_ENV}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def _forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    assert child.stdout is not None
    with log_path.open("a", encoding="utf-8") as out:
        out.write(
            f"--- supervisor: started {' '.join(command[:2])} (pid {child.pid}) at "
            f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
        )
        out.flush()
        for raw in iter(child.stdout.readline, b""):
            out.write(redact(raw.decode("utf-8", errors="replace"), secret_values))
            out.flush()
        code = child.wait()
        out.write(f"--- supervisor: Letta exited with code {code}\n")
    return code


# -- command line -------------------------------------------------------------------------------


def _config_from_env(args: argparse.Namespace) -> LettaServerConfig:
    names = ("LETTA_PG_URI", "LETTA_SERVER_PASSWORD", "LETTA_ENCRYPTION_KEY")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise LettaServerError(f"set {', '.join(missing)} in the environment")
    return LettaServerConfig(
        pg_uri=os.environ["LETTA_PG_URI"],
        state_dir=args.state_dir,
        server_password=os.environ["LETTA_SERVER_PASSWORD"],
        encryption_key=os.environ["LETTA_ENCRYPTION_KEY"],
        host=args.host,
        port=args.port,
        openai_base_url=args.openai_base_url,
        openai_api_key=os.environ.get("OPENAI_API_KEY"),
        offline=not args.online,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``migrate`` / ``run`` (foreground until Ctrl-C) / ``stop``; ``supervise`` is internal."""
    parser = argparse.ArgumentParser(
        description="Letta 0.16.8 migrations and server for the rehearsal. "
        "migrate/run read LETTA_PG_URI, LETTA_SERVER_PASSWORD, LETTA_ENCRYPTION_KEY."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("migrate", "run", "stop"):
        p = sub.add_parser(name)
        p.add_argument("--state-dir", type=Path, required=True)
        if name != "stop":
            p.add_argument("--host", default="127.0.0.1")
            p.add_argument("--port", type=int, default=DEFAULT_PORT)
            p.add_argument("--openai-base-url", default=None, help="e.g. the offline echo's base URL")
            p.add_argument("--online", action="store_true", help="do not block outbound HTTP(S)")
            p.add_argument("--cache-dir", type=Path, default=None, help="Letta venv cache folder")
    sup = sub.add_parser("supervise")
    sup.add_argument("--log", type=Path, required=True)
    sup.add_argument("--cwd", type=Path, required=True)
    sup.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    if args.command == "supervise":
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        return supervise(cmd, args.log, args.cwd)
    if args.command == "stop":
        stopped = LettaServer.stop_pid_file(args.state_dir)
        print("letta-server: stopped" if stopped else "letta-server: not running")
        return 0

    from scripts.rehearsal.letta_install import LettaInstallError, ensure_letta_venv

    try:
        config = _config_from_env(args)
        venv = ensure_letta_venv(args.cache_dir)
        if args.command == "migrate":
            run_migrations(venv, config)
            return 0
        server = LettaServer(venv, config)
        server.start()
        try:
            server.wait_healthy()
            print(f"letta-server: serving at {server.base_url} (Ctrl-C stops)", flush=True)
            while server._proc is not None and server._proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    except (LettaServerError, LettaInstallError, ValueError) as exc:
        print(f"letta-server: ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
