"""The export's files on disk: names, the manifest, checksums, and the checks an import makes before it
touches anything. Documented field by field in docs/agent-export-format.md; change both together, and
raise FORMAT_VERSION whenever a reader of version N could misread the new files."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from scripts.operator_cli import OperatorError

FORMAT = "letta-aurora-agent-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
AGENT_FILE = "agent.af"  # Letta's own export, byte for byte as the server returned it
AGENT_RECORD = "agent.json"  # what the database adds to the .af: ids, in-context order, the archive
PASSAGES = "passages.jsonl"
MESSAGES = "messages.jsonl"
SECRETS = "secrets.json"  # only with --include-secrets; mode 0600
AGENT_FILES = (AGENT_FILE, AGENT_RECORD, PASSAGES, MESSAGES)

EXIT_BAD_EXPORT = 6  # missing, corrupt, checksum mismatch, or a newer format version


def bad_export(message: str) -> OperatorError:
    return OperatorError(message, EXIT_BAD_EXPORT)


class HashingWriter:
    """A binary file that counts its bytes and their SHA-256 as they are written."""

    def __init__(self, path: Path, *, mode: int = 0o644) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.bytes += len(data)

    def line(self, record: str) -> None:
        """One JSON Lines record (``record`` is already JSON text without a newline)."""
        self.write(record.encode() + b"\n")

    def close(self) -> dict[str, Any]:
        """Close; return the manifest entry ``{"sha256", "bytes"}``."""
        self._file.close()
        return {"sha256": self._hash.hexdigest(), "bytes": self.bytes}


def sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class ExportedAgent:
    """One agent's entry in the manifest."""

    source_id: str
    name: str
    folder: Path
    counts: dict[str, int]
    files: dict[str, dict[str, Any]]
    secrets: bool


def read_manifest(export_dir: Path) -> dict[str, Any]:
    """The manifest, checked for shape and version (one line and exit 6 for anything wrong)."""
    path = export_dir / MANIFEST
    if not export_dir.is_dir():
        raise bad_export(f"no export at {export_dir}: not a folder")
    if not path.is_file():
        raise bad_export(f"no {MANIFEST} in {export_dir}: not an export, or one that did not finish")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise bad_export(f"{path} is corrupt: {type(exc).__name__}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise bad_export(f"{path} is not a {FORMAT} manifest")
    version = manifest.get("format_version")
    if type(version) is not int:
        raise bad_export(f"{path} has no whole-number format_version")
    if version > FORMAT_VERSION:
        raise bad_export(
            f"{export_dir} is format version {version}, newer than this script reads ({FORMAT_VERSION}): "
            "update letta-aurora-cdk"
        )
    agents = manifest.get("agents")
    if not isinstance(agents, list) or not all(isinstance(a, dict) for a in agents):
        raise bad_export(f"{path} lists no agents")
    return manifest


def manifest_agents(export_dir: Path, manifest: dict[str, Any]) -> list[ExportedAgent]:
    """The manifest's agents, every listed file present with the size and SHA-256 the manifest records."""
    result = []
    for entry in manifest["agents"]:
        try:
            agent = ExportedAgent(
                source_id=str(entry["id"]),
                name=str(entry["name"]),
                folder=export_dir / str(entry["folder"]),
                counts={k: int(v) for k, v in entry["counts"].items()},
                files=dict(entry["files"]),
                secrets=bool(entry.get("secrets", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise bad_export(f"{export_dir / MANIFEST}: agent entry without {exc}") from None
        if agent.folder.resolve().parent != (export_dir / "agents").resolve():
            raise bad_export(f"{export_dir / MANIFEST}: agent folder {entry['folder']!r} is outside agents/")
        for name in (*AGENT_FILES, *((SECRETS,) if agent.secrets else ())):
            expected = agent.files.get(name)
            path = agent.folder / name
            if not isinstance(expected, dict):
                raise bad_export(f"{export_dir / MANIFEST}: no checksum for {path.relative_to(export_dir)}")
            if not path.is_file():
                raise bad_export(f"missing file {path.relative_to(export_dir)} (listed in the manifest)")
            digest, size = sha256_of(path)
            if digest != expected.get("sha256") or size != expected.get("bytes"):
                raise bad_export(
                    f"checksum mismatch: {path.relative_to(export_dir)} has sha256 {digest[:16]}... ({size} bytes), "
                    f"the manifest says {str(expected.get('sha256'))[:16]}... ({expected.get('bytes')} bytes)"
                )
        result.append(agent)
    return result


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON Lines file (checksummed before, so a parse error means a writer bug)."""
    records = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                records.append(json.loads(raw))
            except ValueError as exc:
                raise bad_export(f"{path}: line {number} is not JSON: {exc}") from None
    return records
