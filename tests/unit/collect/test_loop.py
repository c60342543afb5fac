"""The collection loop on scripted sources: batching, order, nothing lost at the end."""

from __future__ import annotations

import threading
import time

import pytest

from arbitrex.collect.loop import Collector
from arbitrex.model.tick import Tick
from arbitrex.stores.sqlite import SqliteStore
from tests.history import T0, make_tick


def tick(i: int, symbol: str = "EURUSD") -> Tick:
    return make_tick(venue="test", symbol=symbol, ms=T0 + i, bid=1.0 + i * 1e-5,
                     ask=1.1 + i * 1e-5, recv_ns=time.time_ns())


class Scripted:
    """Hands out ``script[k]`` on the k-th poll, then nothing (exhausted)."""

    venue = "test"
    fresh_starts: dict[str, int] = {}

    def __init__(self, script: list[list[Tick]], fail_after: int | None = None) -> None:
        self.script, self.polls, self.fail_after = script, 0, fail_after
        self.timeouts: list[float] = []

    @property
    def exhausted(self) -> bool:
        return self.polls >= len(self.script)

    def open(self, positions: object) -> None: ...

    def poll(self, timeout: float) -> list[Tick]:
        self.timeouts.append(timeout)
        if self.fail_after is not None and self.polls >= self.fail_after:
            raise ConnectionError("the terminal went away")
        self.polls += 1
        return self.script[self.polls - 1] if self.polls <= len(self.script) else []

    def status(self) -> str:
        return ""

    def close(self) -> None: ...


def stored(store: SqliteStore) -> list[Tick]:
    return list(store.iter_range())


def test_a_backlog_is_taken_in_batches_of_at_most_max_batch(tmp_path):
    ticks = [tick(i) for i in range(7_000)]
    store = SqliteStore(tmp_path / "t.db")
    collector = Collector(Scripted([ticks[i:i + 1000] for i in range(0, 7000, 1000)]), store,
                          max_batch=5_000)
    started = time.monotonic()
    stats = collector.run(stop=threading.Event())
    assert time.monotonic() - started < 5  # a source that holds more is not waited on
    assert stats.total == 7_000 and stats.batches == 2  # 5,000 then the 2,000 left
    assert [t.seq for t in stored(store)] == list(range(1, 7_001))
    assert [t.bid for t in stored(store)] == [t.bid for t in ticks]


def test_what_one_poll_returns_is_stored_at_once_with_what_the_source_still_holds(tmp_path):
    # poll 1: a tick, and nothing more at once -> stored alone, without waiting; poll 3: two
    # ticks, and poll 4 (at once) one more -> one batch of three.
    source = Scripted([[tick(0)], [], [tick(1, "GBPUSD"), tick(2)], [tick(3)]])
    store = SqliteStore(tmp_path / "t.db")
    started = time.monotonic()
    stats = Collector(source, store).run(stop=threading.Event())
    assert time.monotonic() - started < 1
    assert stats.batches == 2 and stats.total == 4
    assert source.timeouts[1] == 0 and source.timeouts[3] == 0  # the source is not waited on
    assert [(t.symbol, t.seq) for t in stored(store)] == [
        ("EURUSD", 1), ("GBPUSD", 1), ("EURUSD", 2), ("EURUSD", 3)]


def test_what_was_received_is_stored_when_the_source_fails_mid_batch(tmp_path):
    source = Scripted([[tick(0), tick(1)], [tick(2)]], fail_after=2)
    store = SqliteStore(tmp_path / "t.db")
    collector = Collector(source, store)
    with pytest.raises(ConnectionError):
        collector.run(stop=threading.Event())
    assert [t.seq for t in stored(store)] == [1, 2, 3]


class Unreachable:
    """A store whose server answers only after ``down`` attempts (Redis down at start)."""

    def __init__(self, store: SqliteStore, down: int) -> None:
        self.store, self.down, self.asked = store, down, 0

    def positions(self, venue: str):
        from arbitrex.errors import StoreUnavailable

        self.asked += 1
        if self.asked <= self.down:
            raise StoreUnavailable("Redis is unreachable (connection refused)")
        return self.store.positions(venue)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


class Opened(Scripted):
    def open(self, positions: object) -> None:
        self.opened_with = positions


def test_a_store_that_cannot_say_where_streams_left_off_is_waited_for(tmp_path, caplog):
    """Reading the source from now would leave a hole its history could fill: wait."""
    sqlite = SqliteStore(tmp_path / "t.db")
    sqlite.append([tick(1), tick(2)])
    store = Unreachable(sqlite, down=3)
    source = Opened([[tick(3)]])
    collector = Collector(source, store, retry_initial=0.01, retry_max=0.02)
    with caplog.at_level("INFO"):
        collector.run(stop=threading.Event())
    assert store.asked == 4
    assert source.opened_with["EURUSD"].seq == 2  # type: ignore[index]
    assert [t.seq for t in stored(sqlite)] == [1, 2, 3]
    assert caplog.text.count("waiting for it before reading the source") == 1
    assert "the store answers" in caplog.text


def test_stopping_while_waiting_for_the_store_reads_nothing(tmp_path):
    store = Unreachable(SqliteStore(tmp_path / "t.db"), down=10**9)
    source = Opened([[tick(1)]])
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    Collector(source, store, retry_initial=0.01, retry_max=0.05).run(stop=stop)
    assert time.monotonic() - started < 2
    assert not hasattr(source, "opened_with") and source.polls == 0
