"""Aurora arithmetic on measured pages: I/O charges, the storage-type break-even, the cache per ACU.

Prices are us-east-1 list prices (recheck before quoting), from https://aws.amazon.com/rds/aurora/pricing/:
Aurora Standard bills $0.20 per million I/O requests and $0.10 per GB-month of storage; I/O-Optimized
bills no I/O, $0.225 per GB-month, and compute about 30 % dearer (Serverless v2: $0.12 vs $0.156 per
ACU-hour). A read I/O is one 8 KiB database page read from the storage volume; a page found in the buffer
cache costs none. Aurora PostgreSQL does not use the file-system cache, so the buffer cache is the only cache
(https://repost.aws/knowledge-center/rds-aurora-postgresql-shared-buffers: default 50-75 % of memory).

Memory per ACU: "each ACU ... approximately 2 GiB of memory" (Aurora User Guide, *Requirements and
limitations for Aurora Serverless v2*). The share of it that holds pages is an assumption: Aurora
PostgreSQL's default ``shared_buffers`` formula for provisioned instances, ``DBInstanceClassMemory/12038``
pages of 8 KiB minus 50,003 pages, applied to 2 GiB per ACU.
"""

from __future__ import annotations

from dataclasses import dataclass

IO_PRICE_PER_MILLION = 0.20
STORAGE_STANDARD_GB_MONTH = 0.10
STORAGE_IO_OPTIMIZED_GB_MONTH = 0.225
ACU_HOUR_STANDARD = 0.12
ACU_HOUR_IO_OPTIMIZED = 0.156
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = 30
PAGE_BYTES = 8192
GIB = 2**30
MEMORY_PER_ACU_GIB = 2.0


def monthly_io_cost(pages_per_search: float, searches_per_day: float) -> float:
    """Dollars per month of read I/O on Aurora Standard when every page a search touches is read from storage."""
    return pages_per_search * searches_per_day * DAYS_PER_MONTH * IO_PRICE_PER_MILLION / 1e6


def io_optimized_premium(average_acu: float, storage_gb: float) -> float:
    """Dollars per month I/O-Optimized adds (dearer ACU-hours and storage) before the I/O it saves."""
    compute = average_acu * HOURS_PER_MONTH * (ACU_HOUR_IO_OPTIMIZED - ACU_HOUR_STANDARD)
    storage = storage_gb * (STORAGE_IO_OPTIMIZED_GB_MONTH - STORAGE_STANDARD_GB_MONTH)
    return compute + storage


def break_even_searches_per_day(pages_per_search: float, average_acu: float, storage_gb: float) -> float:
    """Searches per day (all pages read from storage) above which ``aurora-iopt1`` costs less."""
    per_search = pages_per_search * DAYS_PER_MONTH * IO_PRICE_PER_MILLION / 1e6
    return io_optimized_premium(average_acu, storage_gb) / per_search if per_search else float("inf")


def buffer_cache_bytes(acu: float) -> float:
    """Assumed buffer cache at ``acu`` ACUs (see the module docstring)."""
    memory = acu * MEMORY_PER_ACU_GIB * GIB
    return max(0.0, (memory / 12038 - 50003) * PAGE_BYTES)


@dataclass(frozen=True)
class CacheFit:
    acu: float
    cache_gib: float
    passages_cached: int


def cache_fit(acus: list[float], bytes_per_passage: float) -> list[CacheFit]:
    """How many passages (heap, TOAST and indexes at the measured average) the cache holds at each ACU."""
    return [
        CacheFit(acu, buffer_cache_bytes(acu) / GIB, int(buffer_cache_bytes(acu) / bytes_per_passage)) for acu in acus
    ]
