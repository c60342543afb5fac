"""arbitrex.client against a real server (in a thread) over a real socket: ticks, resume
across a restart without a duplicate, gaps as items, views, batches, the token."""

from __future__ import annotations

import asyncio
import time

import pytest

from arbitrex import client
from arbitrex.client import connect
from arbitrex.errors import ArbitrexError, ConfigError
from arbitrex.model import Best, Gap
from arbitrex.model.tick import Tick
from arbitrex.stores.memory import MemoryStore
from tests.conftest import free_port
from tests.history import T0, make_tick
from tests.unit.stream.servers import Server


def tick(seq: int, venue: str = "sim", bid: float = 1.1) -> Tick:
    return make_tick(venue=venue, seq=seq, ms=T0 + seq, bid=bid, ask=bid + 0.0002,
                     recv_ns=time.time_ns())


async def take(items, n: int) -> list:
    out = []
    async for item in items:
        out.append(item)
        if len(out) == n:
            break
    return out


def test_ticks_then_a_restart_resumed_without_a_duplicate() -> None:
    store = MemoryStore()
    store.add([tick(i) for i in range(1, 4)])
    port = free_port()
    server = Server(store, port)

    async def run() -> list:
        nonlocal server
        async with connect(f"ws://127.0.0.1:{port}/ws") as c:
            items = c.subscribe(["EURUSD"], since={"EURUSD": 1}, batch=True)
            got = await take(items, 2)  # 2 and 3, resumed after the 1 held
            server.close()
            store.add([tick(i) for i in range(4, 7)])
            server = Server(store, port)
            got += await take(items, 3)
            await items.aclose()
            return [t.seq for t in got]

    try:
        assert asyncio.run(run()) == [2, 3, 4, 5, 6]
    finally:
        server.close()


def test_gaps_and_views_are_items() -> None:
    store = MemoryStore()
    store.add([tick(i) for i in range(5, 9)] + [tick(1, "icm", 1.2)])  # 1..4 trimmed
    server = Server(store)
    try:
        got = list(_first(client.ticks(server.url, ["EURUSD"], since={"sim:EURUSD": 2},
                                       gaps=True), 3))
        assert got[0] == Gap("sim", "EURUSD", 3, 4, "history_trimmed")
        plain = list(_first(client.ticks(server.url, ["EURUSD"], since={"sim:EURUSD": 2}), 2))
        assert all(isinstance(t, Tick) for t in plain)  # gaps only when asked for
        assert [(t.venue, t.seq) for t in got[1:]] == [("icm", 1), ("sim", 5)]
        view = next(client.views(server.url, ["EURUSD"]))
        assert isinstance(view, Best) and view.bid_venue == "icm"
        assert set(view.venues) == {"icm", "sim"}
    finally:
        server.close()


def _first(items, n: int):
    for i, item in enumerate(items):
        yield item
        if i + 1 == n:
            items.close()
            return


def test_a_refused_token_and_a_bad_url_are_usage_errors() -> None:
    server = Server(MemoryStore(), token="right")
    try:
        with pytest.raises(ConfigError) as caught:
            next(client.ticks(server.url, ["EURUSD"], token="wrong"))
        assert caught.value.setting == "WS_TOKEN"
    finally:
        server.close()
    with pytest.raises(ConfigError):
        connect("http://127.0.0.1:1/ws")


def test_leaving_async_with_closes_every_subscription() -> None:
    """``connect`` has a lifecycle: the block's end closes the connections, and each
    subscription's iteration ends instead of reconnecting; a closed client refuses more."""
    store = MemoryStore()
    store.add([tick(i) for i in range(1, 4)])
    server = Server(store)

    async def run() -> tuple[list, bool]:
        async def drain(items) -> list:
            return [item async for item in items]

        async with connect(server.url) as c:
            items = c.subscribe(["EURUSD"], since={"EURUSD": 0})
            first = await items.__anext__()
            rest = asyncio.ensure_future(drain(items))
            await asyncio.sleep(0)  # the drain is waiting on the socket
        got = await asyncio.wait_for(rest, timeout=5)
        try:
            await c.subscribe(["EURUSD"]).__anext__()
        except ArbitrexError:
            refused = True
        else:
            refused = False
        return [first, *got], refused

    try:
        got, refused = asyncio.run(run())
    finally:
        server.close()
    assert [t.seq for t in got] == [1, 2, 3] and refused
