"""Fixtures for tests against a real PostgreSQL with pgvector (PostgreSQL 16 and 18 from a PyPI wheel).

Aurora runs PostgreSQL 17, which no wheel ships: every database test runs on both neighbours.
Import the fixtures into a test module by their function names, which differ from the fixture names so
that linters see no redefinition:
``from tests.fixtures_postgres import embedded_postgres_fixture  # noqa: F401``.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from scripts.embedded_postgres import EmbeddedPostgres
from stacks.pgvector.runtime.pgvector_bootstrap.connection_string import ALLOWED_PASSWORD_CHARS
from stacks.pgvector.runtime.pgvector_bootstrap.sql_files import SqlFile, load_sql_files

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = ROOT / "bootstrap_sql"
MAJORS = (16, 18)
_SERVERS: dict[int, EmbeddedPostgres] = {}


@pytest.fixture(scope="session", params=MAJORS, ids=[f"pg{major}" for major in MAJORS], name="embedded_postgres")
def embedded_postgres_fixture(request: pytest.FixtureRequest) -> EmbeddedPostgres:
    """The running server of one major, shared by the whole session."""
    return shared_server(request.param)


def shared_server(major: int) -> EmbeddedPostgres:
    """Start the server of ``major`` on first use; it is stopped (and its files removed) at exit.

    Cached per process, not by pytest: each test module imports the fixture, which makes pytest hold
    one fixture definition per module and would otherwise start a server per module.
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


@pytest.fixture(name="fresh_database")
def fresh_database_fixture(embedded_postgres: EmbeddedPostgres) -> str:
    """A new, empty database on the session server (roles are cluster-wide: use ``unique_role``)."""
    name = f"letta_{uuid.uuid4().hex[:12]}"
    embedded_postgres.create_database(name)
    return name


@pytest.fixture(name="app_role")
def app_role_fixture() -> str:
    """A role name no other test uses."""
    return unique_role()


@pytest.fixture(name="app_password")
def app_password_fixture() -> str:
    """A password drawn from the whole allowed alphabet."""
    return generate_password()


@pytest.fixture(scope="session", name="sql_files")
def sql_files_fixture() -> list[SqlFile]:
    """The repository's bootstrap_sql files."""
    return load_sql_files(SQL_DIR)


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
