"""arbitrex.client against a real server (in a thread) over a real socket: ticks, resume
across a restart without a duplicate, gaps as items, views, batches, the token."""

from __future__ import annotations

import asyncio
import time

import pytest

from arbitrex import client
from arbitrex.client import connect
from arbitrex.errors import ConfigError
from arbitrex.model import Best, Gap
from arbitrex.model.tick import Tick
from arbitrex.stores.memory import MemoryStore
from tests.conftest import free_port
from tests.unit.stream.servers import Server


def tick(seq: int, venue: str = "sim", bid: float = 1.1) -> Tick:
    ms = 1_800_000_000_000 + seq
    return Tick(venue, "EURUSD", seq, ms, bid, bid + 0.0002, 0.0, 0, 0.0, 6, time.time_ns(), ms)


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
        got = list(_first(client.ticks(server.url, ["EURUSD"], since={"sim:EURUSD": 2}), 3))
        assert got[0] == Gap("sim", "EURUSD", 3, 4, "history_trimmed")
        assert [(t.venue, t.seq) for t in got[1:]] == [("icm", 1), ("sim", 5)]
        view = next(client.ticks(server.url, ["EURUSD"], view="best"))
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
