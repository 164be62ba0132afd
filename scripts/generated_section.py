"""The one way a docs page holds text generated from the code: between a start and an end marker, rewritten by the
script that owns it and checked for staleness by a test (the config table, the idle cost, the deploy path)."""

from __future__ import annotations

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
