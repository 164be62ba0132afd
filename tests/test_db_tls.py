"""Verified TLS to the database, Letta-free: a TLS-only PostgreSQL (tests/support/tls_postgres.py in front of the
embedded PostgreSQL 16) with a certificate from a test CA, and the supervisor's own code.

- the right CA connects: the supervisor's pre-flight, asyncpg with the environment the supervisor sets (Letta's
  server with pooling off), and the migration lock's pg8000 session;
- a wrong CA, or a wrong host name, stops the supervisor's start with one line (no traceback, no secret) and Letta's
  start script never runs;
- plaintext is refused;
- what each of Letta's connections verifies (docs/network.md's table): asyncpg with Letta's pooling-on
  `ssl="require"` checks the chain but not the host name; pg8000 as Letta's migrations call it checks neither.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pg8000.native
import pytest

from scripts.embedded_postgres import EmbeddedPostgres
from scripts.rehearsal.container import ContainerSpec, container_env
from stacks.service import supervisor
from stacks.service.log_filter import start_command
from tests.postgres_server import shared_server
from tests.support.tls_postgres import TlsPostgres, issue_server_cert, make_ca

HOST = "localhost"  # the name in the server's certificate; 127.0.0.1 reaches the same front under another name


@dataclass(frozen=True)
class Front:
    server: TlsPostgres
    postgres: EmbeddedPostgres
    right_ca: str
    wrong_ca: str
    folder: Path
    other_name: TlsPostgres
    """The same database behind a certificate (from the right CA) for another name: a DNS name mismatch."""

    def uri(self, host: str = HOST, port: int | None = None) -> str:
        """The superuser's URI (its password inside, as LETTA_PG_URI has the app's) through the front."""
        plain = urllib.parse.urlsplit(self.postgres.dsn())
        netloc = f"{plain.username}:{plain.password}@{host}:{port or self.server.port}"
        return urllib.parse.urlunsplit(("postgresql", netloc, plain.path, "", ""))

    @property
    def password(self) -> str:
        return urllib.parse.urlsplit(self.postgres.dsn()).password or ""


@pytest.fixture(scope="module")
def front() -> Iterator[Front]:
    postgres = shared_server(16)
    folder = Path(tempfile.mkdtemp(prefix="letta-tls-test-"))
    right, wrong = make_ca("letta test database CA"), make_ca("some other CA")
    cert, key = issue_server_cert(right, HOST, folder)
    (folder / "other").mkdir()
    other_cert, other_key = issue_server_cert(right, "aurora.example.internal", folder / "other")
    with TlsPostgres(postgres.port, cert, key) as server, TlsPostgres(postgres.port, other_cert, other_key) as other:
        yield Front(server, postgres, right.cert_pem, wrong.cert_pem, folder, other)


def verifying_env(ca_pem: str, mode: str = "verify-full") -> dict[str, str]:
    """What the task definition carries, after the supervisor's prepare_db_tls (which writes the roots' file)."""
    env = {supervisor.SSL_MODE_VAR: mode, supervisor.DB_CA_VAR: ca_pem}
    assert supervisor.prepare_db_tls(env) is None
    assert Path(env[supervisor.SSL_ROOT_CERT_VAR]).read_text() == ca_pem
    return env


def asyncpg_fetch(uri: str, env: dict[str, str], **connect: object) -> object:
    """`SELECT 1` with asyncpg, the environment set as `env` says (asyncpg reads PGSSLMODE and PGSSLROOTCERT)."""

    async def run() -> object:
        connection = await asyncpg.connect(uri, timeout=10, **connect)
        try:
            return await connection.fetchval("SELECT 1")
        finally:
            await connection.close()

    saved = {name: os.environ.get(name) for name in (supervisor.SSL_MODE_VAR, supervisor.SSL_ROOT_CERT_VAR)}
    try:
        for name in saved:
            os.environ.pop(name, None)
        os.environ.update({k: v for k, v in env.items() if k in saved})
        return asyncio.run(run())
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def run_supervisor(front: Front, uri: str, ca_pem: str, start_marker: Path) -> subprocess.CompletedProcess[str]:
    """The container's command, as ECS runs it (python3 -c <supervisor>), with a stand-in for Letta's start script
    that only leaves a marker: whether Letta would have started."""
    start = front.folder / f"start-{start_marker.name}.sh"
    start.write_text(f"#!/bin/sh\ntouch {start_marker}\n")
    start.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"],
        "LETTA_PG_URI": uri,
        supervisor.SSL_MODE_VAR: "verify-full",
        supervisor.DB_CA_VAR: ca_pem,
    }
    command = start_command(masked_env_vars=["LETTA_PG_URI"], start=str(start), python=sys.executable)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


# --- The right CA ---------------------------------------------------------------------------------------


def test_the_right_ca_passes_the_pre_flight_and_asyncpg_connects_with_the_supervisors_environment(front: Front) -> None:
    env = verifying_env(front.right_ca)
    line, code = supervisor.tls_preflight(front.uri(), supervisor.db_ssl_context(env))
    assert code == 0, line
    assert line.startswith(f"database TLS: {HOST}:{front.server.port} verified (chain and host name, TLSv1.3)")
    # Letta's server with pooling off passes no ssl argument: asyncpg takes PGSSLMODE and PGSSLROOTCERT.
    assert asyncpg_fetch(front.uri(), env) == 1
    assert front.server.sessions[-1].startswith("tls TLSv1.")


def test_the_right_ca_starts_letta_after_one_line_and_the_lock_session_verifies_too(front: Front) -> None:
    marker = front.folder / "started-right"
    done = run_supervisor(front, front.uri(), front.right_ca, marker)
    assert done.returncode == 0, done.stderr
    assert marker.exists()
    assert "database TLS: localhost:" in done.stderr and "verified (chain and host name" in done.stderr
    # The migration lock's session went through the same front, verified (pg8000 with the supervisor's context).
    assert "migration lock: acquired" in done.stderr
    # The migration lock's pg8000 session, with the supervisor's verifying context.
    env = verifying_env(front.right_ca)
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        connection = supervisor.connect(front.uri())
        assert connection.run("SELECT 1") == [[1]]
        connection.close()
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch, certificate is not valid for"):
            supervisor.connect(front.uri(host="127.0.0.1"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --- A wrong CA, a wrong host name: one line, and Letta does not start -------------------------------------


@pytest.mark.parametrize(
    ("case", "host", "ca", "says"),
    [
        ("wrong-ca", HOST, "wrong", "failed verification (unable to get local issuer certificate)"),
        ("wrong-ip", "127.0.0.1", "right", "(IP address mismatch, certificate is not valid for '127.0.0.1'.)"),
        ("wrong-name", "other", "right", "(Hostname mismatch, certificate is not valid for 'localhost'.)"),
    ],
)
def test_a_wrong_ca_or_host_name_stops_the_start_with_one_clear_line(
    front: Front, case: str, host: str, ca: str, says: str
) -> None:
    marker = front.folder / f"started-{case}"
    pem = front.right_ca if ca == "right" else front.wrong_ca
    # "other": the front whose certificate names aurora.example.internal, reached as localhost.
    uri = front.uri(port=front.other_name.port) if host == "other" else front.uri(host=host)
    host = HOST if host == "other" else host
    done = run_supervisor(front, uri, pem, marker)
    lines = (done.stdout + done.stderr).splitlines()
    print(lines)
    assert done.returncode == supervisor.EX_CONFIG
    assert len(lines) == 1
    assert lines[0].startswith(f"letta-supervisor: database TLS: the certificate of {host}:")
    assert says in lines[0] and lines[0].endswith("against the roots in PGSSLROOTCERT: refusing to start")
    assert "Traceback" not in lines[0] and front.password not in lines[0]
    assert not marker.exists()  # Letta's start script never ran


def test_asyncpg_with_the_supervisors_environment_refuses_a_wrong_ca_and_a_wrong_host_name(front: Front) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        asyncpg_fetch(front.uri(), verifying_env(front.wrong_ca))
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch, certificate is not valid for"):
        asyncpg_fetch(front.uri(host="127.0.0.1"), verifying_env(front.right_ca))


# --- Plaintext -------------------------------------------------------------------------------------------


def test_plaintext_is_refused(front: Front) -> None:
    with pytest.raises(pg8000.exceptions.DatabaseError, match="TLS connections only"):
        pg8000.native.Connection(**supervisor.pg_connect_args(front.uri()), ssl_context=False, timeout=10)
    assert front.server.sessions[-1] == "plaintext refused"
    with pytest.raises(asyncpg.exceptions.InvalidAuthorizationSpecificationError, match="TLS connections only"):
        asyncpg_fetch(front.uri(), {supervisor.SSL_MODE_VAR: "disable"})


def test_a_server_without_tls_stops_the_start_with_one_line(front: Front) -> None:
    # The embedded PostgreSQL itself offers no TLS: what a verify-full task says to a server that answers N.
    env = verifying_env(front.right_ca)
    line, code = supervisor.tls_preflight(front.uri(port=front.postgres.port), supervisor.db_ssl_context(env))
    assert code == supervisor.EX_CONFIG
    assert line == (
        f"database TLS: {HOST}:{front.postgres.port} offers no TLS (answered b'N' to SSLRequest): refusing to start"
    )


def test_an_unreachable_server_is_a_temporary_failure() -> None:
    env = verifying_env(make_ca("any").cert_pem)
    line, code = supervisor.tls_preflight(
        "postgresql://u:secret-password@127.0.0.1:9/db", supervisor.db_ssl_context(env), timeout=5
    )
    assert code == supervisor.EX_TEMPFAIL
    assert line.startswith("database TLS: cannot reach 127.0.0.1:9 (") and "secret-password" not in line


# --- What each of Letta's connections verifies (docs/network.md) ---------------------------------------------


def test_letta_pooling_on_checks_the_chain_but_not_the_host_name(front: Front) -> None:
    # letta/server/db.py with pooling on: connect_args ssl="require" (the URI has no ssl option). asyncpg then loads
    # PGSSLROOTCERT and requires the chain to it, without checking the host name.
    assert asyncpg_fetch(front.uri(host="127.0.0.1"), verifying_env(front.right_ca), ssl="require") == 1
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        asyncpg_fetch(front.uri(), verifying_env(front.wrong_ca), ssl="require")


def test_letta_migrations_pg8000_encrypt_but_verify_nothing(front: Front) -> None:
    # alembic's pg8000 connection gets no ssl_context: pg8000 then wraps the socket with CERT_NONE. A wrong CA and a
    # wrong host name both connect (through TLS: the front admits nothing else).
    connection = pg8000.native.Connection(**supervisor.pg_connect_args(front.uri(host="127.0.0.1")), timeout=10)
    assert connection.run("SELECT 1") == [[1]]
    connection.close()
    assert front.server.sessions[-1].startswith("tls TLSv1.")


# --- The supervisor's settings -----------------------------------------------------------------------------


def test_without_verify_modes_the_supervisor_changes_nothing() -> None:
    for mode in ("", "require", "prefer", "disable"):
        env = {supervisor.SSL_MODE_VAR: mode} if mode else {}
        assert supervisor.prepare_db_tls(env) is None
        assert supervisor.SSL_ROOT_CERT_VAR not in env
        assert supervisor.db_ssl_context(env) is None


def test_verify_full_without_roots_or_with_no_certificate_is_refused_in_one_line() -> None:
    assert supervisor.prepare_db_tls({supervisor.SSL_MODE_VAR: "verify-full"}) == (
        "PGSSLMODE=verify-full but LETTA_DB_CA_PEM holds no CA roots: refusing to start"
    )
    assert supervisor.prepare_db_tls({supervisor.SSL_MODE_VAR: "verify-ca", supervisor.DB_CA_VAR: "roots"}) == (
        "LETTA_DB_CA_PEM holds no PEM certificate: refusing to start"
    )
    # A file an operator mounted some other way is kept.
    env = {supervisor.SSL_MODE_VAR: "verify-full", supervisor.SSL_ROOT_CERT_VAR: "/etc/ssl/db.pem"}
    assert supervisor.prepare_db_tls(env) is None and env[supervisor.SSL_ROOT_CERT_VAR] == "/etc/ssl/db.pem"
    assert supervisor.db_ssl_context(verifying_env(make_ca("x").cert_pem, "verify-ca")).check_hostname is False


def test_the_rehearsal_leaves_the_tls_variables_out() -> None:
    # Its embedded PostgreSQL has no TLS (docs/network.md); every other task variable reaches the command.
    spec = ContainerSpec(
        command=[],
        environment={supervisor.SSL_MODE_VAR: "verify-full", supervisor.DB_CA_VAR: "roots", "SECURE": "true"},
        secret_names=[],
        template=Path("letta-dev-service.template.json"),
    )
    env = container_env(spec, {}, offline=False)
    assert env["SECURE"] == "true"
    assert supervisor.SSL_MODE_VAR not in env and supervisor.DB_CA_VAR not in env


def test_roots_that_do_not_load_or_a_bad_port_stop_the_start_with_one_line(front: Front) -> None:
    marker = front.folder / "started-garbage"
    garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    done = run_supervisor(front, front.uri(), garbage, marker)
    assert done.returncode == supervisor.EX_CONFIG and not marker.exists()
    assert done.stderr.splitlines() == [
        "letta-supervisor: the CA roots in PGSSLROOTCERT cannot be loaded (SSLError): refusing to start"
    ]
    line, code = supervisor.tls_preflight(
        "postgresql://u:p@localhost:port/db", supervisor.db_ssl_context(verifying_env(front.right_ca))
    )
    assert (line, code) == (
        "database TLS: LETTA_PG_URI has no valid host and port: refusing to start",
        supervisor.EX_CONFIG,
    )
