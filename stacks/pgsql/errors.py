"""The two ways a bootstrap fails."""

from __future__ import annotations


class BootstrapError(Exception):
    """The bootstrap cannot complete.

    The message becomes the CloudFormation FAILED reason: it names what failed and never holds a secret.
    """


class StatementError(Exception):
    """The database (or the Data API in front of it) rejected one statement; the message is its reason.

    Executors raise it for errors that a retry would not fix; ``apply`` adds the file and statement.
    """
