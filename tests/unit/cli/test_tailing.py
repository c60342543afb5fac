"""The stream client: from a server (reconnecting and resuming with since, no duplicate),
or from the store directly; bad URLs and refused tokens are usage errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from arbitrex.cli.tailing import TailEvent, from_server, from_store
from arbitrex.client import ws_url
from arbitrex.errors import ConfigError
from arbitrex.model.tick import Tick
from arbitrex.runtime.stop import Stop
from arbitrex.stores.memory import MemoryStore
from arbitrex.stores.sqlite import SqliteStore
from tests.conftest import free_port
from tests.history import T0, make_tick
from tests.unit.stream.servers import Server


def tick(seq: int, symbol: str = "EURUSD") -> Tick:
    return make_tick(symbol=symbol, seq=seq, ms=T0 + seq, ask=1.2, recv_ns=time.time_ns())


def test_urls() -> None:
    assert ws_url("ws://127.0.0.1:8000", "t") == "ws://127.0.0.1:8000/ws?token=t"
    assert ws_url("wss://h:1/ws?token=a", "b") == "wss://h:1/ws?token=a"
    for bad in ("http://127.0.0.1:8000/ws", "127.0.0.1:8000", "ws://"):
        with pytest.raises(ConfigError) as caught:
            ws_url(bad, None)
        assert caught.value.setting == "url" and caught.value.exit_code == 2


def ticks_of(events: Iterator[TailEvent], n: int) -> list[tuple[int, bool]]:
    got: list[tuple[int, bool]] = []
    for event in events:
        if event.tick is not None:
            got.append((event.tick.seq, event.snapshot))
            if len(got) == n:
                break
    return got


def test_resumes_across_a_server_restart_with_no_duplicate() -> None:
    store = MemoryStore()
    store.add([tick(i) for i in range(1, 4)])
    port = free_port()
    server = Server(store, port)
    stop = Stop()
    events = from_server(f"ws://127.0.0.1:{port}/ws", ["EURUSD"], stop=stop, max_backoff=0.2)
    try:
        assert ticks_of(events, 1) == [(3, True)]  # the snapshot: the last stored tick
        store.add([tick(4), tick(5)])
        assert ticks_of(events, 2) == [(4, False), (5, False)]
        server.close()
        store.add([tick(i) for i in range(6, 9)])  # stored while the server is away
        server = Server(store, port)
        assert ticks_of(events, 3) == [(6, False), (7, False), (8, False)]
    finally:
        stop.set()
        server.close()


def test_a_refused_token_is_a_usage_error() -> None:
    port = free_port()
    server = Server(MemoryStore(), port, token="right")
    try:
        with pytest.raises(ConfigError) as caught:
            next(from_server(f"ws://127.0.0.1:{port}/ws", ["EURUSD"], stop=Stop(),
                             token="wrong"))
        assert caught.value.setting == "WS_TOKEN" and "401" in str(caught.value)
    finally:
        server.close()


def test_from_the_store_a_snapshot_then_what_comes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "ticks.db")
    try:
        store.append([tick(0), tick(0), tick(0, "GBPUSD")])
        stop = Stop()
        events = from_store(store, store, ["EURUSD"], stop=stop, poll_timeout=0.01)
        assert ticks_of(events, 1) == [(2, True)]
        store.append([tick(0, "GBPUSD"), tick(0)])
        assert ticks_of(events, 1) == [(3, False)]  # GBPUSD is not followed
        stop.set()
        assert all(e.tick is None for e in events)  # it ends once stopped
    finally:
        store.close()


def test_best_views_show_the_snapshot_once_then_a_view_per_tick() -> None:
    from arbitrex.cli.tailing import TailEvent, best_views

    def quote(venue: str, seq: int, bid: float) -> Tick:
        return Tick(venue, "EURUSD", seq, 1_800_000_000_000 + seq, bid, bid + 0.0001, 0.0, 0,
                    0.0, 6, 0, 0)

    events = [TailEvent("tick", quote("a", 1, 1.1), snapshot=True),
              TailEvent("tick", quote("b", 1, 1.2), snapshot=True),
              TailEvent("idle"),
              TailEvent("tick", quote("a", 2, 1.3)),
              TailEvent("tick", quote("a", 2, 1.3))]  # already held: no new view
    views = list(best_views(events, stale_after_ms=10_000))
    assert [(v.snapshot, v.view and v.view.bid_venue) for v in views] == [
        (True, "b"), (False, None), (False, "a")]


def test_the_view_table_marks_best_stale_and_edges() -> None:
    from rich.console import Console

    from arbitrex.cli.tail import _view_table
    from arbitrex.stream.best import consolidate

    ticks = {"icm": Tick("icm", "EURUSD", 1, 100_000, 1.08505, 1.08507, 0, 0, 0, 6, 0, 0),
             "slow": Tick("slow", "EURUSD", 1, 80_000, 1.08400, 1.08410, 0, 0, 0, 6, 0, 0),
             "pep": Tick("pep", "EURUSD", 1, 99_990, 1.08501, 1.08503, 0, 0, 0, 6, 0, 0)}
    console = Console(record=True, width=140)
    console.print(_view_table({"EURUSD": consolidate("EURUSD", ticks)}, "test"))
    text = console.export_text()
    assert "stale" in text and "sell icm / buy pep" in text and "+2.0" in text
    edge_row = next(line for line in text.splitlines() if "sell icm / buy pep" in line)
    header = next(line for line in text.splitlines() if "edge (pts)" in line)
    assert edge_row.index("+2.0") > header.index("spread (pts)") + len("spread (pts)")


def test_the_tick_table_shows_one_point_per_symbol_across_venues() -> None:
    """A broker quoting one decimal fewer is not ten times tighter: its spread is in the
    symbol's point (the most decimals any venue quotes)."""
    from rich.console import Console

    from arbitrex.cli.tail import _Row, _table

    rows = {}
    for venue, bid, ask in (("icm", 1.08501, 1.08511), ("oanda", 1.0850, 1.0851)):
        tick = Tick(venue, "EURUSD", 1, 100_000, bid, ask, 0, 0, 0, 6, 0, 0)
        rows[tick.key] = _Row(tick)
        rows[tick.key].update(tick)
    console = Console(record=True, width=140)
    console.print(_table(rows, "test"))
    lines = [line for line in console.export_text().splitlines() if "EURUSD" in line]
    assert len(lines) == 2 and all(" 10 " in line for line in lines), lines
    assert any("1.08500" in line for line in lines)
