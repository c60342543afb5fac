"""Redis followed by the event loop itself (stores/redis_loop.py), against real
redis-server processes and a server that never answers."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
import redis

from arbitrex.stores.redis import RedisStore
from arbitrex.stores.redis_keys import stream_key
from arbitrex.stores.redis_loop import Address, address
from arbitrex.stream import follow
from tests.conftest import until
from tests.history import make_tick
from tests.redis_server import REDIS_SERVER

pytestmark = pytest.mark.skipif(not REDIS_SERVER, reason="redis-server is not installed")


def test_the_urls_a_plain_connection_reaches_and_the_ones_left_to_a_thread():
    assert address("redis://u:p@127.0.0.1:6390/2") == Address("127.0.0.1", 6390, "u", "p", 2)
    assert address("redis://127.0.0.1") == Address("127.0.0.1", 6379, None, None, 0)
    assert address("rediss://127.0.0.1:6390/0") is None  # TLS
    assert address("unix:///tmp/redis.sock?db=1") is None


def test_a_password_and_a_database_followed_on_the_loop_with_no_thread(redis_server):
    """AUTH and SELECT are sent first; a batch over three streams, and a stream that
    appears later, reach dispatch whole, and no thread reads."""
    redis_server.client().config_set("requirepass", "s3cret")
    url = f"redis://:s3cret@127.0.0.1:{redis_server.port}/3"
    writer, reader = RedisStore(url), RedisStore(url, discover_interval=0.05)
    writer.append([make_tick(symbol=s, ms=1) for s in ("EURUSD", "GBPUSD", "USDJPY")])
    got: list[list[tuple[str, int]]] = []

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(follow.follow(
            reader, lambda ticks: got.append([(t.symbol, t.seq) for t in ticks]), stop,
            limit=100))
        await asyncio.sleep(0.3)  # blocked in XREAD
        assert not [t for t in threading.enumerate() if t.name == "arbitrex-follow"]
        await asyncio.to_thread(writer.append, [make_tick(symbol=s, ms=2)
                                                for s in ("EURUSD", "GBPUSD", "USDJPY")])
        await until(lambda: sum(map(len, got)) == 3)
        await asyncio.to_thread(writer.append, [make_tick(symbol="XAUUSD", ms=3)])
        await until(lambda: sum(map(len, got)) == 4)
        stop.set()
        await asyncio.wait_for(task, 2)

    asyncio.run(main())
    assert sorted(got[0]) == [("EURUSD", 2), ("GBPUSD", 2), ("USDJPY", 2)]  # one dispatch
    assert got[1:] == [[("XAUUSD", 1)]]
    # all of it on database 3, none on 0
    assert redis.Redis(port=redis_server.port, password="s3cret").dbsize() == 0


def test_a_redis_that_stops_answering_is_reported_and_connected_to_again(
        redis_server, monkeypatch, caplog):
    """A server that takes the connection and never answers: the wait ends after the
    socket timeout, the failure is logged, and the follower connects again."""
    monkeypatch.setattr(follow, "RETRY_AFTER", 0.05)
    store = RedisStore(redis_server.url, socket_timeout=0.3)
    connections: list[asyncio.StreamWriter] = []

    async def main() -> None:
        async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(writer)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        store.url = f"redis://127.0.0.1:{port}/0"
        stop = asyncio.Event()
        task = asyncio.ensure_future(follow.follow(store, lambda ticks: None, stop, limit=10,
                                                   cursor={"arbitrex:ticks:{sim:X}": "0-0"}))
        started = time.monotonic()
        await until(lambda: len(connections) >= 2)
        assert time.monotonic() - started < 3
        stop.set()
        await asyncio.wait_for(task, 2)
        server.close()
        for writer in connections:
            writer.close()

    with caplog.at_level(logging.ERROR, logger="arbitrex.stream.follow"):
        asyncio.run(main())
    assert "Redis did not answer within 0.5 s" in caplog.text
    assert "retrying" in caplog.text


def test_an_entry_that_is_not_a_tick_is_named_skipped_and_following_goes_on(redis_server,
                                                                             caplog):
    """Another program's entry with fields missing, between two ticks: both ticks reach
    dispatch, the entry is named in the log, the follower stays on the loop."""
    store = RedisStore(redis_server.url)
    store.append([make_tick(symbol="EURUSD", ms=1)])
    got: list[int] = []

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.ensure_future(follow.follow(
            store, lambda ticks: got.extend(t.seq for t in ticks), stop, limit=100))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(store.append, [make_tick(symbol="EURUSD", ms=2)])
        await asyncio.to_thread(redis_server.client().xadd, stream_key("sim", "EURUSD"),
                                {"note": "hand-written"}, id="2-5")
        await asyncio.to_thread(store.append, [make_tick(symbol="EURUSD", ms=3)])
        await until(lambda: got == [2, 3])
        stop.set()
        await asyncio.wait_for(task, 2)

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert "skipped entry 2-5 of arbitrex:ticks:{sim:EURUSD}: not a tick (KeyError" in caplog.text
