"""The supervisor's masking and checks as plain functions (test_log_filter.py runs the whole command as PID 1)."""

from __future__ import annotations

import signal

from stacks.service.supervisor import MASK, exit_code, mask, pg_uri_problem, secret_values

URI = "postgresql://letta_app:Zq9-xV_r.^,T4kLm8Pw2@db.example.com:5432/letta"


def test_of_a_uri_only_the_password_is_a_secret() -> None:
    assert secret_values(["LETTA_PG_URI"], {"LETTA_PG_URI": URI}) == [b"Zq9-xV_r.^,T4kLm8Pw2"]


def test_secrets_are_the_named_variables_longest_first() -> None:
    environ = {"A": "abcdefgh", "B": "abcdefghijkl", "C": "not-named-here", "SHORT": "abc", "EMPTY": ""}
    assert secret_values(["A", "B", "SHORT", "EMPTY", "UNSET"], environ) == [b"abcdefghijkl", b"abcdefgh"]


def test_each_line_of_a_multi_line_secret_is_masked() -> None:
    key = "-----BEGIN KEY-----\nAbCdEfGh0123\n-----END KEY-----"
    secrets = secret_values(["KEY"], {"KEY": key})
    assert mask(b"key line AbCdEfGh0123\n", secrets) == b"key line ****\n"


def test_masking_works_on_bytes_that_are_not_utf8() -> None:
    secrets = secret_values(["P"], {"P": "s3cr\u00e9tValue"})
    line = b"\xff\xfe s3cr\xc3\xa9tValue \x80\n"
    assert mask(line, secrets) == b"\xff\xfe **** \x80\n"


def test_generic_masks_catch_credentials_that_are_not_named() -> None:
    assert mask(b"url postgresql+pg8000://user:pw123@host/db\n", []) == b"url postgresql+pg8000://user:****@host/db\n"
    assert mask(b"Using secure mode with password: hunter22\n", []) == b"Using secure mode with password: ****\n"
    assert mask(b"no secret here: just text\n", []) == b"no secret here: just text\n"
    assert MASK == b"****"


def test_the_database_uri_must_be_a_non_empty_postgresql_uri() -> None:
    assert pg_uri_problem({"LETTA_PG_URI": URI}) is None
    assert "empty" in (pg_uri_problem({}) or "")
    assert "empty" in (pg_uri_problem({"LETTA_PG_URI": ""}) or "")
    problem = pg_uri_problem({"LETTA_PG_URI": URI.replace("postgresql", "postgres")}) or ""
    assert "not a postgresql:// URI" in problem and "Zq9" not in problem


def test_exit_codes_follow_the_shell_convention() -> None:
    assert exit_code(3 << 8) == 3
    assert exit_code(signal.SIGTERM) == 128 + signal.SIGTERM
