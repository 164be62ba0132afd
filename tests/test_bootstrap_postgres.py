"""The bootstrap against a real PostgreSQL with pgvector (16 and 18), through the psycopg executor."""

from __future__ import annotations

import base64

import psycopg
import pytest
from psycopg import errors as pg_errors

from scripts.embedded_postgres import EmbeddedPostgres
from stacks.pgsql.bootstrap import apply
from stacks.pgsql.connection_string import build_uri
from stacks.pgsql.errors import BootstrapError
from stacks.pgsql.psycopg_executor import PsycopgExecutor
from stacks.pgsql.scram import scram_sha256_verifier
from stacks.pgsql.sql_files import SqlFile
from tests.postgres_server import generate_password, unique_role

PGVECTOR = "0.8.5"


def run_apply(pg: EmbeddedPostgres, database: str, role: str, password: str, files: list[SqlFile]) -> str:
    with PsycopgExecutor(pg.dsn(database)) as executor:
        return apply(executor, files, app_role=role, database=database, app_password=password)


def app_uri(pg: EmbeddedPostgres, database: str, role: str, password: str) -> str:
    return build_uri(user=role, password=password, host="127.0.0.1", port=pg.port, database=database)


def superuser_query(pg: EmbeddedPostgres, database: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:
    with psycopg.connect(pg.dsn(database)) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def test_apply_twice_gives_the_same_version_without_error(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
) -> None:
    first = run_apply(embedded_postgres, fresh_database, app_role, app_password, sql_files)
    second = run_apply(embedded_postgres, fresh_database, app_role, app_password, sql_files)
    assert first == second == PGVECTOR
    installed = superuser_query(
        embedded_postgres, fresh_database, "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
    )
    assert installed == [(PGVECTOR,)]
    # The second run reset the password with a new salt; the same password still logs in.
    with psycopg.connect(app_uri(embedded_postgres, fresh_database, app_role, app_password)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (app_role,)


def test_a_changed_file_set_is_applied_again(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
) -> None:
    run_apply(embedded_postgres, fresh_database, app_role, app_password, sql_files)
    extra = SqlFile("003_marker.sql", "CREATE TABLE IF NOT EXISTS bootstrap_marker (applied boolean);")
    run_apply(embedded_postgres, fresh_database, app_role, app_password, [*sql_files, extra])
    found = superuser_query(embedded_postgres, fresh_database, "SELECT to_regclass('public.bootstrap_marker')::text")
    assert found == [("bootstrap_marker",)]


def test_app_role_logs_in_through_the_generated_uri_and_uses_vectors(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
) -> None:
    run_apply(embedded_postgres, fresh_database, app_role, app_password, sql_files)
    with psycopg.connect(app_uri(embedded_postgres, fresh_database, app_role, app_password), autocommit=True) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            app_role,
            fresh_database,
        )
        conn.execute("CREATE TABLE passages (id int PRIMARY KEY, embedding vector(3))")
        conn.execute("INSERT INTO passages VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]'), (4, '[0,0,1]')")
        conn.execute("CREATE INDEX ON passages USING hnsw (embedding vector_l2_ops)")
        nearest = conn.execute("SELECT id FROM passages ORDER BY embedding <-> '[1,0,0]' LIMIT 3").fetchall()
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'passages'").fetchone()
    assert nearest == [(1,), (3,), (2,)]
    assert owner == (app_role,)


def test_a_wrong_password_is_refused(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
) -> None:
    run_apply(embedded_postgres, fresh_database, app_role, app_password, sql_files)
    wrong = app_uri(embedded_postgres, fresh_database, app_role, generate_password())
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_app_role_has_no_elevated_attributes_and_cannot_create_roles_or_databases(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
) -> None:
    run_apply(embedded_postgres, fresh_database, app_role, app_password, sql_files)
    attributes = superuser_query(
        embedded_postgres,
        fresh_database,
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls"
        " FROM pg_roles WHERE rolname = %s",
        (app_role,),
    )
    assert attributes == [(False, False, False, True, False, False)]
    with psycopg.connect(app_uri(embedded_postgres, fresh_database, app_role, app_password), autocommit=True) as conn:
        with pytest.raises(pg_errors.InsufficientPrivilege, match="permission denied to create role"):
            conn.execute(f"CREATE ROLE {unique_role('intruder')}")
        with pytest.raises(pg_errors.InsufficientPrivilege, match="permission denied to create database"):
            conn.execute("CREATE DATABASE intruder_db")


def test_password_is_stored_as_our_verifier_and_matches_postgres_own_computation(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
) -> None:
    run_apply(embedded_postgres, fresh_database, app_role, app_password, sql_files)
    query = "SELECT rolpassword FROM pg_authid WHERE rolname = %s"
    (stored,) = superuser_query(embedded_postgres, fresh_database, query, (app_role,))[0]
    assert stored.startswith("SCRAM-SHA-256$4096:")
    assert app_password not in stored
    # Let PostgreSQL hash a password itself, then recompute it with its salt: byte-for-byte the same.
    probe = unique_role("probe")
    with psycopg.connect(embedded_postgres.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {probe} LOGIN PASSWORD '{app_password}'")  # test-only literal
        (server_made,) = conn.execute(query, (probe,)).fetchone() or ("",)
    salt_b64 = server_made.split("$")[1].split(":")[1]
    assert scram_sha256_verifier(app_password, salt=base64.b64decode(salt_b64)) == server_made


def test_a_broken_file_stops_the_bootstrap_with_the_server_message(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
) -> None:
    first, second = sql_files
    broken = SqlFile("001b_broken.sql", "SELECT 1;\nCREATE TABLE broken (;\n")
    with pytest.raises(BootstrapError) as error:
        run_apply(embedded_postgres, fresh_database, app_role, app_password, [first, broken, second])
    message = str(error.value)
    assert message.startswith("001b_broken.sql statement 2/2 failed: ERROR: syntax error")
    assert "(SQLSTATE 42601)" in message
    assert app_password not in message
    # The file after the broken one never ran: its role does not exist.
    assert (
        superuser_query(embedded_postgres, fresh_database, "SELECT 1 FROM pg_roles WHERE rolname = %s", (app_role,))
        == []
    )


def test_an_existing_privileged_role_is_refused_and_keeps_its_password(
    embedded_postgres: EmbeddedPostgres, fresh_database: str, app_password: str, sql_files: list[SqlFile]
) -> None:
    role = unique_role("admin_like")
    with psycopg.connect(embedded_postgres.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN CREATEDB")
    with pytest.raises(BootstrapError, match=f"role '{role}' already exists with CREATEDB; refusing"):
        run_apply(embedded_postgres, fresh_database, role, app_password, sql_files)
    query = "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = %s"
    assert superuser_query(embedded_postgres, fresh_database, query, (role,)) == [(True,)]


def test_the_master_user_as_app_role_is_refused(
    embedded_postgres: EmbeddedPostgres, fresh_database: str, app_password: str, sql_files: list[SqlFile]
) -> None:
    with pytest.raises(BootstrapError, match="is the role running the bootstrap"):
        run_apply(embedded_postgres, fresh_database, "postgres", app_password, sql_files)
    # The superuser's password did not change.
    assert superuser_query(embedded_postgres, fresh_database, "SELECT 1") == [(1,)]


def test_an_aurora_like_master_without_superuser_can_run_every_file(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    sql_files: list[SqlFile],
) -> None:
    """Aurora's master user is no superuser: CREATEROLE, CREATEDB, owner of the database, rds_superuser.

    Only CREATE EXTENSION needs more here (rds_superuser may create vector on Aurora), so the extension is
    created beforehand; every other statement then runs as a plain CREATEROLE owner of the database.
    """
    master, master_password = unique_role("master"), generate_password()
    with psycopg.connect(embedded_postgres.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {master} LOGIN CREATEROLE CREATEDB PASSWORD '{master_password}'")
        conn.execute(f'ALTER DATABASE "{fresh_database}" OWNER TO {master}')
        conn.execute("CREATE EXTENSION vector")
    master_dsn = embedded_postgres.dsn(fresh_database, user=master, password=master_password)
    for _ in range(2):
        with PsycopgExecutor(master_dsn) as executor:
            version = apply(executor, sql_files, app_role=app_role, database=fresh_database, app_password=app_password)
        assert version == PGVECTOR
    with psycopg.connect(app_uri(embedded_postgres, fresh_database, app_role, app_password), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (embedding vector(2))")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
