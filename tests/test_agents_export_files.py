"""`agents.py import` refuses a bad export with one line and exit 6 before it touches any environment: a missing
folder, a missing or corrupt manifest, a file whose checksum differs, a newer format version. No server needed:
the export is written here with the same helpers the exporter uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import agents
from scripts.agent_export import layout
from scripts.agent_export.layout import HashingWriter

AGENT = "agent-00000000-0000-4000-8000-000000000001"


def write_export(root: Path) -> Path:
    """A well-formed export of one agent (contents minimal, checksums real)."""
    folder = root / "agents" / AGENT
    folder.mkdir(parents=True)
    contents = {
        layout.AGENT_FILE: b'{"agents": [{"id": "agent-0", "name": "a"}]}',
        layout.AGENT_RECORD: json.dumps(
            {"id": AGENT, "name": "a", "in_context_message_ids": [], "archive": None}
        ).encode(),
        layout.PASSAGES: b"",
        layout.MESSAGES: b"",
    }
    files = {}
    for name, data in contents.items():
        writer = HashingWriter(folder / name)
        writer.write(data)
        files[name] = writer.close()
    manifest = {
        "format": layout.FORMAT,
        "format_version": layout.FORMAT_VERSION,
        "created_at": "2026-12-07T00:00:00Z",
        "source": {"environment": "test", "letta_version": "0.16.8"},
        "agents": [{"id": AGENT, "name": "a", "folder": f"agents/{AGENT}", "files": files, "secrets": False,
                    "counts": {"passages": 0, "messages": 0, "in_context_messages": 0}}],
    }  # fmt: skip
    (root / layout.MANIFEST).write_text(json.dumps(manifest))
    return root


def run_import(export_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    # A rehearsal state folder that does not exist: reaching it would be exit 3, so 6 proves the early refusal.
    code = agents.main(["import", "--rehearsal", "--state-dir", str(tmp_path / "none"), "--from", str(export_dir)])
    return code, capsys.readouterr().err.splitlines()


def test_a_good_export_passes_the_checks_and_then_needs_an_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_import(write_export(tmp_path / "export"), tmp_path, capsys)
    assert code == 3 and len(err) == 1 and "no rehearsal in" in err[0]


def test_a_missing_export_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_import(tmp_path / "nowhere", tmp_path, capsys)
    assert code == 6
    assert err == [f"agents.py import: error: no export at {tmp_path / 'nowhere'}: not a folder"]


def test_a_missing_or_corrupt_manifest_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = write_export(tmp_path / "export")
    (export / layout.MANIFEST).write_text('{"format": "letta-aurora-agent-export", "format_ver')
    code, err = run_import(export, tmp_path, capsys)
    assert (
        code == 6 and len(err) == 1 and err[0].startswith(f"agents.py import: error: {export}/manifest.json is corrupt")
    )
    (export / layout.MANIFEST).unlink()
    code, err = run_import(export, tmp_path, capsys)
    assert code == 6
    assert err == [f"agents.py import: error: no manifest.json in {export}: not an export, or one that did not finish"]


def test_a_changed_file_fails_its_checksum(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = write_export(tmp_path / "export")
    (export / "agents" / AGENT / layout.PASSAGES).write_text('{"id": "passage-1", "text": "slipped in"}\n')
    code, err = run_import(export, tmp_path, capsys)
    assert code == 6 and len(err) == 1
    assert err[0].startswith(f"agents.py import: error: checksum mismatch: agents/{AGENT}/passages.jsonl has sha256")
    (export / "agents" / AGENT / layout.PASSAGES).unlink()
    code, err = run_import(export, tmp_path, capsys)
    assert code == 6
    assert err == [f"agents.py import: error: missing file agents/{AGENT}/passages.jsonl (listed in the manifest)"]


def test_a_newer_format_version_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = write_export(tmp_path / "export")
    manifest = json.loads((export / layout.MANIFEST).read_text())
    manifest["format_version"] = layout.FORMAT_VERSION + 1
    (export / layout.MANIFEST).write_text(json.dumps(manifest))
    code, err = run_import(export, tmp_path, capsys)
    assert code == 6
    assert err == [
        f"agents.py import: error: {export} is format version {layout.FORMAT_VERSION + 1}, newer than this script "
        f"reads ({layout.FORMAT_VERSION}): update letta-aurora-cdk"
    ]


def test_an_export_refuses_a_folder_that_is_not_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scripts.agent_export import transfer

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(agents.OperatorError, match="already exists and is not an empty folder"):
        transfer.export_agents(None, tmp_path / "out", None)  # type: ignore[arg-type]  # refused before use


def test_secrets_file_is_private(tmp_path: Path) -> None:
    writer = HashingWriter(tmp_path / layout.SECRETS, mode=0o600)
    writer.write(b"{}")
    writer.close()
    assert (tmp_path / layout.SECRETS).stat().st_mode & 0o077 == 0
