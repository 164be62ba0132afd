"""What the API does not give, read from and written to Letta 0.16.8's tables through an ``Executor``
(psycopg in the rehearsal, the RDS Data API in the cloud). Plain SQL text, one statement per call, no
parameters: the Data API runs exactly that.

Schema (letta/orm at 0.16.8): an agent's archival memory is the ``archival_passages`` of the archive linked
to it in ``archives_agents`` (one archive per agent: ``unique_agent_archive``); each passage's tags are also
rows of ``passage_tags`` (Letta keeps both); embeddings are ``vector(4096)``, zero-padded after the model's
``embedding_dim``. Messages are ``messages`` rows of the agent, ordered by ``sequence_id`` (an identity the
database assigns); ``agents.message_ids`` lists the ones in the context window, in order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scripts.operator_cli import OperatorError
from stacks.pgsql.executor import Executor
from stacks.pgsql.psycopg_executor import PsycopgExecutor
from stacks.pgsql.sql_text import quote_literal

MAX_EMBEDDING_DIM = 4096  # letta.constants.MAX_EMBEDDING_DIM, the width of archival_passages.embedding
EXIT_NO_AGENT = 5
# Message columns that point at rows the export does not carry (steps, runs, conversations, batch jobs,
# users): the imported rows get NULL there. `sequence_id` is left to the target's identity, in export order.
UNCARRIED_MESSAGE_COLUMNS = (
    "step_id",
    "run_id",
    "conversation_id",
    "batch_item_id",
    "_created_by_id",
    "_last_updated_by_id",
)
_ISO = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""


def utc(column: str) -> str:
    """SQL: ``column`` (timestamptz) as ISO 8601 UTC text with microseconds, the same through both executors."""
    return f"to_char({column} AT TIME ZONE 'UTC', {_ISO})"


@dataclass(frozen=True)
class Limits:
    """Rows per read and characters per write statement. The Data API answers at most 1 MiB and takes at
    most 4 MiB per call (and 64 KB per row); psycopg has no such limits, so it reads and writes in bulk."""

    passages_per_page: int
    messages_per_page: int
    statement_chars: int


def limits_for(executor: Executor) -> Limits:
    if isinstance(executor, PsycopgExecutor):
        return Limits(passages_per_page=2000, messages_per_page=2000, statement_chars=8_000_000)
    return Limits(passages_per_page=25, messages_per_page=10, statement_chars=3_000_000)


# --- Reading -------------------------------------------------------------------------------------------


def list_agents(executor: Executor) -> list[tuple[str, str]]:
    return [(str(i), str(n)) for i, n in executor.execute("SELECT id, name FROM agents ORDER BY created_at, id")]


def agent_row(executor: Executor, agent_id: str) -> dict[str, Any]:
    """The agent's id, name, organization and in-context message ids; exit 5 when there is no such agent."""
    rows = executor.execute(
        f"SELECT id, name, organization_id, coalesce(message_ids::text, '[]') FROM agents "
        f"WHERE id = {quote_literal(agent_id)}"
    )
    if not rows:
        raise OperatorError(f"no agent with id {agent_id!r} (list them: scripts/agents.py list)", EXIT_NO_AGENT)
    agent_id, name, organization_id, message_ids = rows[0]
    return {"id": agent_id, "name": name, "organization_id": organization_id, "message_ids": json.loads(message_ids)}


def archive_of(executor: Executor, agent_id: str) -> dict[str, Any] | None:
    """The archive linked to the agent (None before its first passage: Letta creates it lazily)."""
    rows = executor.execute(
        "SELECT a.id, a.name, a.description, a.vector_db_provider::text, a.embedding_config::text, "
        f"coalesce(a.metadata_::text, 'null'), aa.is_owner "
        "FROM archives a JOIN archives_agents aa ON aa.archive_id = a.id "
        f"WHERE aa.agent_id = {quote_literal(agent_id)} ORDER BY aa.created_at"
    )
    if not rows:
        return None
    if len(rows) > 1:  # Letta 0.16.8 refuses this too ("multiple archives, which is not yet supported")
        raise OperatorError(f"agent {agent_id} has {len(rows)} archives; Letta 0.16.8 supports one")
    archive_id, name, description, provider, embedding_config, metadata, is_owner = rows[0]
    return {
        "id": archive_id,
        "name": name,
        "description": description,
        "vector_db_provider": provider,
        "embedding_config": json.loads(embedding_config) if embedding_config else None,
        "metadata": json.loads(metadata),
        "is_owner": bool(is_owner) if is_owner is not None else None,
    }


def count(executor: Executor, sql: str) -> int:
    return int(executor.execute(sql)[0][0])


def passage_count(executor: Executor, archive_id: str) -> int:
    return count(executor, f"SELECT count(*) FROM archival_passages WHERE archive_id = {quote_literal(archive_id)}")


def message_count(executor: Executor, agent_id: str) -> int:
    return count(executor, f"SELECT count(*) FROM messages WHERE agent_id = {quote_literal(agent_id)}")


def passage_records(executor: Executor, archive_id: str, limits: Limits) -> Iterator[str]:
    """Each passage of the archive as one JSON Lines record (text), oldest first.

    Built by PostgreSQL so the embedding never passes through Python floats: pgvector prints the shortest
    text that reads back as the same float4, which is also a JSON array. Cut to the model's
    ``embedding_dim`` (Letta's zero padding is not part of the model's vector).
    """
    dim = f"least({MAX_EMBEDDING_DIM}, coalesce((p.embedding_config->>'embedding_dim')::int, {MAX_EMBEDDING_DIM}))"
    after = ""
    while True:
        rows = executor.execute(
            "SELECT p.id, " + utc("p.created_at") + ", json_build_object("
            "'id', p.id, 'text', p.text, 'metadata', p.metadata_, 'tags', p.tags, "
            f"'created_at', {utc('p.created_at')}, 'updated_at', {utc('p.updated_at')}, "
            "'is_deleted', p.is_deleted, 'embedding_config', p.embedding_config, "
            f"'embedding_dim', CASE WHEN p.embedding IS NULL THEN NULL ELSE {dim} END, "
            "'embedding', CASE WHEN p.embedding IS NULL THEN NULL "
            f"ELSE subvector(p.embedding, 1, {dim})::text::json END"
            f")::text FROM archival_passages p WHERE p.archive_id = {quote_literal(archive_id)}{after} "
            f"ORDER BY p.created_at, p.id LIMIT {limits.passages_per_page}"
        )
        for _, _, record in rows:
            yield record
        if len(rows) < limits.passages_per_page:
            return
        last_id, last_at = rows[-1][0], rows[-1][1]
        after = f" AND (p.created_at, p.id) > ({quote_literal(last_at)}::timestamptz, {quote_literal(last_id)})"


def message_records(executor: Executor, agent_id: str, limits: Limits) -> Iterator[str]:
    """Each message row of the agent, every column, as one JSON Lines record, in ``sequence_id`` order."""
    after = -1
    while True:
        rows = executor.execute(
            "SELECT m.sequence_id, row_to_json(m)::text FROM messages m "
            f"WHERE m.agent_id = {quote_literal(agent_id)} AND m.sequence_id > {int(after)} "
            f"ORDER BY m.sequence_id LIMIT {limits.messages_per_page}"
        )
        for _, record in rows:
            yield record
        if len(rows) < limits.messages_per_page:
            return
        after = int(rows[-1][0])


# --- Writing -------------------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    """An id of Letta's form ``<prefix>-<uuid4>``."""
    return f"{prefix}-{uuid.uuid4()}"


def _json_literal(value: Any) -> str:
    return "NULL" if value is None else f"{quote_literal(json.dumps(value))}::json"


def _embedding_sql(passage: dict[str, Any]) -> str:
    """The passage's embedding as ``vector(4096)``, zero-padded again the way Letta pads it."""
    embedding = passage.get("embedding")
    if embedding is None:
        return "NULL"
    if not isinstance(embedding, list) or not 0 < len(embedding) <= MAX_EMBEDDING_DIM:
        raise OperatorError(f"passage {passage.get('id')}: embedding is not a list of 1-{MAX_EMBEDDING_DIM} numbers")
    text = quote_literal("[" + ",".join(repr(float(v)) for v in embedding) + "]") + "::vector"
    pad = MAX_EMBEDDING_DIM - len(embedding)
    return text if pad == 0 else f"({text} || array_fill(0::real, ARRAY[{pad}])::vector)"


def _batches(values: Iterator[str], head: str, limits: Limits) -> Iterator[tuple[str, int]]:
    """``head`` + comma-joined ``values``, as many per statement as fit ``limits.statement_chars``; with the
    number of values in each."""
    batch: list[str] = []
    size = len(head)
    for value in values:
        if batch and size + len(value) + 1 > limits.statement_chars:
            yield head + ",".join(batch), len(batch)
            batch, size = [], len(head)
        batch.append(value)
        size += len(value) + 1
    if batch:
        yield head + ",".join(batch), len(batch)


def insert_passages(
    executor: Executor,
    passages: list[dict[str, Any]],
    *,
    archive_id: str,
    organization_id: str,
    limits: Limits,
    progress: Any,
) -> dict[str, str]:
    """Insert ``passages`` (export records) into the archive with their embeddings; returns old id -> new id.

    The columns Letta's ORM fills for an archival passage, plus a ``passage_tags`` row per tag.
    """
    mapping = {str(p["id"]): new_id("passage") for p in passages}
    archive, org = quote_literal(archive_id), quote_literal(organization_id)

    def rows() -> Iterator[str]:
        for p in passages:
            yield (
                f"({quote_literal(mapping[str(p['id'])])}, {quote_literal(str(p['text']))}, "
                f"{_json_literal(p.get('embedding_config'))}, {_json_literal(p.get('metadata') or {})}, "
                f"{_json_literal(p.get('tags'))}, {_embedding_sql(p)}, "
                f"{quote_literal(str(p['created_at']))}::timestamptz, "
                f"{quote_literal(str(p.get('updated_at') or p['created_at']))}::timestamptz, "
                f"{'true' if p.get('is_deleted') else 'false'}, {org}, {archive})"
            )

    head = (
        "INSERT INTO archival_passages (id, text, embedding_config, metadata_, tags, embedding, created_at, "
        "updated_at, is_deleted, organization_id, archive_id) VALUES "
    )
    for statement, rows_in_it in _batches(rows(), head, limits):
        executor.execute(statement)
        progress.update(rows_in_it)
    tags = [
        f"({quote_literal(new_id('passage-tag'))}, {quote_literal(str(tag))}, {quote_literal(mapping[str(p['id'])])}, "
        f"{archive}, {org}, false)"
        for p in passages
        for tag in dict.fromkeys(p.get("tags") or [])
    ]
    tag_head = "INSERT INTO passage_tags (id, tag, passage_id, archive_id, organization_id, is_deleted) VALUES "
    for statement, _ in _batches(iter(tags), tag_head, limits):
        executor.execute(statement)
    return mapping


def table_columns(executor: Executor, table: str) -> set[str]:
    rows = executor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        f"AND table_name = {quote_literal(table)}"
    )
    return {str(r[0]) for r in rows}


def insert_messages(
    executor: Executor,
    messages: list[dict[str, Any]],
    *,
    agent_id: str,
    organization_id: str,
    limits: Limits,
    progress: Any,
) -> dict[str, str]:
    """Insert the exported message rows for ``agent_id`` in their order; returns old id -> new id.

    Every column the export holds goes back through ``json_populate_recordset`` (so tool calls, tool returns,
    approvals and content parts keep their JSON as Letta wrote it), with new ids and this agent's and
    organization's ids; ``sequence_id`` comes from the target's identity, in the export's order.
    """
    columns = table_columns(executor, "messages")
    exported = set().union(*(m.keys() for m in messages)) if messages else set()
    unknown = sorted(c for c in exported - columns if any(m.get(c) is not None for m in messages))
    if unknown:
        raise OperatorError(
            f"the target's messages table has no column {', '.join(unknown)}: it runs an older Letta than the export"
        )
    mapping = {str(m["id"]): new_id("message") for m in messages}
    keep = sorted((exported & columns) - {"sequence_id"})
    names = ", ".join(f'"{c}"' for c in keep)

    def rows() -> Iterator[str]:
        for message in messages:
            row = {c: message.get(c) for c in keep}
            row["id"] = mapping[str(message["id"])]
            row["agent_id"] = agent_id
            row["organization_id"] = organization_id
            for column in UNCARRIED_MESSAGE_COLUMNS:
                if column in row:
                    row[column] = None
            if row.get("approval_request_id") in mapping:
                row["approval_request_id"] = mapping[row["approval_request_id"]]
            yield json.dumps(row, ensure_ascii=False)

    for chunk in _json_batches(rows(), limits):
        # WITH ORDINALITY + ORDER BY: the identity hands out sequence_ids in the export's order.
        records = quote_literal("[" + ",".join(chunk) + "]")
        executor.execute(
            f"INSERT INTO messages ({names}) SELECT {names} FROM json_populate_recordset(NULL::messages, {records}) "
            "WITH ORDINALITY AS r ORDER BY r.ordinality"
        )
        progress.update(len(chunk))
    return mapping


def _json_batches(records: Iterator[str], limits: Limits) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for record in records:
        if batch and size + len(record) > limits.statement_chars:
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record) + 1
    if batch:
        yield batch


def set_in_context(executor: Executor, agent_id: str, message_ids: list[str]) -> None:
    executor.execute(
        f"UPDATE agents SET message_ids = {_json_literal(message_ids)} WHERE id = {quote_literal(agent_id)}"
    )


def imported_from(executor: Executor, source_id: str) -> list[tuple[str, str]]:
    """Agents an earlier import created from ``source_id`` (their metadata names it)."""
    return [
        (str(i), str(n))
        for i, n in executor.execute(
            "SELECT id, name FROM agents WHERE metadata_->'letta_aurora_import'->>'source_agent_id' = "
            f"{quote_literal(source_id)} ORDER BY created_at"
        )
    ]


def passage_texts(executor: Executor, archive_id: str) -> list[str]:
    return [
        str(r[0])
        for r in executor.execute(f"SELECT text FROM archival_passages WHERE archive_id = {quote_literal(archive_id)}")
    ]
