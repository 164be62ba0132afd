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
from stacks.letta_contract import VERSION

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
    """p50 latency (bar up to p95) against passages in the searched archive, one line per embedding width.

    Only the default settings (no parallel workers): the parallel-query settings never change Letta's plan,
    so their lines would only draw the machine's noise.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[SearchResult]] = {}
    for r in results:
        if r.setting not in ("default", "no-parallel"):
            continue
        if r.shape.startswith("archive-"):
            label = f"one agent's archive, {r.shape.rsplit('-w', 1)[1]} of 4096 dims filled"
        else:
            agents = r.shape.split("-")[1].split("x")[0]
            label = f"{int(agents) * r.archive_passages:,} passages over {int(agents):,} agents (random agent)"
        series.setdefault(label, []).append(r)
    fig, ax = plt.subplots(figsize=(6.0, 3.8), dpi=80)
    for label, points in sorted(series.items()):
        points.sort(key=lambda r: r.archive_passages)
        xs = [r.archive_passages for r in points]
        p50 = [r.p50 for r in points]
        upper = [r.p95 - r.p50 for r in points]
        style = "s" if "agents" in label else "o-"
        ax.errorbar(xs, p50, yerr=[[0] * len(xs), upper], fmt=style, capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("passages in the searched agent's archive")
    ax.set_ylabel("search latency, p50 (bar: p95), ms")
    ax.set_title(f"Letta {VERSION} archival search, vector(4096), no ANN index", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
