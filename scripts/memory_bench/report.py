"""Tables (tabulate, GitHub markdown) and the latency plot (matplotlib, PNG) of a benchmark run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tabulate import tabulate

from scripts.memory_bench.costs import (
    PAGE_BYTES,
    break_even_searches_per_day,
    cache_fit,
    monthly_io_cost,
)
from scripts.memory_bench.measure import SearchResult, TableSizes, ToastCheck

GIB = 2**30


def search_table(results: Sequence[SearchResult], load_seconds: dict[str, float]) -> str:
    rows = [
        [
            r.shape,
            r.setting,
            f"{r.archive_passages:,}",
            len(r.latencies_ms),
            f"{r.p50:.1f}",
            f"{r.p95:.1f}",
            f"{r.max:.1f}",
            f"{r.pages:,.0f}",
            f"{r.pages_read:,.0f}",
            " → ".join(dict.fromkeys(r.plans[0].nodes)) if r.plans else "",
            f"{load_seconds.get(r.shape, 0):.0f}",
        ]
        for r in results
    ]
    headers = ["shape", "setting", "passages/agent", "searches", "p50 ms", "p95 ms", "max ms"]
    headers += ["buffers/search", "read/search", "plan", "load s"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def sizes_table(sizes: TableSizes, storage: str) -> str:
    per_100k = sizes.per_passages(100_000) / GIB
    rows = [
        ["rows", f"{sizes.rows:,}"],
        ["heap", f"{sizes.heap / GIB:.2f} GiB"],
        ["TOAST (embeddings)", f"{sizes.toast / GIB:.2f} GiB"],
        ["indexes", f"{sizes.indexes / GIB:.2f} GiB"],
        ["per passage", f"{sizes.total / max(sizes.rows, 1):,.0f} B"],
        ["per 100k passages", f"{per_100k:.2f} GiB"],
        ["embedding column storage", storage],
    ]
    return tabulate(rows, headers=["archival_passages", ""], tablefmt="github", disable_numparse=True)


def toast_table(checks: Sequence[ToastCheck]) -> str:
    rows = [[c.storage, c.rows, f"{c.avg_bytes:,.0f}", c.compressed, f"{c.search_ms:.1f}"] for c in checks]
    headers = ["storage", "rows", "bytes/embedding", "compressed", "scan ms"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def cold_pages(results: Sequence[SearchResult], bytes_per_passage: float) -> dict[str, float]:
    """Distinct 8 KiB pages one search of each archive size reads when none is cached (Aurora read I/Os).

    From the table's measured bytes per passage (heap, TOAST, indexes), because EXPLAIN's buffer counts
    count a TOAST page once per chunk fetched from it, and its reads depend on what happens to be cached.
    """
    sizes = sorted({r.archive_passages for r in results})
    return {f"{n:,} passages": n * bytes_per_passage / PAGE_BYTES for n in sizes}


def io_table(pages: dict[str, float], searches_per_day: Sequence[int]) -> str:
    """Monthly Standard I/O dollars per (archive size, searches per day), every page read from storage."""
    rows = [
        [name, f"{p:,.0f}", *[f"${monthly_io_cost(p, n):,.2f}" for n in searches_per_day]] for name, p in pages.items()
    ]
    headers = ["archive searched", "pages/search", *[f"{n:,}/day" for n in searches_per_day]]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def break_even_table(pages: dict[str, float], acus: Sequence[float], storage_gb: float) -> str:
    rows = [
        [name, *[f"{break_even_searches_per_day(p, a, storage_gb):,.0f}" for a in acus]] for name, p in pages.items()
    ]
    headers = ["archive searched", *[f"avg {a:g} ACU" for a in acus]]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def cache_table(acus: Sequence[float], bytes_per_passage: float) -> str:
    rows = [
        [f"{f.acu:g}", f"{f.acu * 2:g} GiB", f"{f.cache_gib:.2f} GiB", f"{f.passages_cached:,}"]
        for f in cache_fit(list(acus), bytes_per_passage)
    ]
    headers = ["ACU", "memory", "buffer cache (assumed)", "passages cached"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def plot(results: Sequence[SearchResult], path: Path) -> None:
    """p50 latency against passages in the searched archive, one line per shape family and setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float, float]]] = {}
    for r in results:
        family = r.shape.split("-w")[-1]
        label = (
            f"one archive, {family} filled, {r.setting}"
            if r.shape.startswith("archive-")
            else f"{r.shape.split('-')[1]} agents (random agent), {r.setting}"
        )
        series.setdefault(label, []).append((r.archive_passages, r.p50, r.p95))
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=90)
    for label, points in sorted(series.items()):
        points.sort()
        xs = [p[0] for p in points]
        ax.plot(xs, [p[1] for p in points], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("passages in the searched agent's archive")
    ax.set_ylabel("search p50 (ms)")
    ax.set_title("Letta 0.16.8 archival search, vector(4096), no ANN index")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
