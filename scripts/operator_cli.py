"""What every operator script shares on its command line: argument types that refuse bad input at once,
the one exception that carries an exit code, and the way both reach the user: one line on stderr.

argparse itself prints its usage and then the error; `Parser` prints only `prog: error: <message>` (the
usage stays in `--help`), so an argument error is one line with exit code 2, like any other failure.
"""

from __future__ import annotations

import argparse
import math
import re
import stat
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from stacks.letta_contract import PORT

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # argparse's own code for a bad command line
# What botocore (pinned in requirements.txt) reads for the region: AWS_DEFAULT_REGION, or `region` in the
# profile AWS_PROFILE selects (~/.aws/config). It does not read AWS_REGION (botocore/configprovider.py).
REGION_HINT = "pass --region, or set AWS_DEFAULT_REGION or region in your AWS profile (AWS_PROFILE)"
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")
# Where a database password goes instead of the command line: libpq (psycopg's driver) reads PGPASSWORD, then the
# password file (~/.pgpass, or the file PGPASSFILE names), which it ignores unless group and others cannot read it.
PASSWORD_HINT = "put it in PGPASSWORD, or in ~/.pgpass (or the file PGPASSFILE names, mode 0600), where libpq reads it"


class OperatorError(Exception):
    """A failure to report as one line on stderr, with the exit code that names its kind."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(one_line(message))
        self.exit_code = exit_code


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (`prog: error: ...`, exit 2), subcommands included."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)}\n")


def one_line(text: str) -> str:
    """`text` with every run of whitespace, newlines included, as one space."""
    return " ".join(str(text).split())


def fail(prog: str, error: OperatorError) -> int:
    """Print `error` as the script's one stderr line and return its exit code."""
    print(f"{prog}: error: {error}", file=sys.stderr)
    return error.exit_code


# --- argparse types: each raises ArgumentTypeError with what is allowed ------------------------------------


def http_url(value: str) -> str:
    """An http:// or https:// URL with a host (and, if given, a valid port)."""
    problem = f"{value!r} is not an http(s) URL such as http://127.0.0.1:{PORT}"
    if value != value.strip() or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError(problem)
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError when out of range or not a number
    except ValueError:
        raise argparse.ArgumentTypeError(problem) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise argparse.ArgumentTypeError(problem)
    return value


def seconds(maximum: float) -> Callable[[str], float]:
    """A duration in seconds: finite, more than 0, at most `maximum` (`nan`, `inf`, 0 and negatives refused)."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and 0 < number <= maximum):
            allowed = f"more than 0 and at most {maximum:g}"
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds, {allowed}")
        return number

    return parse


def port(value: str) -> int:
    """A TCP port, 1-65535."""
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number from 1 to 65535")
    return int(value)


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An integer from `low` to `high`."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from {low} to {high}")
        return number

    return parse


def region(value: str) -> str:
    """An AWS region name such as us-east-1 (its shape; AWS says whether it exists)."""
    if not _REGION.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS region name such as us-east-1")
    return value


def whole_numbers(low: int, high: int, *, empty: bool = False) -> Callable[[str], list[int]]:
    """A comma-separated list of integers, each from `low` to `high`; '' is the empty list only with `empty`."""
    number = whole_number(low, high)

    def parse(value: str) -> list[int]:
        if empty and not value.strip():
            return []
        try:
            return [number(item) for item in value.split(",")]
        except argparse.ArgumentTypeError:
            allowed = f"whole numbers from {low} to {high}" + (", or '' for none" if empty else "")
            raise argparse.ArgumentTypeError(f"{value!r} is not a comma-separated list of {allowed}") from None

    return parse


def words(allowed: Collection[str]) -> Callable[[str], list[str]]:
    """A comma-separated list of words out of `allowed`, at least one."""

    def parse(value: str) -> list[str]:
        items = value.split(",")
        if not all(item in allowed for item in items):
            raise argparse.ArgumentTypeError(f"{value!r} is not a comma-separated list of {', '.join(allowed)}")
        return items

    return parse


def existing_folder(value: str) -> Path:
    """A folder that exists."""
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is not an existing folder")
    return path


def output_file(value: str) -> Path:
    """A file to write: not a folder, in a folder that exists (checked before any work, not after it)."""
    path = Path(value)
    if not value or path.is_dir() or not path.absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is not a file path in an existing folder")
    return path


# --- secrets: never taken from the command line, which shell history keeps and `ps` shows every user ---------


def dsn_argument(value: str) -> str:
    """A libpq connection string WITHOUT a password: a postgresql:// URI or a key=value string.

    A password in it (``postgresql://u:PW@h/db``, ``?password=PW``, ``password=PW``) is refused; libpq takes it
    from PGPASSWORD or the password file instead. No error repeats the value: it may hold the password.
    """
    # Imported here: only the scripts that take a DSN need psycopg; the rest of this module stays light.
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(value)  # libpq's own parser: both forms, percent-decoding, ?password= included
    except ProgrammingError:
        raise argparse.ArgumentTypeError(
            "not a PostgreSQL connection string (postgresql://user@host:port/db or 'host=... dbname=...')"
        ) from None
    if params.get("password"):
        raise argparse.ArgumentTypeError(
            f"the connection string holds a password, which shell history and ps keep: leave it out and {PASSWORD_HINT}"
        )
    return value


def secret_file(value: str) -> str:
    """A file only its owner may read (mode 0600 or stricter) holding one secret on one line; returns the secret.

    The errors name the file, never its content.
    """
    path = Path(value)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise OSError
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise argparse.ArgumentTypeError(
                f"{value!r} may be read by group or others (mode {mode:04o}): chmod 600 it first"
            )
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a readable text file") from None
    if not secret or "\n" in secret:
        raise argparse.ArgumentTypeError(f"{value!r} must hold the secret on one line")
    return secret


def refused_secret(instead: str) -> Callable[[str], NoReturn]:
    """The type of a flag kept only to refuse a secret given on the command line, saying what to use ``instead``.

    Without it, argparse would read ``--token X`` as an abbreviation of ``--token-file X``, or list ``X`` among
    the unrecognized arguments: either way the secret would be echoed.
    """

    def parse(_value: str) -> NoReturn:
        raise argparse.ArgumentTypeError(f"no secret on the command line (shell history and ps keep it): {instead}")

    return parse
