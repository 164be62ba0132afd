"""LETTA_PG_URI: exactly ``postgresql://USER:PASSWORD@HOST:PORT/DB``, parsed back unchanged by real parsers.

Letta parses the URI with ``urllib.parse`` and SQLAlchemy's ``make_url``. SQLAlchemy is not a dependency
of this project, so the second parser here is libpq's own URI grammar through
``psycopg.conninfo.conninfo_to_dict``: a URI both read back exactly has nothing left to encode.
"""

from __future__ import annotations

import string
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from stacks.pgsql.connection_string import (
    ALLOWED_PASSWORD_CHARS,
    build_uri,
    redact,
    validate_password,
)

IDENTIFIERS = st.from_regex(r"[a-z_][a-z0-9_]{0,62}", fullmatch=True)
PASSWORDS = st.text(alphabet=ALLOWED_PASSWORD_CHARS, min_size=1, max_size=64)
HOSTS = st.sampled_from(
    [
        "letta-data-cluster.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
        "127.0.0.1",
        "localhost",
        "db",
    ]
)
PORTS = st.integers(min_value=1, max_value=65535)
DISALLOWED = st.characters(exclude_characters=ALLOWED_PASSWORD_CHARS, codec="utf-8")


def test_allowed_alphabet_is_letters_digits_and_five_marks() -> None:
    assert set(ALLOWED_PASSWORD_CHARS) == set(string.ascii_letters + string.digits + "-_.^,")
    for forbidden in "@/?#[]%=:& +~'\"\\":
        assert forbidden not in ALLOWED_PASSWORD_CHARS


def test_exact_form() -> None:
    uri = build_uri(user="letta_app", password="Ab3-_.^,", host="db.example.com", port="5432", database="letta")
    assert uri == "postgresql://letta_app:Ab3-_.^,@db.example.com:5432/letta"


@given(user=IDENTIFIERS, password=PASSWORDS, host=HOSTS, port=PORTS, database=IDENTIFIERS)
def test_uri_parses_back_exactly(user: str, password: str, host: str, port: int, database: str) -> None:
    uri = build_uri(user=user, password=password, host=host, port=port, database=database)
    assert uri == f"postgresql://{user}:{password}@{host}:{port}/{database}"
    # No query string (pg8000 crashes on sslmode), nothing percent-encoded, no `ssl=` for Letta to rewrite.
    assert "?" not in uri and "%" not in uri and "=" not in uri

    parts = urlsplit(uri)
    assert (parts.scheme, parts.username, parts.password) == ("postgresql", user, password)
    assert (parts.hostname, parts.port, parts.path) == (host, port, f"/{database}")
    assert parts.query == "" and parts.fragment == ""

    libpq = conninfo_to_dict(uri)
    assert libpq == {"user": user, "password": password, "host": host, "port": str(port), "dbname": database}


@given(prefix=st.text(ALLOWED_PASSWORD_CHARS, min_size=8, max_size=20), bad=DISALLOWED, suffix=PASSWORDS)
def test_disallowed_characters_are_named_but_the_password_is_not(prefix: str, bad: str, suffix: str) -> None:
    password = prefix + bad + suffix
    with pytest.raises(ValueError) as error:
        validate_password(password)
    message = str(error.value)
    assert ascii(bad) in message
    assert password not in message
    with pytest.raises(ValueError):
        build_uri(user="letta", password=password, host="db", port=5432, database="letta")


@pytest.mark.parametrize("password", ["p@ss", "p/ss", "p?ss", "p#ss", "p[ss]", "p%41ss", "ssl=1", "p ss", "pâss"])
def test_characters_that_break_letta_are_rejected(password: str) -> None:
    with pytest.raises(ValueError, match="cannot take"):
        validate_password(password)


def test_empty_password_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        validate_password("")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("host", "db@evil", "host"),
        ("host", "db/x", "host"),
        ("host", "db:5432", "host"),
        ("host", "", "host"),
        ("host", "a..b", "host"),
        ("host", "-db", "host"),
        ("port", 0, "port"),
        ("port", 65536, "port"),
        ("port", "54x", "port"),
        ("port", "5432 ", "port"),
        ("port", "-1", "port"),
        ("user", "Letta", "user"),
        ("user", "letta@x", "user"),
        ("database", "letta/x", "database"),
        ("database", "letta?sslmode=require", "database"),
    ],
)
def test_build_uri_rejects_bad_parts(field: str, value: object, message: str) -> None:
    parts: dict[str, object] = {
        "user": "letta",
        "password": "pw",
        "host": "db",
        "port": 5432,
        "database": "letta",
    }
    parts[field] = value
    with pytest.raises(ValueError, match=message):
        build_uri(**parts)  # type: ignore[arg-type]


@given(user=IDENTIFIERS, password=PASSWORDS, host=HOSTS, port=PORTS, database=IDENTIFIERS)
def test_redact_hides_only_the_password(user: str, password: str, host: str, port: int, database: str) -> None:
    uri = build_uri(user=user, password=password, host=host, port=port, database=database)
    shown = redact(uri)
    assert shown == f"postgresql://{user}:****@{host}:{port}/{database}"


def test_redact_leaves_a_uri_without_password_alone() -> None:
    assert redact("postgresql://letta@db:5432/letta") == "postgresql://letta@db:5432/letta"
    assert redact("not a uri") == "not a uri"
