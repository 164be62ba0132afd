"""What Letta 0.16.8 does to archival memory in PostgreSQL, written down so the benchmark runs exactly that.

Read from the installed package (``letta/services/helpers/agent_manager_helper.py``,
``build_agent_passage_query``; ``letta/services/passage_manager.py``; ``letta/constants.py``):

- every embedding is zero-padded at the end to ``MAX_EMBEDDING_DIM`` (4096) with ``np.pad`` before it is
  stored or used as a query, because the column is ``vector(4096)``;
- ``archival_memory_search`` (the agent's tool) runs ``query_agent_passages_async(agent_id=...)``: a join of
  ``archival_passages`` with ``archives_agents`` on the agent, filtered by organisation, ordered by cosine
  distance, limited to ``top_k`` (``RETRIEVAL_QUERY_DEFAULT_PAGE_SIZE`` = 5 when the model passes none).

``SEARCH_SQL`` is that query as SQLAlchemy compiles it for asyncpg (the server's driver), with psycopg's
placeholders; ``tests/test_memory_benchmark.py`` recompiles it from Letta's ORM and compares.
"""

from __future__ import annotations

import json
import os
import subprocess
from urllib.parse import urlsplit

from stacks.pgsql.connection_string import build_uri

MAX_EMBEDDING_DIM = 4096
"""``letta.constants.MAX_EMBEDDING_DIM``: the width of ``archival_passages.embedding``."""
DEFAULT_TOP_K = 5
"""``letta.constants.RETRIEVAL_QUERY_DEFAULT_PAGE_SIZE``: the tool's limit when the model gives no top_k."""
OPENAI_SMALL_DIM = 1536
"""text-embedding-3-small, the embedding the rehearsal and most deployments use: 1,536 filled, 2,560 zeros."""

PASSAGE_COLUMNS = (
    "archival_passages.id, archival_passages.text, archival_passages.embedding_config, "
    "archival_passages.metadata_, archival_passages.tags, archival_passages.embedding, "
    "archival_passages.created_at, archival_passages.updated_at, archival_passages.is_deleted, "
    "archival_passages._created_by_id, archival_passages._last_updated_by_id, "
    "archival_passages.organization_id, archival_passages.archive_id"
)
SEARCH_SQL = (
    f"SELECT {PASSAGE_COLUMNS} \n"
    "FROM archival_passages JOIN archives_agents ON archival_passages.archive_id = archives_agents.archive_id \n"
    "WHERE archives_agents.agent_id = %(agent_id)s::VARCHAR AND archival_passages.organization_id = "
    "%(organization_id)s::VARCHAR ORDER BY (archival_passages.embedding <=> %(embedding)s) ASC \n"
    " LIMIT %(limit)s::INTEGER"
)
"""Letta's archival search, placeholders in psycopg's named style (asyncpg's are ``$1`` .. ``$4``)."""

EMBEDDING_CONFIG = {
    "embedding_endpoint_type": "openai",
    "embedding_endpoint": "https://api.openai.com/v1",
    "embedding_model": "text-embedding-3-small",
    "embedding_dim": OPENAI_SMALL_DIM,
    "embedding_chunk_size": 300,
    "handle": "openai/text-embedding-3-small",
    "batch_size": 32,
    "azure_endpoint": None,
    "azure_version": None,
    "azure_deployment": None,
}
"""What Letta stores in ``archival_passages.embedding_config`` (JSON, on every row) for that model."""

LETTA_TABLES = ("organizations", "agents", "archives", "archives_agents", "archival_passages")


def embedding_config(dim: int) -> str:
    """The JSON Letta writes for an embedding of ``dim`` filled dimensions."""
    return json.dumps({**EMBEDDING_CONFIG, "embedding_dim": dim})


def vector_literal(values: list[float]) -> str:
    """pgvector's text form, as pgvector-python's SQLAlchemy type sends a Letta query embedding."""
    return "[" + ",".join(repr(float(v)) for v in values) + "]"


def has_letta_schema(connection: object) -> bool:
    """Whether Letta's tables are there (``connection`` is a psycopg connection)."""
    row = connection.execute(  # type: ignore[attr-defined]
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY(%s)",
        (list(LETTA_TABLES),),
    ).fetchone()
    return bool(row and row[0] == len(LETTA_TABLES))


def letta_uri(connection: object) -> str:
    """``LETTA_PG_URI`` for the database ``connection`` (psycopg) is connected to, with the password libpq used.

    libpq found that password in the DSN, in PGPASSWORD or in the password file; Letta's migrations connect with
    pg8000, which reads neither the variable nor the file, so their URI must carry it. It goes only into the
    alembic subprocess's environment, never onto a command line. Raises ValueError for what Letta's URI cannot
    hold (a Unix-socket host, a password that would need URL-encoding).
    """
    info = connection.info  # type: ignore[attr-defined]
    if not info.password:  # the server asked for none (trust): Letta connects without one too
        return f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"
    return build_uri(user=info.user, password=info.password, host=info.host, port=info.port, database=info.dbname)


def run_letta_migrations(dsn: str, *, timeout: float = 600.0) -> None:
    """``alembic upgrade head`` of Letta 0.16.8's sdist against ``dsn``, as the rehearsal migrates.

    Uses the cached Letta venv that ``scripts/rehearsal/letta_install.py`` builds (building it the first
    time, a few minutes). The schema thus comes from Letta's own migrations, never from DDL written here.
    """
    from scripts.rehearsal.letta_install import default_cache_dir, ensure_letta_venv, lay_out_app

    venv = ensure_letta_venv()
    # The image's /app as the rehearsal lays it out: alembic.ini and alembic/ from the sdist, run from there.
    app_dir = default_cache_dir() / "memory-bench-app"
    lay_out_app(venv, app_dir)
    env = {
        "PATH": f"{venv.bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LETTA_PG_URI": dsn,
    }
    proc = subprocess.run(
        [str(venv.bin_dir / "alembic"), "upgrade", "head"],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        # alembic prints the full URI (password included): only the last line, the error, and never the password.
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        telling = [line for line in lines if "Error" in line and not line.startswith("(Background")]
        last = (telling or lines or ["no output"])[-1].strip()[:300]
        password = urlsplit(dsn).password
        if password:
            last = last.replace(password, "***")
        raise RuntimeError(f"Letta's alembic upgrade head failed: {last}")
