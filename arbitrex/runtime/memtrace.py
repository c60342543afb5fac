"""Where a long-running server's memory goes, when asked: with ``PYTHONTRACEMALLOC=1`` and
``ARBITREX_TRACEMALLOC=FILE`` in its environment, ``serve`` takes a tracemalloc snapshot a
minute after it starts and, every minute after that, writes to FILE the lines whose
allocations grew most since then (scripts/memory_probe.py reads it). Off otherwise: nothing
is traced and nothing is written."""

from __future__ import annotations

import asyncio
import os
import tracemalloc
from pathlib import Path

__all__ = ["trace_memory", "wanted"]

TOP = 15


def wanted() -> Path | None:
    """The file to write, when tracing was asked for and is on."""
    path = os.environ.get("ARBITREX_TRACEMALLOC")
    return Path(path) if path and tracemalloc.is_tracing() else None


async def trace_memory(path: Path, every: float = 60.0) -> None:
    """Snapshot after ``every`` seconds; then, every ``every`` seconds, write what grew."""
    await asyncio.sleep(every)
    first = tracemalloc.take_snapshot()
    elapsed = every
    while True:
        await asyncio.sleep(every)
        elapsed += every
        now = tracemalloc.take_snapshot()
        growth = now.compare_to(first, "lineno")[:TOP]
        current, peak = tracemalloc.get_traced_memory()
        lines = [f"traced now {current / 2**20:.1f} MiB (peak {peak / 2**20:.1f} MiB); the "
                 f"{TOP} lines that grew most from {every:.0f} s to {elapsed:.0f} s:"]
        lines += [f"  {stat}" for stat in growth]
        await asyncio.to_thread(path.write_text, "\n".join(lines) + "\n", encoding="utf-8")
