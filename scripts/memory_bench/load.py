"""Write benchmark tenants into Letta's own tables, the columns Letta's ORM fills, at COPY speed.

A *shape* is a named set of agents, each with its own archive (the agent↔archive link Letta creates with
every agent) and a number of passages. All rows belong to one organisation of their own (``BENCH_ORG``), so
they never show up for the rehearsal's users and :func:`drop_bench_data` removes them all.

Ids are deterministic per shape and agent (uuid5), so a second run finds a shape already loaded and skips
it (``--keep`` then a re-run measures the same data). Passages go in with ``COPY ... (FORMAT BINARY)``:
the embedding as pgvector's binary form (int16 dim, int16 0, dim big-endian float4), zero-padded to 4096
as Letta pads it. Text COPY would make the server parse 4,096 decimal numbers per row instead.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from tqdm import tqdm

from scripts.memory_bench.letta_schema import MAX_EMBEDDING_DIM, embedding_config

BENCH_ORG = "org-00000000-0000-4000-8000-00000000be0c"
"""The benchmark's organisation id (Letta's ``org-<uuid>`` form)."""
_NAMESPACE = uuid.UUID("6f0f6c1e-9a51-4b8e-9d6a-14e0a0be0c14")
_TEXT = (
    "User mentioned they prefer window seats on long flights, are allergic to peanuts, and want the "
    "quarterly report drafted in plain language before the board meeting; follow up on the insurance "
    "claim next week and remember the daughter's recital on Friday evening at the community hall."
)
"""About 300 characters, the size of one of Letta's archival passages (chunk size 300 tokens at most)."""
COPY_COLUMNS = (
    "id",
    "text",
    "embedding_config",
    "metadata_",
    "tags",
    "embedding",
    "created_at",
    "updated_at",
    "is_deleted",
    "organization_id",
    "archive_id",
)


@dataclass(frozen=True)
class Shape:
    """``agents`` agents, each with ``per_agent`` passages whose embeddings fill ``fill`` of 4096 dims."""

    name: str
    agents: int
    per_agent: int
    fill: int

    @property
    def passages(self) -> int:
        return self.agents * self.per_agent

    def agent_id(self, index: int) -> str:
        return f"agent-{uuid.uuid5(_NAMESPACE, f'{self.name}/agent/{index}')}"

    def archive_id(self, index: int) -> str:
        return f"archive-{uuid.uuid5(_NAMESPACE, f'{self.name}/archive/{index}')}"

    def agent_ids(self) -> list[str]:
        return [self.agent_id(i) for i in range(self.agents)]


def multi_tenant(passages: int, agents: int, fill: int) -> Shape:
    """``passages`` spread evenly over ``agents`` agents (the remainder is dropped)."""
    return Shape(f"tenants-{agents}x{passages // agents}-w{fill}", agents, passages // agents, fill)


def single_archive(passages: int, fill: int) -> Shape:
    """One agent whose archive holds ``passages``."""
    return Shape(f"archive-{passages}-w{fill}", 1, passages, fill)


def padded_embeddings(rng: np.random.Generator, rows: int, fill: int) -> np.ndarray:
    """``rows`` unit vectors filling ``fill`` dimensions, zero-padded to 4096 (``np.pad`` at the end)."""
    values = np.zeros((rows, MAX_EMBEDDING_DIM), dtype=np.float32)
    filled = rng.standard_normal((rows, fill), dtype=np.float32)
    filled /= np.linalg.norm(filled, axis=1, keepdims=True)
    values[:, :fill] = filled
    return values


def vector_binary(values: np.ndarray) -> list[bytes]:
    """pgvector's binary input for each row: int16 dim, int16 unused (0), then big-endian float4s."""
    rows, dim = values.shape
    packed = np.empty(rows, dtype=[("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (dim,))])
    packed["dim"] = dim
    packed["unused"] = 0
    packed["v"] = values
    raw = packed.tobytes()
    size = packed.dtype.itemsize
    return [raw[i * size : (i + 1) * size] for i in range(rows)]


class _PackedVector(bytes):
    """Bytes that are already pgvector's binary form."""


def _register_vector_dumper(connection: psycopg.Connection) -> int:
    """Teach this connection to COPY ``_PackedVector`` as ``vector`` in binary; return the type's oid."""
    row = connection.execute("SELECT oid FROM pg_type WHERE typname = 'vector'").fetchone()
    if row is None:
        raise RuntimeError("the vector extension is not installed in this database")
    oid = int(row[0])

    class VectorBinaryDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj: bytes) -> bytes:
            return obj

    VectorBinaryDumper.oid = oid
    connection.adapters.register_dumper(_PackedVector, VectorBinaryDumper)
    return oid


def loaded_passages(connection: psycopg.Connection, shape: Shape) -> int:
    """Passages already in the shape's archives."""
    archives = [shape.archive_id(i) for i in range(shape.agents)]
    counted = connection.execute(
        "SELECT count(*) FROM archival_passages WHERE archive_id = ANY(%s)", (archives,)
    ).fetchone()
    return int(counted[0]) if counted else 0


def ensure_organization(connection: psycopg.Connection) -> None:
    connection.execute(
        "INSERT INTO organizations (id, name, created_at, is_deleted, privileged_tools)"
        " VALUES (%s, 'memory-benchmark', now(), false, false) ON CONFLICT (id) DO NOTHING",
        (BENCH_ORG,),
    )


def load_shape(connection: psycopg.Connection, shape: Shape, *, seed: int = 14, batch: int = 2000) -> float:
    """Create the shape's agents, archives, links and passages unless already there; return load seconds.

    One transaction per shape: a run interrupted mid-load leaves nothing half-written behind.
    """
    if loaded_passages(connection, shape) == shape.passages:
        return 0.0
    drop_shape(connection, shape)
    started = datetime.now(UTC)
    with connection.transaction():
        ensure_organization(connection)
        _create_agents(connection, shape)
        _copy_passages(connection, shape, seed=seed, batch=batch)
    connection.execute("ANALYZE archival_passages")
    connection.execute("ANALYZE archives_agents")
    return (datetime.now(UTC) - started).total_seconds()


def _create_agents(connection: psycopg.Connection, shape: Shape) -> None:
    """Agents, their archives and the links, with the NOT NULL columns Letta's ORM sets."""
    config = embedding_config(shape.fill)
    llm = json.dumps({"model": "echo-1", "model_endpoint_type": "openai", "context_window": 32000})
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO agents (id, name, organization_id, agent_type, system, llm_config, embedding_config,"
            " message_ids, metadata_, tool_rules, message_buffer_autoclear, is_deleted)"
            " VALUES (%s, %s, %s, 'letta_v1_agent', '', %s, %s, '[]', '{}', '[]', false, false)",
            [(shape.agent_id(i), f"{shape.name}-{i}", BENCH_ORG, llm, config) for i in range(shape.agents)],
        )
        cursor.executemany(
            "INSERT INTO archives (id, name, organization_id, vector_db_provider, embedding_config, metadata_,"
            " is_deleted) VALUES (%s, %s, %s, 'NATIVE', %s, '{}', false)",
            [(shape.archive_id(i), f"{shape.name}-{i}", BENCH_ORG, config) for i in range(shape.agents)],
        )
        cursor.executemany(
            "INSERT INTO archives_agents (agent_id, archive_id, is_owner) VALUES (%s, %s, true)",
            [(shape.agent_id(i), shape.archive_id(i)) for i in range(shape.agents)],
        )


def _passage_rows(shape: Shape, rng: np.random.Generator, batch: int) -> Iterator[list[tuple[object, ...]]]:
    """Rows in COPY_COLUMNS order, ``batch`` at a time, agent by agent (as each agent writes its own)."""
    config = embedding_config(shape.fill)
    now = datetime.now(UTC)
    pending: list[tuple[int, int]] = [(a, p) for a in range(shape.agents) for p in range(shape.per_agent)]
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        vectors = vector_binary(padded_embeddings(rng, len(chunk), shape.fill))
        yield [
            (
                f"passage-{uuid.UUID(bytes=rng.bytes(16), version=4)}",
                f"[{agent}/{index}] {_TEXT}",
                config,
                "{}",
                None,
                _PackedVector(vector),
                now,
                now,
                False,
                BENCH_ORG,
                shape.archive_id(agent),
            )
            for (agent, index), vector in zip(chunk, vectors, strict=True)
        ]


def _copy_passages(connection: psycopg.Connection, shape: Shape, *, seed: int, batch: int) -> None:
    vector_oid = _register_vector_dumper(connection)
    rng = np.random.default_rng([seed, shape.agents, shape.per_agent, shape.fill])
    types = ["varchar", "varchar", "json", "json", "json", vector_oid, "timestamptz", "timestamptz", "bool"]
    types += ["varchar", "varchar"]
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY archival_passages ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy,
        tqdm(total=shape.passages, desc=f"load {shape.name}", unit="passage", smoothing=0.05) as bar,
    ):
        copy.set_types(types)
        for rows in _passage_rows(shape, rng, batch):
            for row in rows:
                copy.write_row(row)
            bar.update(len(rows))


def drop_shape(connection: psycopg.Connection, shape: Shape) -> None:
    """Remove one shape's rows (passages, links, archives, agents)."""
    archives = [shape.archive_id(i) for i in range(shape.agents)]
    agents = shape.agent_ids()
    with connection.transaction():
        connection.execute("DELETE FROM archival_passages WHERE archive_id = ANY(%s)", (archives,))
        connection.execute("DELETE FROM archives_agents WHERE agent_id = ANY(%s)", (agents,))
        connection.execute("DELETE FROM archives WHERE id = ANY(%s)", (archives,))
        connection.execute("DELETE FROM agents WHERE id = ANY(%s)", (agents,))


def drop_bench_data(connection: psycopg.Connection) -> int:
    """Remove everything of the benchmark organisation; return the passages deleted."""
    with connection.transaction():
        deleted = connection.execute("DELETE FROM archival_passages WHERE organization_id = %s", (BENCH_ORG,))
        connection.execute(
            "DELETE FROM archives_agents WHERE agent_id IN (SELECT id FROM agents WHERE organization_id = %s)",
            (BENCH_ORG,),
        )
        connection.execute("DELETE FROM archives WHERE organization_id = %s", (BENCH_ORG,))
        connection.execute("DELETE FROM agents WHERE organization_id = %s", (BENCH_ORG,))
        connection.execute("DELETE FROM organizations WHERE id = %s", (BENCH_ORG,))
    return deleted.rowcount
