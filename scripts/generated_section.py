"""The one way a docs page holds text generated from the code: between a start and an end marker, rewritten by the
script that owns it and checked for staleness by a test (the config table, the idle cost, the deploy path)."""

from __future__ import annotations

import sys
from pathlib import Path


class MissingMarkers(SystemExit):
    """The page lacks its markers: one line, exit 1."""


def replace_section(page: str, start: str, end: str, body: str, *, where: Path) -> str:
    """`page` with what stands between `start` and `end` replaced by `body`."""
    head, found_start, rest = page.partition(start)
    _, found_end, tail = rest.partition(end)
    if not found_start or not found_end:
        raise MissingMarkers(f"{where.name} lacks the markers {start!r} ... {end!r}")
    return f"{head}{start}\n{body}\n{end}{tail}"


def write_or_check(path: Path, wanted: str, *, check: bool, stale: str) -> int:
    """Rewrite `path` as `wanted` (0); with `check`, only compare: 1 and the `stale` line on stderr if it differs."""
    if not check:
        path.write_text(wanted)
        return 0
    if path.read_text() != wanted:
        print(stale, file=sys.stderr)
        return 1
    return 0
