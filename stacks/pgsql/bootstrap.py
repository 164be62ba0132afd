"""Apply the SQL files, give the app role its password, report the pgvector version.

The same code runs in the Lambda (through the RDS Data API) and locally (through psycopg); only the
``Executor`` differs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .connection_string import validate_password
from .errors import BootstrapError, StatementError
from .executor import Executor
from .scram import scram_sha256_verifier
from .sql_files import SqlFile
from .sql_text import quote_ident, quote_literal, render, split_statements, validate_identifier

LOGGER = logging.getLogger("pgvector_bootstrap")

VERSION_QUERY = "SELECT extversion FROM pg_extension WHERE extname = 'vector'"


@dataclass(frozen=True)
class Statement:
    """One rendered statement and where it comes from (file, 1-based index, statements in the file)."""

    file: str
    index: int
    count: int
    sql: str


def plan(files: Sequence[SqlFile], *, app_role: str, database: str) -> list[Statement]:
    """Render and split every file up front, so a malformed file fails before anything runs."""
    statements: list[Statement] = []
    for file in files:
        try:
            parts = split_statements(render(file.text, app_role=app_role, database=database))
        except ValueError as exc:
            raise BootstrapError(f"{file.name}: {exc}") from None
        statements += [Statement(file.name, i, len(parts), sql) for i, sql in enumerate(parts, start=1)]
    return statements


def apply(
    executor: Executor,
    files: Sequence[SqlFile],
    *,
    app_role: str,
    database: str,
    app_password: str,
    log: logging.Logger = LOGGER,
) -> str:
    """Run every statement of every file in order, set the app role's password, return pgvector's version.

    A statement the database rejects stops everything with a ``BootstrapError`` naming the file and
    carrying the database's message; later statements do not run. The password is set as a
    SCRAM-SHA-256 verifier computed here, and only after checking that the app role is an ordinary
    role (not the caller, not privileged): a misconfigured role name must never reset an admin's password.
    """
    try:
        validate_identifier(app_role, what="app role")
        validate_identifier(database, what="database")
        validate_password(app_password)
    except ValueError as exc:
        raise BootstrapError(str(exc)) from None
    statements = plan(files, app_role=app_role, database=database)
    started = time.monotonic()
    for statement in statements:
        where = f"{statement.file} statement {statement.index}/{statement.count}"
        log.info("running %s", where)
        began = time.monotonic()
        try:
            executor.execute(statement.sql)
        except (StatementError, BootstrapError) as exc:
            raise BootstrapError(f"{where} failed: {exc}") from exc
        log.info("%s done in %d ms", where, _ms_since(began))
    _check_app_role(executor, app_role)
    _set_password(executor, app_role, app_password, log)
    rows = _run(executor, VERSION_QUERY, "reading the pgvector version")
    if not rows or rows[0][0] is None:
        raise BootstrapError("the vector extension is not installed after the bootstrap (no file created it)")
    version = str(rows[0][0])
    log.info(
        "bootstrap done: %d statements from %d files in %d ms, pgvector %s",
        len(statements),
        len(files),
        _ms_since(started),
        version,
    )
    return version


def rename_role(executor: Executor, old: str, new: str, log: logging.Logger = LOGGER) -> bool:
    """Renames the app role `old` to `new` before the files run, so the renamed role keeps owning Letta's tables.

    Returns whether it renamed. Nothing to do when `old` is gone (the files then create `new`); refused when
    both exist, since either choice would leave Letta's tables with a role it no longer logs in as. The SCRAM
    verifier survives a rename (only MD5 passwords are salted with the name), and the bootstrap sets the
    password again afterwards anyway.
    """
    try:
        validate_identifier(old, what="previous app role")
        validate_identifier(new, what="app role")
    except ValueError as exc:
        raise BootstrapError(str(exc)) from None
    rows = _run(
        executor,
        "SELECT CAST(rolname AS text) FROM pg_catalog.pg_roles"
        f" WHERE rolname IN ({quote_literal(old)}, {quote_literal(new)})",
        "looking up the app roles",
    )
    found = {row[0] for row in rows}
    if old not in found:
        return False
    if new in found:
        raise BootstrapError(
            f"cannot rename the app role {old!r} to {new!r}: both roles exist. Drop the unused one, or set "
            f"app_db_user back to {old!r}"
        )
    _check_app_role(executor, old)
    _run(executor, f"ALTER ROLE {quote_ident(old)} RENAME TO {quote_ident(new)}", f"renaming role {old!r}")
    log.info("app role %s renamed to %s: it keeps its tables", old, new)
    return True


def _check_app_role(executor: Executor, app_role: str) -> None:
    rows = _run(
        executor,
        "SELECT CAST(current_user AS text), r.rolsuper, r.rolcreaterole, r.rolcreatedb,"
        " EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid"
        " WHERE m.member = r.oid AND g.rolname = 'rds_superuser')"
        f" FROM pg_catalog.pg_roles r WHERE r.rolname = {quote_literal(app_role)}",
        "checking the app role",
    )
    if not rows:
        raise BootstrapError(f"role {app_role!r} does not exist after the SQL files ran (no file created it)")
    current_user, is_super, can_create_role, can_create_db, is_rds_superuser = rows[0]
    if current_user == app_role:
        raise BootstrapError(f"the app role {app_role!r} is the role running the bootstrap; rename it")
    elevated = [
        label
        for label, flag in (
            ("SUPERUSER", is_super),
            ("CREATEROLE", can_create_role),
            ("CREATEDB", can_create_db),
            ("member of rds_superuser", is_rds_superuser),
        )
        if flag
    ]
    if elevated:
        raise BootstrapError(
            f"role {app_role!r} already exists with {', '.join(elevated)}; refusing to use it as the app role"
        )


def _set_password(executor: Executor, app_role: str, password: str, log: logging.Logger) -> None:
    verifier = scram_sha256_verifier(password)
    began = time.monotonic()
    try:
        executor.execute(f"ALTER ROLE {quote_ident(app_role)} WITH LOGIN PASSWORD {quote_literal(verifier)}")
    except (StatementError, BootstrapError) as exc:
        # A server message may quote the statement near an error: keep the verifier out of the reason.
        reason = str(exc).replace(verifier, "****").replace(password, "****")
        raise BootstrapError(f"setting the password of role {app_role!r} failed: {reason}") from None
    log.info("password of role %s set (SCRAM-SHA-256 verifier) in %d ms", app_role, _ms_since(began))


def _run(executor: Executor, sql: str, what: str) -> list[tuple]:
    try:
        return executor.execute(sql)
    except (StatementError, BootstrapError) as exc:
        raise BootstrapError(f"{what} failed: {exc}") from exc


def _ms_since(began: float) -> int:
    return round((time.monotonic() - began) * 1000)
