"""What every operator script shares on its command line: argument types that refuse bad input at once,
the one exception that carries an exit code, and the way both reach the user: one line on stderr.

argparse itself prints its usage and then the error; `Parser` prints only `prog: error: <message>` (the
usage stays in `--help`), so an argument error is one line with exit code 2, like any other failure.
"""

from __future__ import annotations

import argparse
import math
import re
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
