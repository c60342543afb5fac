"""The opt-in memory trace writes what grew, and stays off unless asked."""

from __future__ import annotations

import asyncio
import tracemalloc

from arbitrex.runtime import memtrace


def test_off_unless_asked(monkeypatch, tmp_path):
    monkeypatch.delenv("ARBITREX_TRACEMALLOC", raising=False)
    assert memtrace.wanted() is None
    monkeypatch.setenv("ARBITREX_TRACEMALLOC", str(tmp_path / "t.txt"))
    assert memtrace.wanted() is None or tracemalloc.is_tracing()  # needs tracing on too


def test_it_writes_the_lines_that_grew(tmp_path):
    path = tmp_path / "trace.txt"
    kept: list[bytes] = []

    async def main() -> None:
        task = asyncio.ensure_future(memtrace.trace_memory(path, every=0.05))
        for _ in range(40):  # grow for a while, with a deadline
            kept.append(b"x" * 100_000)
            await asyncio.sleep(0.01)
            if path.exists():
                break
        task.cancel()

    tracemalloc.start()
    try:
        asyncio.run(main())
    finally:
        tracemalloc.stop()
    text = path.read_text()
    assert text.startswith("traced now") and "test_memtrace.py" in text
