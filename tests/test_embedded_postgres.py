"""The embedded PostgreSQL used by the tests and the local rehearsal: real auth, loopback, restartable."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from pathlib import Path

import psycopg
import pytest

from scripts.embedded_postgres import (
    MAX_SOCKET_PATH,
    PASSWORD_FILE,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    available_majors,
    socket_dir_for,
)
from tests.postgres_server import MAJORS, make_base_dir

pytestmark = pytest.mark.postgres


def test_wheel_provides_both_majors() -> None:
    assert available_majors() == list(MAJORS)


def test_server_is_the_requested_major_with_pgvector(embedded_postgres: EmbeddedPostgres) -> None:
    with psycopg.connect(embedded_postgres.dsn()) as conn:
        version_num = conn.execute("SHOW server_version_num").fetchone()
        vector = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    assert version_num is not None and int(version_num[0]) // 10000 == embedded_postgres.major
    assert vector == ("0.8.5",)


def test_listens_on_loopback_only(embedded_postgres: EmbeddedPostgres) -> None:
    with psycopg.connect(embedded_postgres.dsn()) as conn:
        listen = conn.execute("SHOW listen_addresses").fetchone()
        server_addr = conn.execute("SELECT host(inet_server_addr())").fetchone()
    assert listen == ("127.0.0.1",)
    assert server_addr == ("127.0.0.1",)


def test_every_login_needs_a_scram_password(embedded_postgres: EmbeddedPostgres) -> None:
    with psycopg.connect(embedded_postgres.dsn()) as conn:
        methods = conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall()
        encryption = conn.execute("SHOW password_encryption").fetchone()
        conn.execute("DROP ROLE IF EXISTS no_password_role")
        conn.execute("CREATE ROLE no_password_role LOGIN")
    assert methods == [("scram-sha-256",)]
    assert encryption == ("scram-sha-256",)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(embedded_postgres.dsn(password="not-the-password")).close()
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(embedded_postgres.dsn(user="no_password_role")).close()


def test_superuser_password_file_is_private(embedded_postgres: EmbeddedPostgres) -> None:
    path = embedded_postgres.data_dir / PASSWORD_FILE
    info = path.stat()
    password = embedded_postgres.superuser_password
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()
    assert len(password) == 32 and password.isascii() and password.isalnum()


def test_server_never_runs_as_root(embedded_postgres: EmbeddedPostgres) -> None:
    pid = embedded_postgres.pid
    assert pid is not None
    status = Path(f"/proc/{pid}/status").read_text()
    real_uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    assert real_uid != 0
    data_owner = embedded_postgres.data_dir.stat().st_uid
    assert data_owner == real_uid
    assert stat.S_IMODE(embedded_postgres.data_dir.stat().st_mode) == 0o700


def test_start_is_idempotent(embedded_postgres: EmbeddedPostgres) -> None:
    pid, port = embedded_postgres.pid, embedded_postgres.port
    embedded_postgres.start()
    assert (embedded_postgres.pid, embedded_postgres.port) == (pid, port)
    # A second object on the same data dir adopts the running server and its port.
    twin = EmbeddedPostgres(embedded_postgres.data_dir, major=embedded_postgres.major).start()
    assert (twin.pid, twin.port) == (pid, port)


def test_create_database_is_idempotent(embedded_postgres: EmbeddedPostgres) -> None:
    embedded_postgres.create_database("created_twice")
    embedded_postgres.create_database("created_twice")
    with psycopg.connect(embedded_postgres.dsn("created_twice")) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("created_twice",)


def test_dsn_form(embedded_postgres: EmbeddedPostgres) -> None:
    port = embedded_postgres.port
    password = embedded_postgres.superuser_password
    assert embedded_postgres.dsn("letta") == f"postgresql://postgres:{password}@127.0.0.1:{port}/letta"
    assert embedded_postgres.dsn(user="app", password="pw") == f"postgresql://app:pw@127.0.0.1:{port}/postgres"


@pytest.mark.parametrize("major", MAJORS, ids=[f"pg{m}" for m in MAJORS])
def test_restart_keeps_data_and_password_then_reports_a_failed_start(major: int) -> None:
    base = make_base_dir()
    try:
        data_dir = base / "data"
        with EmbeddedPostgres(data_dir, major=major) as first:
            password = first.superuser_password
            first.create_database("kept")
            with psycopg.connect(first.dsn("kept")) as conn:
                conn.execute("CREATE TABLE marker (note text)")
                conn.execute("INSERT INTO marker VALUES ('survives a restart')")
        assert not first.is_running() and first.pid is None

        with EmbeddedPostgres(data_dir, major=major) as second:
            assert second.superuser_password == password
            with psycopg.connect(second.dsn("kept")) as conn:
                assert conn.execute("SELECT note FROM marker").fetchall() == [("survives a restart",)]
        assert not second.is_running()

        # The port is taken: the start must fail fast, in one line, with the server's own words.
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", 0))
            blocker.listen()
            taken = blocker.getsockname()[1]
            with pytest.raises(EmbeddedPostgresError) as failure:
                EmbeddedPostgres(data_dir, major=major, port=taken, timeout=20).start()
        message = str(failure.value)
        assert "\n" not in message
        assert f"port {taken}" in message and "server log:" in message
        assert "could not bind" in message or "could not create any TCP/IP sockets" in message
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_refuses_a_data_dir_of_another_major() -> None:
    base = make_base_dir()
    try:
        data_dir = base / "data"
        data_dir.mkdir()
        (data_dir / "PG_VERSION").write_text("18\n")
        with pytest.raises(EmbeddedPostgresError, match="holds a PostgreSQL 18 cluster"):
            EmbeddedPostgres(data_dir, major=16).start()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_refuses_a_non_empty_directory_that_is_not_a_data_dir() -> None:
    base = make_base_dir()
    try:
        data_dir = base / "data"
        data_dir.mkdir()
        (data_dir / "notes.txt").write_text("not PostgreSQL")
        with pytest.raises(EmbeddedPostgresError, match="not empty and not a PostgreSQL data dir"):
            EmbeddedPostgres(data_dir, major=16).start()
        assert (data_dir / "notes.txt").read_text() == "not PostgreSQL"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_unknown_major_is_rejected() -> None:
    with pytest.raises(ValueError, match="PostgreSQL 17 is not in the wheel"):
        EmbeddedPostgres(Path("/tmp/unused"), major=17)


def test_socket_goes_to_a_short_path_when_the_data_dir_is_too_long() -> None:
    short = Path("/tmp/pg/data")
    assert socket_dir_for(short, 5432) == short
    deep = Path("/tmp/" + "d" * 100)
    fallback = socket_dir_for(deep, 65535)
    assert fallback != deep
    assert len(str(fallback / ".s.PGSQL.65535")) <= MAX_SOCKET_PATH
    assert socket_dir_for(deep, 65535) == fallback  # stable: same data dir, same socket dir
