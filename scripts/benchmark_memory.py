#!/usr/bin/env python3
"""Agent memory at scale: Letta 0.16.8's archival search, on Letta's own schema, at the shapes users have.

    python scripts/benchmark_memory.py --passages 300000 --agents 1000        # against the rehearsal
    python scripts/benchmark_memory.py --passages 2000 --agents 20 --dsn postgresql://USER@HOST:5432/DB --migrate

(the password of ``--dsn`` from PGPASSWORD or ~/.pgpass, never in the URI: shell history would keep it)

What it does:
1. connects to the rehearsal's database (``local_stack.py up`` first) or ``--dsn``; with ``--migrate`` it
   runs Letta's own ``alembic upgrade head`` there when the schema is missing (never hand-written DDL);
2. loads, under an organisation of its own, ``--passages`` passages spread over ``--agents`` agents (each
   agent with its archive and the agent↔archive link Letta creates), plus one agent per
   each of ``--archive-sizes`` and ``--widths`` (a large single archive; embeddings of 1,536 filled dimensions
   zero-padded to 4,096 as Letta pads OpenAI's small model, or all 4,096 filled), with a progress bar;
3. times Letta's exact search (join on the agent's archive, ``ORDER BY embedding <=> q LIMIT 5``) for
   random agents, with EXPLAIN (ANALYZE, BUFFERS); ``--levers`` adds the parallel-query settings and the
   TOAST storage check;
4. prints markdown tables (latency, pages, sizes, Aurora I/O and break-even, cache per ACU), writes
   ``--plot`` (PNG) and ``--json``; then deletes its rows unless ``--keep`` (a later run reuses kept data).

Numbers are measurements, not tests; ``tests/test_memory_benchmark.py`` runs a small size in CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg

from scripts.memory_bench import report
from scripts.memory_bench.costs import GIB
from scripts.memory_bench.letta_schema import (
    MAX_EMBEDDING_DIM,
    OPENAI_SMALL_DIM,
    has_letta_schema,
    letta_uri,
    run_letta_migrations,
)
from scripts.memory_bench.load import Shape, drop_bench_data, load_shape, multi_tenant, single_archive
from scripts.memory_bench.measure import (
    SearchResult,
    column_storage,
    run_searches,
    table_sizes,
    toast_check,
)
from scripts.operator_cli import PASSWORD_HINT, Parser, dsn_argument, output_file, whole_number, whole_numbers

ROOT = Path(__file__).resolve().parents[1]
SEARCHES_PER_DAY = (1_000, 10_000, 100_000, 1_000_000)
ACUS = (0.5, 1, 2, 4, 8)
LEVER_SETTINGS = ("no-parallel", "parallel-2", "parallel-2-eager")


def rehearsal_dsn(state_dir: Path) -> str:
    """The rehearsal's app-role URI (the same one Letta gets), from ``local_stack.py``'s state."""
    from scripts.local_stack import State, app_uri

    state = State.load(state_dir)
    if state is None:
        raise SystemExit(f"no rehearsal state in {state_dir}: run `scripts/local_stack.py up --offline`, or pass --dsn")
    return app_uri(state)


def archive_searches(size: int, searches: int) -> int:
    """Fewer timed searches for big archives (100k takes seconds each), at least 5."""
    return max(5, min(searches, 2_000_000 // max(size, 1)))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = Parser(
        prog="benchmark_memory.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--passages", type=whole_number(0, 100_000_000), default=2000, help="passages over all --agents (0: none)"
    )
    parser.add_argument("--agents", type=whole_number(1, 1_000_000), default=20, help="agents sharing --passages")
    parser.add_argument(
        "--archive-sizes",
        type=whole_numbers(1, 10_000_000, empty=True),
        default="1000,10000",
        help="single-archive sizes, comma-separated, '' for none (default 1000,10000; docs/memory.md adds 100000)",
    )
    parser.add_argument(
        "--widths",
        type=whole_numbers(1, MAX_EMBEDDING_DIM),
        default=f"{OPENAI_SMALL_DIM},4096",
        help=f"filled dims of the single archives, each 1-{MAX_EMBEDDING_DIM}",
    )
    parser.add_argument("--searches", type=whole_number(1, 100_000), default=200, help="timed searches per shape")
    parser.add_argument("--levers", action="store_true", help="also measure parallel-query settings and TOAST")
    parser.add_argument(
        "--dsn",
        type=dsn_argument,
        metavar="URI",
        help=f"PostgreSQL URI without a password ({PASSWORD_HINT}); default: the rehearsal's database",
    )
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".local" / "rehearsal", help="rehearsal state")
    parser.add_argument("--migrate", action="store_true", help="run Letta's migrations if the schema is missing")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's rows (a re-run reuses them)")
    parser.add_argument("--plot", type=output_file, help="write the latency plot (PNG) here")
    parser.add_argument("--json", type=output_file, help="write all results as JSON here")
    return parser.parse_args(argv)


def shapes_from(args: argparse.Namespace) -> tuple[Shape | None, list[Shape]]:
    tenants = multi_tenant(args.passages, args.agents, OPENAI_SMALL_DIM) if args.passages and args.agents else None
    return tenants, [single_archive(n, w) for w in args.widths for n in args.archive_sizes]


def run(args: argparse.Namespace) -> dict[str, object]:
    dsn = args.dsn or rehearsal_dsn(args.state_dir)
    tenants, archives = shapes_from(args)
    with psycopg.connect(dsn, autocommit=True) as connection:
        if not has_letta_schema(connection):
            if not args.migrate:
                raise SystemExit("no Letta schema in that database: pass --migrate to run Letta's own migrations")
            try:
                uri = letta_uri(connection)
            except ValueError as exc:
                raise SystemExit(f"--migrate: Letta cannot connect to that database: {exc}") from None
            run_letta_migrations(uri)
        load_seconds = {s.name: load_shape(connection, s) for s in ([tenants] if tenants else []) + archives}
        results: list[SearchResult] = []
        if tenants:
            results.append(run_searches(connection, tenants, searches=args.searches, explains=5))
        settings = LEVER_SETTINGS if args.levers else ("default",)
        for shape in archives:
            for setting in settings:
                n = archive_searches(shape.per_agent, args.searches)
                results.append(run_searches(connection, shape, searches=n, explains=2, setting=setting))
        sizes = table_sizes(connection)
        storage = column_storage(connection)
        checks = toast_check(connection, archives[0]) if args.levers and archives else []
        if not args.keep:
            drop_bench_data(connection)
    return {
        "results": results,
        "load_seconds": load_seconds,
        "sizes": sizes,
        "storage": storage,
        "toast": checks,
    }


def print_report(outcome: dict[str, object]) -> None:
    results: list[SearchResult] = outcome["results"]  # type: ignore[assignment]
    sizes = outcome["sizes"]
    print("\n## Search latency (client wall time) and pages per search\n")
    print(report.search_table(results, outcome["load_seconds"]))  # type: ignore[arg-type]
    print("\n## archival_passages on disk\n")
    print(report.sizes_table(sizes, str(outcome["storage"])))  # type: ignore[arg-type]
    if outcome["toast"]:
        print("\n## TOAST: the same embeddings under EXTERNAL and EXTENDED\n")
        print(report.toast_table(outcome["toast"]))  # type: ignore[arg-type]
    per_passage = sizes.total / max(sizes.rows, 1)  # type: ignore[attr-defined]
    pages = report.cold_pages(results, per_passage)
    storage_gb = sizes.total / GIB  # type: ignore[attr-defined]
    print("\n## Aurora Standard read I/O per month, every page from storage (cold cache)\n")
    print(report.io_table(pages, SEARCHES_PER_DAY))
    print(f"\n## Searches/day above which aurora-iopt1 is cheaper (storage {storage_gb:.1f} GB)\n")
    print(report.break_even_table(pages, ACUS, storage_gb))
    print("\n## Buffer cache per ACU and the passages it holds\n")
    print(report.cache_table(ACUS, per_passage))
    for r in results:
        if r.plans:
            print(f"\n### EXPLAIN (ANALYZE, BUFFERS): {r.shape} [{r.setting}]\n\n```\n{r.plans[0].text}\n```")


def to_json(outcome: dict[str, object]) -> str:
    def encode(value: object) -> object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            data = dataclasses.asdict(value)
            if isinstance(value, SearchResult):
                data.update(p50=value.p50, p95=value.p95, max=value.max, pages=value.pages, pages_read=value.pages_read)
            return data
        raise TypeError(type(value))

    return json.dumps(outcome, default=encode, indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    outcome = run(args)
    print_report(outcome)
    if args.plot:
        report.plot(outcome["results"], args.plot)  # type: ignore[arg-type]
        print(f"\nplot: {args.plot}")
    if args.json:
        args.json.write_text(to_json(outcome), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
