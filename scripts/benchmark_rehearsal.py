#!/usr/bin/env python3
"""Benchmarks for the local rehearsal, on a warm machine (run `scripts/local_stack.py up` once before).

1. time from `local_stack.py up --offline` to a healthy Letta (the stack is taken down first, data kept);
2. time of the smoke test against it (the walkthrough's agent flow, database checks included);
3. an archival-memory search over one archive of N passages (1k, 10k, 100k), through
   `scripts/benchmark_memory.py` on the rehearsal's own database: Letta's exact query on Letta's migrated
   schema (the multi-tenant shapes, the levers and the Aurora arithmetic are that script's; see docs/memory.md).

Prints a table; `--json` for machines. Not a test: nothing here asserts, it measures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.operator_cli import Parser, whole_number, whole_numbers

ROOT = Path(__file__).resolve().parents[1]
DIMENSIONS = 4096
# Letta's real embeddings fill the first 1,536 (text-embedding-3-small) and zero-pad the rest.
FILLED = 1536


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


def search_timings(sizes: Sequence[int], *, repeats: int, state_dir: Path) -> list[dict[str, float]]:
    """Letta's archival search over one archive of each size, on the rehearsal's own migrated database.

    Delegates to ``benchmark_memory`` (Letta's exact query on Letta's schema, not a look-alike table); its
    rows are removed afterwards.
    """
    from scripts.benchmark_memory import parse_args, run

    argv = ["--passages", "0", "--archive-sizes", ",".join(map(str, sizes)), "--widths", str(FILLED)]
    args = parse_args([*argv, "--searches", str(repeats), "--state-dir", str(state_dir)])
    outcome = run(args)
    rows = []
    for result in outcome["results"]:  # type: ignore[attr-defined]
        rows.append(
            {
                "passages": result.archive_passages,
                "load_s": outcome["load_seconds"][result.shape],  # type: ignore[index]
                "search_median_ms": result.p50,
                "search_max_ms": result.max,
            }
        )
        print(f"  {result.archive_passages:>7} passages: search median {result.p50:.1f} ms", file=sys.stderr)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(
        prog="benchmark_rehearsal.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=whole_numbers(1, 1_000_000),
        default="1000,10000,100000",
        help="passage counts (default 1000,10000,100000)",
    )
    parser.add_argument(
        "--repeats", type=whole_number(1, 1000), default=5, help="searches per size, 1-1000 (default 5)"
    )
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".local" / "rehearsal", help="rehearsal state")
    parser.add_argument("--search-only", action="store_true", help="skip the rehearsal up/smoke timings")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    sizes = args.sizes
    results: dict[str, object] = {}
    if not args.search_only:
        results["rehearsal"] = rehearsal_timings()
    results["archival_search"] = search_timings(sizes, repeats=args.repeats, state_dir=args.state_dir)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if "rehearsal" in results:
        timings = results["rehearsal"]
        assert isinstance(timings, dict)
        print(f"up --offline to healthy: {timings['up_to_healthy_s']:.1f} s")
        print(f"smoke test:              {timings['smoke_test_s']:.1f} s")
    print(f"\narchival search, Letta's query on the rehearsal's schema, {FILLED} dims padded to {DIMENSIONS}:")
    print(f"{'passages':>9} {'load s':>8} {'median ms':>10} {'max ms':>8}")
    for row in results["archival_search"]:  # type: ignore[union-attr]
        print(
            f"{row['passages']:>9} {row['load_s']:>8.1f} {row['search_median_ms']:>10.1f} {row['search_max_ms']:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
