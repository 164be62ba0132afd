"""The ``LETTA_PG_URI`` the Letta image reads: ``postgresql://USER:PASSWORD@HOST:PORT/DB``.

Letta breaks on a password that needs URL-encoding (``@ / ? # [ ] %`` break its URI parsing, a
percent-encoded password breaks alembic, and it rewrites ``ssl=`` anywhere in the URI), so this
module validates instead of encoding: a password outside ``ALLOWED_PASSWORD_CHARS`` is refused.
No ``?sslmode=`` either: Letta's migration driver crashes on it, and both drivers negotiate TLS anyway.
"""

from __future__ import annotations

import re
import string

from .sql_text import validate_identifier

ALLOWED_PASSWORD_CHARS = string.ascii_letters + string.digits + "-_.^,"
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*$")


def validate_password(password: str) -> str:
    """Return ``password`` if every character is in ``ALLOWED_PASSWORD_CHARS``.

    Raises ValueError naming the offending characters (never the password itself).
    """
    if not isinstance(password, str) or not password:
        raise ValueError("the password is empty")
    offending = sorted(set(password) - set(ALLOWED_PASSWORD_CHARS))
    if offending:
        raise ValueError(
            f"the password contains {len(offending)} character(s) Letta's connection string cannot take: "
            f"{' '.join(ascii(c) for c in offending)}; allowed are ASCII letters, digits and -_.^,"
        )
    return password


def build_uri(*, user: str, password: str, host: str, port: int | str, database: str) -> str:
    """``postgresql://user:password@host:port/database``, every part validated, nothing encoded.

    ``port`` may be a string (CloudFormation passes every property as one). Raises ValueError.
    """
    validate_identifier(user, what="user")
    validate_identifier(database, what="database")
    validate_password(password)
    if not isinstance(host, str) or len(host) > 253 or not _HOST.fullmatch(host):
        raise ValueError(f"host {host!r} is not a DNS name or IPv4 address")
    port_text = str(port)
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port {port!r} is not a number from 1 to 65535")
    return f"postgresql://{user}:{password}@{host}:{int(port_text)}/{database}"


def redact(uri: str) -> str:
    """The URI with its password replaced by ``****``, for logs and messages."""
    scheme, separator, rest = uri.partition("://")
    at = rest.rfind("@")
    if not separator or at == -1:
        return uri
    user, colon, _password = rest[:at].partition(":")
    return f"{scheme}://{user}{':****' if colon else ''}@{rest[at + 1 :]}"
