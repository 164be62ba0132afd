"""The bootstrap's SQL files: loading them from disk and fingerprinting them.

The CDK construct loads ``bootstrap_sql/*.sql`` with ``load_sql_files`` and passes names, texts and
``sql_hash`` as custom-resource properties; the handler rebuilds ``SqlFile`` values from them and
checks the hash, so both sides agree on exactly what runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SqlFile:
    """One SQL file: its base name (it sets the order) and its text (placeholders not yet filled in)."""

    name: str
    text: str


def load_sql_files(directory: Path) -> list[SqlFile]:
    """Read every ``*.sql`` file directly in ``directory``, sorted by name (the order they run in)."""
    paths = sorted(path for path in Path(directory).glob("*.sql") if path.is_file())
    return [SqlFile(path.name, path.read_text(encoding="utf-8")) for path in paths]


def sql_hash(files: Iterable[SqlFile]) -> str:
    """SHA-256 (hex) over the names and texts, in order: any change to any file changes it."""
    # JSON framing keeps (name, text) boundaries unambiguous: ("a", "bc") never hashes like ("ab", "c").
    payload = json.dumps([[f.name, f.text] for f in files], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def files_from_properties(items: Sequence[object]) -> list[SqlFile]:
    """Rebuild ``SqlFile`` values from the ``SqlFiles`` property (``[{"name": ..., "sql": ...}]``), sorted.

    Raises ValueError when an item is malformed, a name is not a ``.sql`` base name, or repeats.
    """
    files: list[SqlFile] = []
    for position, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(key), str) for key in ("name", "sql")):
            raise ValueError(f"SqlFiles[{position}] is not an object with string 'name' and 'sql'")
        name = item["name"]
        if not name.endswith(".sql") or "/" in name or "\\" in name:
            raise ValueError(f"SqlFiles[{position}] has name {name!r}; expected a base name ending in .sql")
        files.append(SqlFile(name, item["sql"]))
    names = [f.name for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"SqlFiles names repeat: {', '.join(duplicates)}")
    return sorted(files, key=lambda f: f.name)
