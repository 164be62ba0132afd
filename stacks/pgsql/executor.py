"""What the bootstrap needs from a database connection: run one statement, get its rows."""

from __future__ import annotations

from typing import Protocol


class Executor(Protocol):
    """Runs one SQL statement at a time (the RDS Data API takes exactly one per call).

    ``execute`` returns the result rows as tuples (an empty list for statements without a result)
    and raises ``StatementError`` when the database rejects the statement.
    """

    def execute(self, sql: str) -> list[tuple]:
        """Run ``sql`` (one statement, autocommitted) and return its rows."""
        ...
