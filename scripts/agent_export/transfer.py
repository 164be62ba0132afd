"""Export agents to a folder, and import such a folder into another environment (see docs/agents.md)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from scripts.agent_export import layout, store
from scripts.agent_export.layout import ExportedAgent, HashingWriter, bad_export
from scripts.agent_export.letta_api import LettaApi
from scripts.operator_cli import OperatorError
from stacks.letta_contract import VERSION as LETTA_VERSION
from stacks.pgsql.executor import Executor
from stacks.pgsql.psycopg_executor import PsycopgExecutor

EXIT_EXISTS = 7  # --existing refuse (the default) and the agent was imported before
EXIT_CHECK = 8  # the imported agent does not match the manifest
MARKER = "letta_aurora_import"  # key in the imported agent's metadata: where it came from
EXISTING_CHOICES = ("refuse", "skip", "replace")
Print = Callable[[str], None]


@dataclass(frozen=True)
class Environment:
    """Where agents live: the API and an executor on the same database, and a label for messages."""

    api: LettaApi
    executor: Executor
    label: str


def _bar(total: int, desc: str, quiet: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="row", disable=quiet, file=sys.stderr, leave=False)


# --- Export --------------------------------------------------------------------------------------------


def export_agents(
    env: Environment,
    out_dir: Path,
    agent_ids: Sequence[str] | None,
    *,
    include_secrets: bool = False,
    quiet: bool = False,
    say: Print = print,
) -> dict[str, Any]:
    """Write the agents (all when ``agent_ids`` is None) to ``out_dir``; the manifest last. Returns it."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise OperatorError(f"{out_dir} already exists and is not an empty folder: choose a new one")
    ids = list(agent_ids) if agent_ids else [agent_id for agent_id, _ in store.list_agents(env.executor)]
    rows = [store.agent_row(env.executor, agent_id) for agent_id in ids]  # exit 5 before writing anything
    limits = store.limits_for(env.executor)
    (out_dir / "agents").mkdir(parents=True, exist_ok=True)
    entries = []
    for row in rows:
        folder = out_dir / "agents" / row["id"]
        folder.mkdir()
        files: dict[str, dict[str, Any]] = {}
        writer = HashingWriter(folder / layout.AGENT_FILE)
        writer.write(env.api.export_agent(row["id"]))
        files[layout.AGENT_FILE] = writer.close()

        archive = store.archive_of(env.executor, row["id"])
        passages = store.passage_count(env.executor, archive["id"]) if archive else 0
        messages = store.message_count(env.executor, row["id"])
        writer = HashingWriter(folder / layout.PASSAGES)
        with _bar(passages, f"{row['id'][:14]} passages", quiet) as bar:
            written = 0
            for record in store.passage_records(env.executor, archive["id"], limits) if archive else ():
                writer.line(record)
                written += 1
                bar.update(1)
        files[layout.PASSAGES] = writer.close()
        writer = HashingWriter(folder / layout.MESSAGES)
        with _bar(messages, f"{row['id'][:14]} messages", quiet) as bar:
            message_ids = []
            for record in store.message_records(env.executor, row["id"], limits):
                writer.line(record)
                message_ids.append(json.loads(record)["id"])
                bar.update(1)
        files[layout.MESSAGES] = writer.close()
        missing = [m for m in row["message_ids"] if m not in set(message_ids)]
        if missing:
            raise OperatorError(f"agent {row['id']}: in-context message {missing[0]} is not among its messages")
        record = {
            "id": row["id"],
            "name": row["name"],
            "organization_id": row["organization_id"],
            "in_context_message_ids": row["message_ids"],
            "archive": archive,
        }
        writer = HashingWriter(folder / layout.AGENT_RECORD)
        writer.write(json.dumps(record, indent=2, ensure_ascii=False).encode() + b"\n")
        files[layout.AGENT_RECORD] = writer.close()
        if include_secrets:
            secrets = env.api.agent_secrets(row["id"])
            writer = HashingWriter(folder / layout.SECRETS, mode=0o600)
            writer.write(json.dumps(secrets, indent=2).encode() + b"\n")
            files[layout.SECRETS] = writer.close()
            os.chmod(folder / layout.SECRETS, 0o600)
            say(
                f"secrets: {len(secrets)} tool environment value(s) of {row['id']} IN CLEAR in "
                f"{folder / layout.SECRETS} (mode 0600): keep this file as you keep the server password"
            )
        counts = {"passages": written, "messages": len(message_ids), "in_context_messages": len(row["message_ids"])}
        entries.append(
            {
                "id": row["id"],
                "name": row["name"],
                "folder": f"agents/{row['id']}",
                "counts": counts,
                "files": files,
                "secrets": include_secrets,
            }
        )
        size = sum(f["bytes"] for f in files.values())
        say(f"exported {row['id']} ({row['name']}): {written} passages, {len(message_ids)} messages, {size} bytes")
    manifest = {
        "format": layout.FORMAT,
        "format_version": layout.FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "source": {"environment": env.label, "letta_version": LETTA_VERSION},
        "agents": entries,
    }
    path = out_dir / layout.MANIFEST
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    say(f"manifest: {path} ({len(entries)} agent(s))")
    return manifest


# --- Import --------------------------------------------------------------------------------------------


def verify_export(export_dir: Path) -> tuple[dict[str, Any], list[ExportedAgent]]:
    """The manifest and its agents, every file checked against its checksum; before anything is written."""
    manifest = layout.read_manifest(export_dir)
    return manifest, layout.manifest_agents(export_dir, manifest)


def import_agents(
    env: Environment,
    export_dir: Path,
    agent_ids: Sequence[str] | None,
    *,
    existing: str = "refuse",
    overrides: dict[str, str] | None = None,
    id_map: Path | None = None,
    quiet: bool = False,
    say: Print = print,
) -> dict[str, Any]:
    """Import the export's agents (those of ``agent_ids`` when given) into ``env``; returns the id map.

    ``overrides``: Letta's import form fields ``model`` / ``embedding`` (handles in the target)."""
    manifest, agents = verify_export(export_dir)
    if agent_ids:
        unknown = sorted(set(agent_ids) - {a.source_id for a in agents})
        if unknown:
            raise OperatorError(
                f"no agent {unknown[0]!r} in {export_dir} (its manifest lists them)", store.EXIT_NO_AGENT
            )
        agents = [a for a in agents if a.source_id in set(agent_ids)]
    result: dict[str, Any] = {"export": str(export_dir), "target": env.label, "agents": {}}
    for agent in agents:
        mapping = _import_one(env, agent, manifest, existing=existing, overrides=overrides or {}, quiet=quiet, say=say)
        if mapping is not None:
            result["agents"][agent.source_id] = mapping
    if id_map is not None:
        id_map.write_text(json.dumps(result, indent=2) + "\n")
        say(f"id map: {id_map}")
    return result


def _import_one(
    env: Environment,
    agent: ExportedAgent,
    manifest: dict[str, Any],
    *,
    existing: str,
    overrides: dict[str, str],
    quiet: bool,
    say: Print,
) -> dict[str, Any] | None:
    earlier = store.imported_from(env.executor, agent.source_id)
    if earlier:
        names = ", ".join(f"{i} ({n})" for i, n in earlier)
        if existing == "skip":
            say(f"skipped {agent.source_id}: already imported into {env.label} as {names}")
            return None
        if existing == "refuse":
            raise OperatorError(
                f"{agent.source_id} was already imported into {env.label} as {names}: pass --existing skip to "
                "leave it, or --existing replace to delete it and import again",
                EXIT_EXISTS,
            )
        for agent_id, _ in earlier:
            for archive in env.api.archives_of(agent_id):
                env.api.delete_archive(str(archive["id"]))
            env.api.delete_agent(agent_id)
            say(f"replaced: deleted {agent_id} and its archive")

    record = json.loads((agent.folder / layout.AGENT_RECORD).read_text())
    agent_file = json.loads((agent.folder / layout.AGENT_FILE).read_bytes())
    if not isinstance(agent_file, dict) or len(agent_file.get("agents") or []) != 1:
        raise bad_export(f"{agent.folder / layout.AGENT_FILE}: not a Letta agent file with one agent")
    # The marker travels in the agent's own metadata, so the target database itself knows what it holds.
    metadata = agent_file["agents"][0].get("metadata") or {}
    metadata[MARKER] = {
        "source_agent_id": agent.source_id,
        "source_environment": manifest["source"].get("environment"),
        "exported_at": manifest.get("created_at"),
    }
    agent_file["agents"][0]["metadata"] = metadata
    # The whole history goes in below, from messages.jsonl. Letta 0.16.8's import route accepts
    # strip_messages but never passes it on (routers/v1/agents.py, _import_agent), so the .af's own copy of
    # the context window is taken out here; otherwise those messages would exist twice.
    agent_file["agents"][0]["messages"] = []
    agent_file["agents"][0]["in_context_message_ids"] = []
    fields = {"strip_messages": "true", "name": agent.name, "append_copy_suffix": "false", **overrides}
    if agent.secrets:
        fields["secrets"] = (agent.folder / layout.SECRETS).read_text()
    (new_id,) = env.api.import_agent(json.dumps(agent_file).encode(), fields)
    organization_id = store.agent_row(env.executor, new_id)["organization_id"]

    archive_id = None
    if record.get("archive"):
        source_archive = record["archive"]
        found = env.api.archives_of(new_id)
        archive_id = str(found[0]["id"]) if found else None
        if archive_id is None:
            # With --embedding the target's own config for the same model (its endpoint), else the source's.
            embedding_config = (
                env.api.json("GET", f"/v1/agents/{new_id}")["embedding_config"]
                if "embedding" in overrides
                else source_archive.get("embedding_config") or agent_file["agents"][0]["embedding_config"]
            )
            archive_id = env.api.create_archive(
                name=str(source_archive["name"]),
                description=source_archive.get("description"),
                embedding_config=embedding_config,
            )
            env.api.attach_archive(new_id, archive_id)
    passages = layout.read_jsonl(agent.folder / layout.PASSAGES)
    messages = layout.read_jsonl(agent.folder / layout.MESSAGES)
    if passages and archive_id is None:
        raise bad_export(f"{agent.folder / layout.AGENT_RECORD}: passages but no archive")
    limits = store.limits_for(env.executor)
    transactional = isinstance(env.executor, PsycopgExecutor)  # one transaction where the driver allows it
    if transactional:
        env.executor.execute("BEGIN")
    try:
        with _bar(len(passages), f"{new_id[:14]} passages", quiet) as bar:
            passage_map = (
                store.insert_passages(
                    env.executor,
                    passages,
                    archive_id=archive_id,
                    organization_id=organization_id,
                    limits=limits,
                    progress=bar,
                )
                if archive_id
                else {}
            )
        with _bar(len(messages), f"{new_id[:14]} messages", quiet) as bar:
            message_map = store.insert_messages(
                env.executor,
                messages,
                agent_id=new_id,
                organization_id=organization_id,
                limits=limits,
                progress=bar,
            )
        in_context = [message_map[m] for m in record["in_context_message_ids"]]
        store.set_in_context(env.executor, new_id, in_context)
        if transactional:
            env.executor.execute("COMMIT")
    except BaseException:
        if transactional:
            env.executor.execute("ROLLBACK")
        # Leave no half-imported agent behind: a second run would otherwise find it and refuse.
        if archive_id:
            env.api.delete_archive(archive_id)
        env.api.delete_agent(new_id)
        raise
    _check(env, agent, new_id=new_id, archive_id=archive_id, passages=passages, in_context=in_context)
    say(
        f"imported {agent.source_id} ({agent.name}) as {new_id}: {len(passages)} passages, {len(messages)} messages, "
        f"{len(in_context)} in context; checked against the manifest"
    )
    return {
        "agent_id": new_id,
        "archive_id": archive_id,
        "passages": passage_map,
        "messages": message_map,
    }


def _check(
    env: Environment,
    agent: ExportedAgent,
    *,
    new_id: str,
    archive_id: str | None,
    passages: list[dict[str, Any]],
    in_context: list[str],
) -> None:
    """The target now holds what the manifest counts: passages (and their texts), messages, context."""
    got = {
        "passages": store.passage_count(env.executor, archive_id) if archive_id else 0,
        "messages": store.message_count(env.executor, new_id),
        "in_context_messages": len(store.agent_row(env.executor, new_id)["message_ids"]),
    }
    for key, value in got.items():
        expected = agent.counts.get(key)
        if value != expected:
            raise OperatorError(
                f"{new_id} (from {agent.source_id}) has {value} {key.replace('_', ' ')}, the manifest says {expected}",
                EXIT_CHECK,
            )
    if archive_id and sorted(store.passage_texts(env.executor, archive_id)) != sorted(str(p["text"]) for p in passages):
        raise OperatorError(f"{new_id}: the passages' texts differ from the export", EXIT_CHECK)
    if store.agent_row(env.executor, new_id)["message_ids"] != in_context:
        raise OperatorError(f"{new_id}: its in-context messages are not the exported ones", EXIT_CHECK)
