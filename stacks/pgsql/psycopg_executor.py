"""An ``Executor`` over a psycopg connection: the rehearsal's, the scripts' and the tests' path. The handler
never imports it, so the Lambda's zip leaves it out."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import psycopg

from stacks.pgsql.errors import StatementError


class PsycopgExecutor:
    """Runs statements on one autocommit connection, like the Data API does without a transaction."""

    def __init__(self, conninfo: str, *, connect_timeout: int = 10) -> None:
        """Connect to ``conninfo`` (a URI or key=value string)."""
        self._conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout)

    def execute(self, sql: str) -> list[tuple]:
        """Run one statement; return its rows as tuples ([] when it returns none)."""
        try:
            with self._conn.cursor() as cursor:
                # No parameters, so psycopg sends the text as it is (a `%` in it stays a `%`).
                cursor.execute(sql)  # type: ignore[arg-type]  # psycopg types want a LiteralString
                return [tuple(row) for row in cursor.fetchall()] if cursor.description is not None else []
        except psycopg.Error as exc:
            # Primary message and SQLSTATE only: str(exc) can quote the statement, which may hold a verifier.
            diag = exc.diag
            raise StatementError(
                f"{diag.severity or 'ERROR'}: {diag.message_primary or exc} (SQLSTATE {exc.sqlstate})"
            ) from None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
