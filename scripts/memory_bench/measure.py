"""Time Letta's archival search and read its plan, on data :mod:`.load` wrote.

Latency is wall-clock at the client (execute + fetch of the ``top_k`` rows, embeddings included), what
Letta's tool call waits for in the database. Pages come from ``EXPLAIN (ANALYZE, BUFFERS)``: ``shared hit``
pages were in PostgreSQL's buffer cache, ``shared read`` ones came from storage (on Aurora, one billed
read I/O per 8 KiB page; locally, the OS page cache or the disk).
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from tqdm import tqdm

from scripts.memory_bench.letta_schema import DEFAULT_TOP_K, SEARCH_SQL, vector_literal
from scripts.memory_bench.load import BENCH_ORG, Shape, padded_embeddings

_VECTOR_LITERAL = re.compile(r"'\[[-0-9.e,]+\]'")
"""A 4096-float literal in a plan's text, shortened for reading."""


@dataclass
class PlanSummary:
    """What one EXPLAIN (ANALYZE, BUFFERS) says about a search."""

    nodes: list[str]
    shared_hit: int
    shared_read: int
    execution_ms: float
    workers_launched: int
    text: str = ""

    @property
    def pages(self) -> int:
        """Buffer accesses (hits + reads); a page touched twice (TOAST chunks share pages) counts twice."""
        return self.shared_hit + self.shared_read


@dataclass
class SearchResult:
    """Timings of ``len(latencies_ms)`` searches of one shape under one setting."""

    shape: str
    archive_passages: int
    setting: str
    latencies_ms: list[float]
    plans: list[PlanSummary] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def max(self) -> float:
        return max(self.latencies_ms)

    @property
    def pages(self) -> float:
        return statistics.mean(p.pages for p in self.plans) if self.plans else float("nan")

    @property
    def pages_read(self) -> float:
        return statistics.mean(p.shared_read for p in self.plans) if self.plans else float("nan")


SETTINGS: dict[str, dict[str, str]] = {
    "default": {},
    "no-parallel": {"max_parallel_workers_per_gather": "0"},
    "parallel-2": {"max_parallel_workers_per_gather": "2"},
    "parallel-2-eager": {
        "max_parallel_workers_per_gather": "2",
        "parallel_setup_cost": "10",
        "parallel_tuple_cost": "0.001",
        "min_parallel_table_scan_size": "0",
        "min_parallel_index_scan_size": "0",
    },
}
"""Session settings a search runs under; each is a parameter the cluster parameter group can set."""


@contextmanager
def session_settings(connection: psycopg.Connection, settings: dict[str, str]) -> Iterator[None]:
    """``SET`` each parameter for the block, then ``RESET`` it."""
    for name, value in settings.items():
        connection.execute("SELECT set_config(%s, %s, false)", (name, value))
    try:
        yield
    finally:
        for name in settings:
            connection.execute(f"RESET {name}")


def query_vectors(count: int, fill: int, seed: int = 7) -> list[str]:
    """``count`` query embeddings, padded as Letta pads them, in the text form Letta sends."""
    values = padded_embeddings(np.random.default_rng(seed), count, fill)
    return [vector_literal(row.tolist()) for row in values]


def _params(agent_id: str, embedding: str, top_k: int) -> dict[str, object]:
    return {"agent_id": agent_id, "organization_id": BENCH_ORG, "embedding": embedding, "limit": top_k}


def search(connection: psycopg.Connection, agent_id: str, embedding: str, top_k: int = DEFAULT_TOP_K) -> list[Any]:
    """Letta's archival search for one agent; rows as Letta's session receives them."""
    return connection.execute(SEARCH_SQL, _params(agent_id, embedding, top_k)).fetchall()


def explain(connection: psycopg.Connection, agent_id: str, embedding: str, top_k: int = DEFAULT_TOP_K) -> PlanSummary:
    """EXPLAIN (ANALYZE, BUFFERS) of Letta's search, once, summarised from its text (which is kept).

    One execution only: a second one (say, FORMAT JSON after the text) would find the first one's pages
    cached and report other buffers than the text shows.
    """
    rows = connection.execute("EXPLAIN (ANALYZE, BUFFERS) " + SEARCH_SQL, _params(agent_id, embedding, top_k))
    text = _VECTOR_LITERAL.sub("'[…]'", "\n".join(r[0] for r in rows.fetchall()))
    top = _BUFFERS.search(text)
    return PlanSummary(
        nodes=[_node_name(m) for m in _NODE.finditer(text)],
        shared_hit=int(top.group("hit") or 0) if top else 0,
        shared_read=int(top.group("read") or 0) if top else 0,
        execution_ms=float(m.group(1)) if (m := re.search(r"Execution Time: ([0-9.]+) ms", text)) else float("nan"),
        workers_launched=sum(int(n) for n in re.findall(r"Workers Launched: (\d+)", text)),
        text=text,
    )


_NODE = re.compile(
    r"^(?:\s*->\s+)?(?P<type>[A-Z][A-Za-z ]*?)(?: using (?P<index>\S+))?(?: on (?P<rel>\S+)(?: \w+)?)?  \(cost=",
    re.M,
)
_BUFFERS = re.compile(r"Buffers: shared(?: hit=(?P<hit>\d+))?(?: read=(?P<read>\d+))?")


def _node_name(match: re.Match[str]) -> str:
    if match.group("index"):
        return f"{match.group('type')} using {match.group('index')}"
    if match.group("rel"):
        return f"{match.group('type')} on {match.group('rel')}"
    return match.group("type")


def run_searches(
    connection: psycopg.Connection,
    shape: Shape,
    *,
    searches: int,
    explains: int = 3,
    setting: str = "default",
    seed: int = 7,
) -> SearchResult:
    """``searches`` timed searches of random agents of ``shape``, then ``explains`` EXPLAINs of others."""
    rng = random.Random(seed)
    agents = shape.agent_ids()
    vectors = query_vectors(searches + explains, shape.fill, seed)
    latencies: list[float] = []
    plans: list[PlanSummary] = []
    with session_settings(connection, SETTINGS[setting]):
        for i in tqdm(range(searches), desc=f"search {shape.name} [{setting}]", unit="search", leave=False):
            agent = rng.choice(agents)
            started = time.perf_counter()
            rows = search(connection, agent, vectors[i])
            latencies.append((time.perf_counter() - started) * 1000)
            if len(rows) != min(DEFAULT_TOP_K, shape.per_agent):
                raise RuntimeError(f"search of {agent} returned {len(rows)} rows")
        for i in range(explains):
            plans.append(explain(connection, rng.choice(agents), vectors[searches + i]))
    return SearchResult(shape.name, shape.per_agent, setting, latencies, plans)


@dataclass(frozen=True)
class TableSizes:
    """Bytes of ``archival_passages``: heap, TOAST (the embeddings), indexes; and its rows."""

    rows: int
    heap: int
    toast: int
    indexes: int

    @property
    def total(self) -> int:
        return self.heap + self.toast + self.indexes

    def per_passages(self, passages: int) -> float:
        """Bytes per ``passages`` passages, at this table's average."""
        return self.total / max(self.rows, 1) * passages


def table_sizes(connection: psycopg.Connection) -> TableSizes:
    row = connection.execute(
        """
        SELECT (SELECT count(*) FROM archival_passages),
               pg_relation_size(c.oid),
               coalesce(pg_total_relation_size(c.reltoastrelid), 0),
               pg_indexes_size(c.oid)
          FROM pg_class c WHERE c.oid = 'archival_passages'::regclass
        """
    ).fetchone()
    assert row is not None
    return TableSizes(rows=int(row[0]), heap=int(row[1]), toast=int(row[2]), indexes=int(row[3]))


@dataclass(frozen=True)
class ToastCheck:
    """Stored size of Letta's padded embeddings under each column storage (same rows, copied)."""

    storage: str
    rows: int
    avg_bytes: float
    compressed: int
    search_ms: float


def toast_check(connection: psycopg.Connection, shape: Shape, *, rows: int = 2000) -> list[ToastCheck]:
    """Copy ``rows`` passages of ``shape`` into scratch tables with EXTERNAL and EXTENDED embedding storage.

    The column storage applies when a value is written, so the comparison needs freshly written copies;
    they are TEMP tables (nothing of Letta's is altered) and the scan over each is timed the way Letta
    orders (distance to a query, top 5).
    """
    results = []
    vector = query_vectors(1, shape.fill, seed=99)[0]
    for storage in ("EXTERNAL", "EXTENDED"):
        table = f"toast_check_{storage.lower()}"
        connection.execute(f"DROP TABLE IF EXISTS {table}")
        connection.execute(f"CREATE TEMP TABLE {table} (id varchar, embedding vector(4096))")
        connection.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE {storage}")
        connection.execute(
            f"INSERT INTO {table} SELECT p.id, p.embedding FROM archival_passages p WHERE p.archive_id = %s LIMIT %s",
            (shape.archive_id(0), rows),
        )
        connection.execute(f"ANALYZE {table}")
        size = connection.execute(
            f"SELECT count(*), avg(pg_column_size(embedding)), count(pg_column_compression(embedding)) FROM {table}"
        ).fetchone()
        assert size is not None
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            connection.execute(f"SELECT id FROM {table} ORDER BY embedding <=> %s LIMIT 5", (vector,)).fetchall()
            timings.append((time.perf_counter() - started) * 1000)
        results.append(ToastCheck(storage, int(size[0]), float(size[1]), int(size[2]), statistics.median(timings)))
        connection.execute(f"DROP TABLE {table}")
    return results


def column_storage(connection: psycopg.Connection) -> str:
    """``attstorage`` of ``archival_passages.embedding`` as Letta's migrations left it (e = EXTERNAL)."""
    row = connection.execute(
        "SELECT attstorage FROM pg_attribute WHERE attrelid = 'archival_passages'::regclass AND attname = 'embedding'"
    ).fetchone()
    return {"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}[row[0]] if row else "?"


def server_settings(connection: psycopg.Connection, names: Sequence[str]) -> dict[str, str]:
    return {name: str(connection.execute(f"SHOW {name}").fetchone()[0]) for name in names}  # type: ignore[index]
