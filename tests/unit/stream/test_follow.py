"""The hub's reading of the store on the event loop: rung or timed, in order, and never
stopped for good by a failed read or a failed dispatch."""

from __future__ import annotations

import asyncio
import logging
import time

from arbitrex.errors import StoreError
from arbitrex.model.tick import Tick
from arbitrex.stores.memory import MemoryStore
from arbitrex.stores.sqlite import SqliteStore
from arbitrex.stream import follow
from tests.conftest import until
from tests.history import T0, make_tick


def tick(i: int) -> Tick:
    return make_tick(seq=i, ms=T0 + i, ask=1.2, recv_ns=time.time_ns())


def test_a_store_without_a_doorbell_is_polled_and_read_in_full_in_order():
    async def main():
        store = MemoryStore()
        got: list[list[int]] = []
        reader = follow.InLoop(store, lambda ticks: got.append([t.seq for t in ticks]),
                               store.head(), limit=2, poll_interval=0.001, bell=None)
        store.add([tick(i) for i in range(1, 6)])
        await until(lambda: sum(map(len, got)) == 5)
        reader.close()
        assert got == [[1, 2], [3, 4], [5]]  # a full read is followed by another at once

    asyncio.run(main())


def test_a_ring_reads_at_once_and_a_later_failed_read_is_retried(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(follow, "RETRY_AFTER", 0.05)

    async def main():
        store = SqliteStore(tmp_path / "ticks.db")
        got: list[int] = []
        reader = follow.InLoop(store, lambda ticks: got.extend(t.seq for t in ticks),
                               store.head(), limit=100, poll_interval=0.001,
                               bell=store.listen())
        await reader.start()
        reader.timer.cancel()  # only the doorbell wakes it now
        started = time.monotonic()
        store.append([tick(1)])
        await until(lambda: got == [1])
        assert time.monotonic() - started < 0.2
        real = store.follow
        calls = []

        def failing_once(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise StoreError("disk I/O error")
            return real(*args, **kwargs)

        store.follow = failing_once  # type: ignore[method-assign]
        store.append([tick(2)])
        await until(lambda: calls)
        assert got == [1]
        await asyncio.sleep(0.06)
        store.append([tick(3)])  # the next ring, after RETRY_AFTER, reads both
        await until(lambda: got == [1, 2, 3])
        reader.close()
        store.close()

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert "following the store failed, retrying in 0.05 s: disk I/O error" in caplog.text


def test_a_dispatch_that_fails_is_logged_and_following_goes_on(caplog):
    async def main():
        store = MemoryStore()
        got: list[int] = []

        def dispatch(ticks):
            if not got:
                got.append(0)
                raise RuntimeError("a bug")
            got.extend(t.seq for t in ticks)

        reader = follow.InLoop(store, dispatch, store.head(), limit=100, poll_interval=0.001,
                               bell=None)
        store.add([tick(1)])
        await until(lambda: got == [0])
        store.add([tick(2)])
        await until(lambda: got == [0, 2])
        reader.close()

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert "dispatching 1 ticks failed" in caplog.text and "RuntimeError: a bug" in caplog.text


def test_tail_sleeps_on_the_doorbell_instead_of_polling_the_file(tmp_path):
    """tail from SQLite: idle, a handful of reads a second (not one a millisecond); a tick
    stored by a ringing writer is read at once."""
    import threading

    from arbitrex.cli.tailing import reads
    from arbitrex.stores.sqlite import SqliteStore
    from tests.conftest import wait_for
    from tests.history import ticks_at

    writer = SqliteStore(tmp_path / "t.db")
    reader = SqliteStore(tmp_path / "t.db")
    queries = 0
    real_query = reader._query

    def counted(*args, **kwargs):
        nonlocal queries
        queries += 1
        return real_query(*args, **kwargs)

    reader._query = counted  # type: ignore[method-assign]
    stop = threading.Event()
    got: list[tuple[float, int]] = []

    def follow() -> None:
        for ticks in reads(reader, reader.head(), stop=stop, wait=0.2):
            got.extend((time.monotonic(), t.seq) for t in ticks)

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        time.sleep(1.0)  # a second of idleness, measured: not a wait for a condition
        idle = queries
        written = time.monotonic()
        writer.append(ticks_at(0)[:1])
        wait_for(lambda: got, timeout=5, what="the tick")
    finally:
        stop.set()
        thread.join(timeout=5)
    assert idle < 30, idle  # polling every millisecond made ~1,000
    assert got[0][0] - written < 0.1


class Blocking:
    """A store whose follow blocks (as Redis' XREAD does): every read waits a little, the
    first ones fail (a StoreError, then a bug), and dispatches are counted."""

    def __init__(self) -> None:
        self.memory = MemoryStore()
        self.calls = 0

    def head(self) -> int:
        return 0

    def follow(self, cursor: int, *, timeout: float, limit: int) -> tuple[list[Tick], int]:
        self.calls += 1
        if self.calls == 1:
            raise StoreError("redis went away")
        if self.calls == 2:
            raise RuntimeError("a bug")
        time.sleep(0.001)
        return self.memory.follow(cursor, timeout=0, limit=limit)

    def close(self) -> None:
        pass


def test_a_blocking_store_is_read_by_one_thread_that_survives_failures(monkeypatch, caplog):
    monkeypatch.setattr(follow, "RETRY_AFTER", 0.01)
    store = Blocking()

    async def main() -> list[int]:
        stop = asyncio.Event()
        got: list[int] = []
        loop_thread = []

        def dispatch(ticks):
            loop_thread.append(asyncio.get_running_loop() is not None)
            got.extend(t.seq for t in ticks)

        task = asyncio.ensure_future(follow.follow(store, dispatch, stop, limit=3))
        store.memory.add([tick(i) for i in range(1, 11)])
        await until(lambda: len(got) == 10)
        stop.set()
        await asyncio.wait_for(task, 5)
        assert all(loop_thread)  # dispatched on the loop, not in the reading thread
        return got

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(main()) == list(range(1, 11))
    assert "redis went away" in caplog.text and "a bug" in caplog.text
