"""The real PostgreSQL with pgvector the tests run against (PostgreSQL 16 and 18 from a PyPI wheel), and the
helpers its tests share; the fixtures built on it are in conftest.py.

Aurora runs PostgreSQL 17, which no wheel ships: every database test runs on both neighbours.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest

from scripts.embedded_postgres import EmbeddedPostgres
from stacks.pgsql.connection_string import ALLOWED_PASSWORD_CHARS

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = ROOT / "bootstrap_sql"
MAJORS = (16, 18)
_SERVERS: dict[int, EmbeddedPostgres] = {}


def shared_server(major: int) -> EmbeddedPostgres:
    """Start the server of ``major`` on first use; it is stopped (and its files removed) at exit.

    Cached per process, so that every test of a major shares one server.
    """
    if major not in _SERVERS:
        base = make_base_dir()
        # Not durable: fsync off makes the suite's many CREATE DATABASE cheap on slow disks.
        server = EmbeddedPostgres(base / "data", major=major, durable=False)
        atexit.register(_discard, server, base)
        server.start()
        _SERVERS[major] = server
    return _SERVERS[major]


def _discard(server: EmbeddedPostgres, base: Path) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def make_base_dir() -> Path:
    """A fresh directory under /tmp that the server's service account can traverse.

    Not pytest's tmp_path: its parents are 0700 and owned by root, so under root the unprivileged
    account that runs PostgreSQL could not reach a data dir inside.
    """
    base = Path(tempfile.mkdtemp(prefix="letta-pg-test-"))
    base.chmod(0o755)
    return base


def unique_role(prefix: str = "letta_app") -> str:
    """A fresh role name."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def generate_password(length: int = 32) -> str:
    """A random password over ``ALLOWED_PASSWORD_CHARS`` (including its punctuation)."""
    return "".join(secrets.choice(ALLOWED_PASSWORD_CHARS) for _ in range(length)) + "-_.^,"


def split_password(uri: str) -> tuple[str, str]:
    """``uri`` without its password, and the password: how an operator hands them to a script (``--dsn`` and
    PGPASSWORD or a password file), since the scripts refuse a password on the command line."""
    parts = urlsplit(uri)
    netloc = f"{parts.username}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), unquote(parts.password or "")


def password_in_environment(uri: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``uri`` without its password, which goes into PGPASSWORD (and no PGPASSFILE) for this test: a ``--dsn``."""
    dsn, password = split_password(uri)
    monkeypatch.setenv("PGPASSWORD", password)
    monkeypatch.delenv("PGPASSFILE", raising=False)
    return dsn


def pgpass_line(dsn: str, password: str) -> str:
    """A password file's line for ``dsn`` (host:port:database:user:password, ':' and '\\' escaped)."""
    parts = urlsplit(dsn)
    fields = [parts.hostname, str(parts.port), parts.path.lstrip("/"), parts.username, password]
    return ":".join(str(f).replace("\\", "\\\\").replace(":", "\\:") for f in fields) + "\n"
