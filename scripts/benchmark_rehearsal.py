#!/usr/bin/env python3
"""Benchmarks for the local rehearsal, on a warm machine (run `scripts/local_stack.py up` once before).

1. time from `local_stack.py up --offline` to a healthy Letta (the stack is taken down first, data kept);
2. time of the smoke test against it (the walkthrough's agent flow, database checks included);
3. an archival-memory search over N passages. Letta stores `vector(4096)` embeddings (zero-padded) with no
   index (pgvector indexes stop at 2,000 dimensions), so every search is a sequential scan: this measures
   the query Letta issues, `ORDER BY embedding <=> $q LIMIT k`, over N = 1k, 10k, 100k rows in a table of
   that shape, on the same embedded PostgreSQL. The figures tell what Aurora's ACU range must carry.

Prints a table; `--json` for machines. Not a test: nothing here asserts, it measures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)

import psycopg

from scripts.embedded_postgres import EmbeddedPostgres
from scripts.operator_cli import Parser, whole_number

ROOT = Path(__file__).resolve().parents[1]
DIMENSIONS = 4096
# Letta's real embeddings fill the first 1,536 (text-embedding-3-small) and zero-pad the rest.
FILLED = 1536
TOP_K = 10


def time_command(command: Sequence[str]) -> tuple[float, int]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, check=False)
    return time.perf_counter() - started, result.returncode


def rehearsal_timings() -> dict[str, float]:
    """Seconds from `up --offline` to healthy, and for the smoke test, on the persisted rehearsal data."""
    python = sys.executable
    subprocess.run([python, "scripts/local_stack.py", "down"], cwd=ROOT, check=False)
    up, code = time_command([python, "scripts/local_stack.py", "up", "--offline"])
    if code:
        raise SystemExit(f"local_stack.py up failed ({code})")
    smoke, code = time_command([python, "scripts/local_stack.py", "smoke"])
    if code:
        raise SystemExit(f"local_stack.py smoke failed ({code})")
    return {"up_to_healthy_s": up, "smoke_test_s": smoke}


def search_timings(sizes: Sequence[int], *, repeats: int, major: int) -> list[dict[str, float]]:
    """Median time of Letta's archival search over `n` passages, for each n, on a scratch server."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="letta-bench-") as scratch:
        base = Path(scratch)
        base.chmod(0o755)  # the server may run as an unprivileged user
        with EmbeddedPostgres(base / "data", major=major, durable=False) as server:
            server.create_database("bench")
            with psycopg.connect(server.dsn("bench"), autocommit=True) as connection:
                connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
                connection.execute(
                    f"CREATE TABLE archival_passages (id bigint PRIMARY KEY, text text, embedding vector({DIMENSIONS}))"
                )
                loaded = 0
                for n in sorted(sizes):
                    started = time.perf_counter()
                    _load(connection, loaded, n)
                    load_s = time.perf_counter() - started
                    loaded = n
                    connection.execute("VACUUM ANALYZE archival_passages")
                    size = connection.execute("SELECT pg_total_relation_size('archival_passages')").fetchone()[0]  # type: ignore[index]
                    times = [_search(connection) for _ in range(repeats)]
                    rows.append(
                        {
                            "passages": n,
                            "table_mb": size / 2**20,
                            "load_s": load_s,
                            "search_median_ms": statistics.median(times) * 1000,
                            "search_max_ms": max(times) * 1000,
                        }
                    )
                    print(f"  {n:>7} passages: search median {rows[-1]['search_median_ms']:.1f} ms", file=sys.stderr)
    return rows


def _load(connection: psycopg.Connection, start: int, end: int) -> None:
    """Rows start+1..end with random unit-free embeddings padded with zeros to 4096, as Letta pads them."""
    connection.execute(
        f"""
        INSERT INTO archival_passages (id, text, embedding)
        SELECT i, 'passage ' || i,
               (SELECT array_agg(CASE WHEN d <= {FILLED} THEN random() ELSE 0 END ORDER BY d)
                  FROM generate_series(1, {DIMENSIONS}) d WHERE i > 0)::vector({DIMENSIONS})
          FROM generate_series(%s::bigint, %s::bigint) i
        """,
        (start + 1, end),
    )


def _search(connection: psycopg.Connection) -> float:
    query = "[" + ",".join("0.5" if d < FILLED else "0" for d in range(DIMENSIONS)) + "]"
    started = time.perf_counter()
    connection.execute(
        f"SELECT id, text FROM archival_passages ORDER BY embedding <=> %s::vector({DIMENSIONS}) LIMIT {TOP_K}",
        (query,),
    ).fetchall()
    return time.perf_counter() - started


def passage_counts(value: str) -> list[int]:
    """argparse type: comma-separated passage counts, each 1-1000000."""
    count = whole_number(1, 1_000_000)
    try:
        return [count(item) for item in value.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a comma-separated list of counts from 1 to 1000000"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(
        prog="benchmark_rehearsal.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=passage_counts, default="1000,10000,100000", help="passage counts (default 1000,10000,100000)"
    )
    parser.add_argument(
        "--repeats", type=whole_number(1, 1000), default=5, help="searches per size, 1-1000 (default 5)"
    )
    parser.add_argument("--major", type=int, default=16, choices=(16, 18), help="PostgreSQL major (default 16)")
    parser.add_argument("--search-only", action="store_true", help="skip the rehearsal up/smoke timings")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    sizes: list[int] = args.sizes
    results: dict[str, object] = {}
    if not args.search_only:
        results["rehearsal"] = rehearsal_timings()
    results["archival_search"] = search_timings(sizes, repeats=args.repeats, major=args.major)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if "rehearsal" in results:
        timings = results["rehearsal"]
        assert isinstance(timings, dict)
        print(f"up --offline to healthy: {timings['up_to_healthy_s']:.1f} s")
        print(f"smoke test:              {timings['smoke_test_s']:.1f} s")
    print(f"\narchival search, vector({DIMENSIONS}), no index, top {TOP_K}, PostgreSQL {args.major}:")
    print(f"{'passages':>9} {'table MB':>9} {'load s':>8} {'median ms':>10} {'max ms':>8}")
    for row in results["archival_search"]:  # type: ignore[union-attr]
        print(
            f"{row['passages']:>9} {row['table_mb']:>9.0f} {row['load_s']:>8.1f} "
            f"{row['search_median_ms']:>10.1f} {row['search_max_ms']:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
