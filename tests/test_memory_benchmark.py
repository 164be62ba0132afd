"""The agent-memory benchmark (scripts/benchmark_memory.py) at a CI size, on Letta's own migrated schema.

The large sizes are measurements (README, "Agent memory at scale"); here a small one must come out right:
rows where Letta's tables expect them, the multi-tenant search served by Letta's archive index rather than
a scan of every passage, and results in cosine-distance order.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import psycopg
import pytest

from scripts import benchmark_memory
from scripts.embedded_postgres import EmbeddedPostgres
from scripts.memory_bench.costs import break_even_searches_per_day, buffer_cache_bytes, monthly_io_cost
from scripts.memory_bench.letta_schema import DEFAULT_TOP_K, MAX_EMBEDDING_DIM, SEARCH_SQL, letta_uri
from scripts.memory_bench.load import BENCH_ORG, multi_tenant, padded_embeddings, vector_binary
from scripts.memory_bench.measure import explain, query_vectors, search
from stacks.pgsql.bootstrap import apply
from stacks.pgsql.connection_string import build_uri
from stacks.pgsql.psycopg_executor import PsycopgExecutor
from stacks.pgsql.sql_files import SqlFile
from tests.postgres_server import pgpass_line

# -- no database ------------------------------------------------------------------------------------------


def test_embeddings_are_unit_vectors_zero_padded_at_the_end_as_letta_pads() -> None:
    values = padded_embeddings(np.random.default_rng(1), 3, 1536)
    assert values.shape == (3, MAX_EMBEDDING_DIM)
    assert not values[:, 1536:].any()
    assert np.allclose(np.linalg.norm(values, axis=1), 1.0, atol=1e-5)


def test_vector_binary_is_pgvectors_wire_format() -> None:
    values = np.arange(8, dtype=np.float32).reshape(2, 4)
    first, second = vector_binary(values)
    assert first[:4] == b"\x00\x04\x00\x00"  # int16 dim 4, int16 unused 0, big-endian
    assert np.frombuffer(second[4:], dtype=">f4").tolist() == [4.0, 5.0, 6.0, 7.0]


def test_io_arithmetic() -> None:
    # 1,000 pages per search, 10,000 searches a day: 300 M reads a month at $0.20 per million.
    assert monthly_io_cost(1000, 10_000) == pytest.approx(60.0)
    # I/O-Optimized adds 0.036 $/ACU-h (730 h) and 0.125 $/GB-month; at 1 ACU and 100 GB: 26.28 + 12.5.
    assert break_even_searches_per_day(1000, 1, 100) == pytest.approx((26.28 + 12.5) / (1000 * 30 * 0.2e-6))
    # The cache grows with ACUs and 0.5 ACU (1 GiB) leaves a few hundred MiB for pages.
    assert 0.2 * 2**30 < buffer_cache_bytes(0.5) < buffer_cache_bytes(1) < buffer_cache_bytes(4)


# -- Letta's venv -----------------------------------------------------------------------------------------

_COMPILE = """
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.orm import noload
from letta.constants import MAX_EMBEDDING_DIM, RETRIEVAL_QUERY_DEFAULT_PAGE_SIZE
from letta.orm.archives_agents import ArchivesAgents
from letta.orm.passage import ArchivalPassage
# The agent_id branch of letta.services.helpers.agent_manager_helper.build_agent_passage_query, plus the
# order and limit query_agent_passages_async adds for an embedding search.
q = (
    select(ArchivalPassage)
    .options(noload(ArchivalPassage.organization), noload(ArchivalPassage.passage_tags))
    .join(ArchivesAgents, ArchivalPassage.archive_id == ArchivesAgents.archive_id)
    .where(ArchivesAgents.agent_id == "a", ArchivalPassage.organization_id == "o")
    .order_by(ArchivalPassage.embedding.cosine_distance([0.0] * MAX_EMBEDDING_DIM).asc())
    .limit(RETRIEVAL_QUERY_DEFAULT_PAGE_SIZE)
)
print(str(q.compile(dialect=asyncpg.dialect())))
print(MAX_EMBEDDING_DIM, RETRIEVAL_QUERY_DEFAULT_PAGE_SIZE)
"""


@pytest.mark.letta
def test_search_sql_is_what_lettas_orm_compiles() -> None:
    from scripts.rehearsal.letta_install import ensure_letta_venv

    venv = ensure_letta_venv()
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LETTA_PG_URI": "postgresql://u:p@127.0.0.1:1/d"}
    out = subprocess.run(
        [str(venv.python), "-c", _COMPILE], capture_output=True, text=True, env=env, timeout=300, check=True
    ).stdout.strip()
    *sql_lines, constants = out.splitlines()
    placeholders = {"$1": "%(agent_id)s", "$2": "%(organization_id)s", "$3": "%(embedding)s", "$4": "%(limit)s"}
    compiled = "\n".join(sql_lines)
    for asyncpg_style, psycopg_style in placeholders.items():
        compiled = compiled.replace(asyncpg_style, psycopg_style)
    assert compiled == SEARCH_SQL
    assert constants.split() == [str(MAX_EMBEDDING_DIM), str(DEFAULT_TOP_K)]


# -- Letta's schema on a real PostgreSQL ------------------------------------------------------------------


@pytest.mark.parametrize("source", ["PGPASSWORD", "PGPASSFILE"])
def test_lettas_uri_carries_the_password_libpq_found_outside_the_dsn(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    app_role: str,
    app_password: str,
    source: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # --dsn carries no password; Letta's pg8000 reads neither PGPASSWORD nor ~/.pgpass, so --migrate must hand
    # it the password libpq used, whichever of the two it came from (scram-sha-256: the server checks it).
    with psycopg.connect(embedded_postgres.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {app_role} LOGIN PASSWORD '{app_password}'")  # type: ignore[call-overload]
    port = embedded_postgres.port
    dsn = f"postgresql://{app_role}@127.0.0.1:{port}/{fresh_database}"
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("PGPASSFILE", raising=False)
    if source == "PGPASSWORD":
        monkeypatch.setenv("PGPASSWORD", app_password)
    else:
        passfile = tmp_path / "pgpass"
        passfile.write_text(pgpass_line(dsn, app_password), encoding="utf-8")
        passfile.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(passfile))
    with psycopg.connect(dsn) as connection:
        uri = letta_uri(connection)
    assert uri == build_uri(user=app_role, password=app_password, host="127.0.0.1", port=port, database=fresh_database)


@pytest.mark.postgres
@pytest.mark.letta
def test_small_benchmark_on_lettas_schema(
    embedded_postgres: EmbeddedPostgres,
    fresh_database: str,
    sql_files: list[SqlFile],
    app_role: str,
    app_password: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The rehearsal's database exactly: bootstrap_sql as the master user, then Letta's migrations (--migrate) and
    # the benchmark as the app role, with only the privileges the stacks give it.
    with PsycopgExecutor(embedded_postgres.dsn(fresh_database)) as master:
        apply(master, sql_files, app_role=app_role, database=fresh_database, app_password=app_password)
    dsn = build_uri(
        user=app_role, password=app_password, host="127.0.0.1", port=embedded_postgres.port, database=fresh_database
    )

    # As an operator runs it: the password in PGPASSWORD, not in --dsn; --migrate hands it on to Letta's alembic
    # (pg8000 reads no PGPASSWORD) in the subprocess's environment.
    monkeypatch.setenv("PGPASSWORD", app_password)
    monkeypatch.delenv("PGPASSFILE", raising=False)
    report = tmp_path / "memory.json"
    plot = tmp_path / "memory.png"
    argv = ["--dsn", f"postgresql://{app_role}@127.0.0.1:{embedded_postgres.port}/{fresh_database}", "--migrate"]
    argv += ["--passages", "2000", "--agents", "20", "--archive-sizes", "500", "--widths", "1536"]
    argv += ["--searches", "20", "--keep", "--json", str(report), "--plot", str(plot)]
    assert benchmark_memory.main(argv) == 0

    results = json.loads(report.read_text())["results"]
    tenants = next(r for r in results if r["shape"].startswith("tenants-"))
    assert tenants["archive_passages"] == 100
    assert len(tenants["latencies_ms"]) == 20
    # Letta's archive index serves the multi-tenant search: the plan never scans every passage.
    for plan in tenants["plans"]:
        assert any(n.startswith("Index Scan using ix_archival_passages_") for n in plan["nodes"]), plan["nodes"]
        assert not any(n == "Seq Scan on archival_passages" for n in plan["nodes"]), plan["nodes"]
    assert plot.stat().st_size > 10_000

    shape = multi_tenant(2000, 20, 1536)
    with psycopg.connect(dsn, autocommit=True) as connection:
        counts = connection.execute(
            "SELECT p.archive_id, count(*) FROM archival_passages p JOIN archives_agents l USING (archive_id)"
            " WHERE p.organization_id = %s AND l.agent_id = ANY(%s) GROUP BY 1",
            (BENCH_ORG, shape.agent_ids()),
        ).fetchall()
        assert sorted(c for _, c in counts) == [100] * 20
        # Letta's query returns the agent's passages nearest first: the same ids as a brute-force ranking.
        agent, query = shape.agent_id(7), query_vectors(1, 1536, seed=3)[0]
        rows = search(connection, agent, query)
        assert len(rows) == DEFAULT_TOP_K
        assert {r[11] for r in rows} == {BENCH_ORG} and {r[12] for r in rows} == {shape.archive_id(7)}
        everything = connection.execute(
            "SELECT id, embedding::text FROM archival_passages WHERE archive_id = %s", (shape.archive_id(7),)
        ).fetchall()
        q = np.array(json.loads(query))
        distance = {i: 1 - float(np.dot(q, e) / np.linalg.norm(e)) for i, e in _parse(everything)}
        assert [r[0] for r in rows] == sorted(distance, key=distance.__getitem__)[:DEFAULT_TOP_K]
        assert "Index Scan" in explain(connection, agent, query).text
        benchmark_memory.drop_bench_data(connection)
        left = connection.execute("SELECT count(*) FROM agents WHERE organization_id = %s", (BENCH_ORG,)).fetchone()
        assert left == (0,)


def _parse(rows: list[tuple[str, str]]) -> list[tuple[str, np.ndarray]]:
    return [(i, np.array(json.loads(text))) for i, text in rows]
