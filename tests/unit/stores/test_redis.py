"""The Redis Streams store against real redis-server processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from arbitrex.model.tick import Tick
from arbitrex.stores.redis import RedisStore
from arbitrex.stores.redis_keys import stream_key
from tests.conftest import must
from tests.history import make_tick
from tests.redis_server import REDIS_SERVER

pytestmark = pytest.mark.skipif(not REDIS_SERVER, reason="redis-server is not installed")


def tick(symbol: str = "EURUSD", ms: int = 1000, venue: str = "sim") -> Tick:
    return make_tick(venue=venue, symbol=symbol, ms=ms, volume=2**40, volume_real=0.5, flags=134)



def test_followers_read_entries_by_position_or_else_by_name(redis_server):
    """Entries this store wrote are parsed by position; one another program wrote (fields
    in another order, one more field, no broker_msc) by name, to the same tick."""
    store = RedisStore(redis_server.url, maxlen=1000)
    cursor = store.head()
    [ours] = store.append([tick(ms=1001)])
    raw = redis_server.client()
    raw.xadd(stream_key("sim", "EURUSD"), {
        "seq": 2, "venue": "sim", "symbol": "EURUSD", "bid": "1.1", "ask": "1.1001",
        "time_msc": 1002, "last": "0.0", "volume": 2**40, "volume_real": "0.5", "flags": 134,
        "recv_ns": 1002 * 10**6, "note": "hand-written"}, id="2-0")
    store.discover_interval = 0
    got, cursor = store.follow(cursor, timeout=1, limit=10)
    assert got == [ours, tick(ms=1002)._replace(seq=2)]
    store.close()

def test_layout_seq_and_reads(redis_server):
    store = RedisStore(redis_server.url, maxlen=1000)
    out = store.append([tick(), tick("GBPUSD"), tick(), tick(ms=1001)])
    assert [(t.symbol, t.seq) for t in out] == [("EURUSD", 1), ("GBPUSD", 1), ("EURUSD", 2),
                                                ("EURUSD", 3)]
    raw = redis_server.client()
    assert stream_key("sim", "EURUSD") == "arbitrex:ticks:{sim:EURUSD}"
    entries = raw.xrange("arbitrex:ticks:{sim:EURUSD}")
    assert [e[0] for e in entries] == [b"1-0", b"2-0", b"3-0"]
    fields = {k.decode(): v.decode() for k, v in entries[0][1].items()}
    assert fields["symbol"] == "EURUSD" and fields["seq"] == "1" and fields["flags"] == "134"
    assert fields["volume"] == str(2**40) and fields["bid"] == "1.1"
    assert must(store.last("sim", "EURUSD")).seq == 3
    assert [t.seq for t in store.read_after("sim", "EURUSD", 1, 10)] == [2, 3]
    assert store.first_seq("sim", "EURUSD") == 1
    assert store.streams() == [("sim", "EURUSD"), ("sim", "GBPUSD")]
    assert store.positions("sim")["EURUSD"].broker_msc == 1001
    cursor = store.head()
    store.append([tick("USDJPY")])  # a new stream appears while following
    store.discover_interval = 0
    got, cursor = store.follow(cursor, timeout=1, limit=10)
    assert [(t.symbol, t.seq) for t in got] == [("USDJPY", 1)]
    started = time.monotonic()
    assert store.follow(cursor, timeout=0.3, limit=10)[0] == []  # a blocking read
    assert time.monotonic() - started >= 0.25


def test_values_are_stored_as_sent_whatever_the_characters(redis_server):
    """The script reads a batch as one JSON argument: names with quotes, backslashes and
    non-ASCII letters, floats of 17 digits and integers past 2**53 come back exactly."""
    store = RedisStore(redis_server.url)
    odd = make_tick(venue='Br\\oker "A" ü', symbol="XAU/USD.m€", ms=1_764_771_234_567,
                    volume=2**62 + 1, volume_real=0.1 + 0.2, flags=134)._replace(
        bid=1.0000000000000002, ask=12345.678901234567, recv_ns=2**63 - 1)
    [stored] = store.append([odd])
    assert stored == odd._replace(seq=1)
    assert store.read_after(odd.venue, odd.symbol, 0, 10) == [stored]
    fields = redis_server.client().xrange(stream_key(odd.venue, odd.symbol))[0][1]
    assert fields[b"bid"] == repr(odd.bid).encode()
    assert fields[b"recv_ns"] == str(2**63 - 1).encode()


def test_a_batch_over_several_streams_is_read_in_one_go(redis_server):
    """One batch is one script on one Redis, and a follower blocked in XREAD returns every
    stream of it (a blocked XREAD is answered with the first stream alone before 7.2)."""
    import threading

    store = RedisStore(redis_server.url)
    store.append([tick(s) for s in ("EURUSD", "GBPUSD", "USDJPY")])
    store.discover_interval = 0
    follower = RedisStore(redis_server.url)
    cursor = follower.head()
    batch = [tick(s, ms) for ms in (2000, 2001) for s in ("EURUSD", "GBPUSD", "USDJPY")]
    writer = threading.Timer(0.2, store.append, args=(batch,))
    writer.start()
    got, cursor = follower.follow(cursor, timeout=5, limit=100)
    writer.join()
    assert sorted((t.symbol, t.seq) for t in got) == sorted(
        (s, n) for s in ("EURUSD", "GBPUSD", "USDJPY") for n in (2, 3))


def test_maxlen_trims_approximately(redis_server):
    store = RedisStore(redis_server.url, maxlen=1000)
    for i in range(10):
        store.append([tick(ms=i * 1000 + j) for j in range(1000)])
    length = redis_server.client().xlen("arbitrex:ticks:{sim:EURUSD}")
    assert 1000 <= length < 3000
    assert must(store.last("sim", "EURUSD")).seq == 10_000
    assert must(store.first_seq("sim", "EURUSD")) > 1


def test_two_writer_processes_never_reuse_a_seq(redis_server):
    code = textwrap.dedent(f"""
        from arbitrex.stores.redis import RedisStore
        from arbitrex.model.tick import Tick
        s = RedisStore({redis_server.url!r})
        for i in range(150):
            s.append([Tick("sim", "EURUSD", 0, 1 + i, 1.1, 1.2, 0.0, 0, 0.0, 6, 1, 1)] * 4)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    for p in procs:
        assert p.wait(timeout=60) == 0
    store = RedisStore(redis_server.url)
    assert [t.seq for t in store.read_after("sim", "EURUSD", 0, 10_000)] == list(range(1, 1801))
