"""The Redis Streams store against real redis-server processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from websockets.sync.client import connect

from arbitrex.errors import StoreError
from arbitrex.stores.redis import RedisStore, stream_key
from arbitrex.stores.spool import SpoolingStore
from arbitrex.tick import Tick
from tests.conftest import log_of, wait_for
from tests.redis_server import REDIS_SERVER, RedisServer
from tests.test_e2e import assert_contiguous, recv_json

pytestmark = pytest.mark.skipif(not REDIS_SERVER, reason="redis-server is not installed")


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


def tick(symbol: str = "EURUSD", ms: int = 1000, venue: str = "sim") -> Tick:
    return Tick(venue, symbol, 0, ms, 1.1, 1.1001, 0.0, 2**40, 0.5, 134, ms * 10**6, ms)



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
    assert store.last("sim", "EURUSD").seq == 3
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
    assert store.last("sim", "EURUSD").seq == 10_000
    assert store.first_seq("sim", "EURUSD") > 1


def test_two_writer_processes_never_reuse_a_seq(redis_server):
    code = textwrap.dedent(f"""
        from arbitrex.stores.redis import RedisStore
        from arbitrex.tick import Tick
        s = RedisStore({redis_server.url!r})
        for i in range(150):
            s.append([Tick("sim", "EURUSD", 0, 1 + i, 1.1, 1.2, 0.0, 0, 0.0, 6, 1, 1)] * 4)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    for p in procs:
        assert p.wait(timeout=60) == 0
    store = RedisStore(redis_server.url)
    assert [t.seq for t in store.read_after("sim", "EURUSD", 0, 10_000)] == list(range(1, 1801))


def test_spool_keeps_every_tick_while_redis_is_down(redis_server, tmp_path):
    spool = SpoolingStore(lambda: RedisStore(redis_server.url, connect_timeout=0.3),
                          tmp_path / "spool.db", retry_initial=0.05, retry_max=0.2)
    assert len(spool.append([tick(ms=1)])) == 1
    redis_server.kill()
    for ms in range(2, 50):
        assert spool.append([tick(ms=ms)]) == []  # spooled, not lost
    assert spool.pending() == 48 and "spooled" in spool.status()
    redis_server.start()
    deadline = time.monotonic() + 10
    while spool.pending() and time.monotonic() < deadline:
        spool.append([])
        time.sleep(0.05)
    assert spool.pending() == 0 and spool.status() == "redis ok"
    store = RedisStore(redis_server.url)
    got = store.read_after("sim", "EURUSD", 0, 100)
    assert [t.time_msc for t in got] == list(range(1, 50)) and [t.seq for t in got] == \
        list(range(1, 50))
    spool.close()


def test_a_batch_that_landed_without_an_answer_is_not_stored_twice(redis_server, tmp_path):
    """Redis runs the append and dies before answering: the collector cannot know, spools
    the batch, and sends it again when Redis is back; Redis must skip it."""

    class AnswerLost(RedisStore):
        lose_next = False

        def append_spooled(self, ticks, *, spool, ids):  # type: ignore[no-untyped-def]
            stored = super().append_spooled(ticks, spool=spool, ids=ids)
            if AnswerLost.lose_next:
                AnswerLost.lose_next = False
                raise StoreError("Redis append failed: Connection closed by server.")
            return stored

    spool = SpoolingStore(lambda: AnswerLost(redis_server.url), tmp_path / "spool.db",
                          retry_initial=0.01, retry_max=0.01)
    assert len(spool.append([tick(ms=1)])) == 1
    AnswerLost.lose_next = True
    assert spool.append([tick(ms=2), tick("GBPUSD", ms=2)]) == []  # landed, answer lost
    time.sleep(0.05)
    assert [t.seq for t in spool.append([tick(ms=3)])] == [3]  # the spooled batch: skipped
    store = RedisStore(redis_server.url)
    assert [t.time_msc for t in store.read_after("sim", "EURUSD", 0, 100)] == [1, 2, 3]
    assert [t.time_msc for t in store.read_after("sim", "GBPUSD", 0, 100)] == [2]
    spool.close()


def test_a_spool_left_by_an_earlier_version_is_sent(redis_server, tmp_path):
    import sqlite3

    from arbitrex.stores.spool import _COLUMNS

    db = sqlite3.connect(tmp_path / "spool.db", isolation_level=None)
    db.executescript(f"""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT,
            {', '.join(c + ' NOT NULL' for c in _COLUMNS.split(', '))});
        INSERT INTO meta VALUES ('id', 'old-spool');
    """)
    db.executemany(f"INSERT INTO spool ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                   [tick(ms=1), tick(ms=2)])
    db.close()
    spool = SpoolingStore(lambda: RedisStore(redis_server.url), tmp_path / "spool.db")
    assert [t.seq for t in spool.append([tick(ms=3)])] == [1, 2, 3]
    assert redis_server.client().hget("arbitrex:spool:{sim:EURUSD}", "old-spool") == b"2"
    spool.close()


def test_interrupted_drain_is_not_applied_twice(redis_server, tmp_path):
    store = RedisStore(redis_server.url)
    ticks = [tick(ms=i) for i in range(1, 6)]
    assert len(store.append_spooled(ticks, spool="abc", ids=[1, 2, 3, 4, 5])) == 5
    # the spool did not get to delete them: the same chunk again, plus one more
    again = store.append_spooled(ticks + [tick(ms=6)], spool="abc", ids=[1, 2, 3, 4, 5, 6])
    assert [t.seq for t in again] == [6]
    assert store.last("sim", "EURUSD").time_msc == 6


def test_collect_and_serve_through_a_redis_kill_9(arbitrex, redis_server):
    arbitrex.env.update(TICK_QUEUE_BACKEND="redis", REDIS_URL=redis_server.url)
    collect = arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD,GBPUSD",
                             "--rate", "300")
    store = RedisStore(redis_server.url)
    wait_for(lambda: (store.last("sim", "EURUSD") or tick()).seq > 20, what="ticks in Redis")
    port = arbitrex.serve()
    messages = []
    with connect(f"ws://127.0.0.1:{port}/ws?symbols=EURUSD,GBPUSD") as ws:
        messages += [recv_json(ws) for _ in range(40)]
        redis_server.kill()
        time.sleep(2)  # the outage: the collector spools, serve waits
        redis_server.start()
        wait_for(lambda: "spool drained" in log_of(collect), timeout=30, what="the drain")
        target = store.last("sim", "EURUSD").seq + 20
        while not any(m.get("symbol") == "EURUSD" and m.get("seq", 0) >= target
                      for m in messages[-3:]):
            messages.append(recv_json(ws, timeout=20))
    collect.send_signal(2)
    assert collect.wait(timeout=20) == 0
    ticks = [m for m in messages if m["type"] == "tick"]
    assert_contiguous(ticks)  # no duplicate, no hole, across the Redis restart
    received = int(log_of(collect).split("stopped: ")[1].split(" ticks received")[0])
    stored = 0
    for symbol in ("EURUSD", "GBPUSD"):
        seqs = [t.seq for t in store.read_after("sim", symbol, 0, 10**6)]
        assert seqs == list(range(1, len(seqs) + 1)), symbol
        stored += len(seqs)
    assert stored == received
    assert "Redis unreachable" in log_of(collect)


def test_doctor_checks_redis(arbitrex, redis_server, tmp_path):
    import json

    arbitrex.env.update(TICK_QUEUE_BACKEND="redis", REDIS_URL=redis_server.url)
    checks = {c["name"]: c for c in json.loads(arbitrex.run("doctor", "--json").stdout)["checks"]}
    assert checks["redis"]["status"] == "pass" and "version" in checks["redis"]["detail"]
    assert checks["redis persistence"]["status"] == "pass"
    assert checks["redis memory"]["status"] == "pass"
    bare = RedisServer(tmp_path / "bare", "--appendonly", "no", "--maxmemory", "10mb").start()
    try:
        arbitrex.env["REDIS_URL"] = bare.url
        result = arbitrex.run("doctor", "--json")
        checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
        assert checks["redis persistence"]["status"] == "warn"
        assert checks["redis memory"]["status"] == "warn"
    finally:
        bare.kill()
    arbitrex.env["REDIS_URL"] = "redis://127.0.0.1:1/0"
    result = arbitrex.run("doctor", "--json")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["redis"]["status"] == "fail" and "REDIS_URL" in checks["redis"]["fix"]


@pytest.fixture
def redis_cluster(tmp_path):
    from tests.redis_server import RedisCluster

    cluster = RedisCluster(tmp_path / "cluster").start()
    yield cluster
    cluster.kill()


def test_the_same_code_runs_on_a_redis_cluster(redis_cluster, arbitrex):
    store = RedisStore(redis_cluster.url)
    assert store.cluster
    symbols = [f"SYM{i}" for i in range(12)]
    out = store.append([tick(s, ms) for ms in range(1, 4) for s in symbols])
    assert {t.seq for t in out} == {1, 2, 3}
    slots = {redis_cluster.nodes[0].client().cluster("keyslot", stream_key("sim", s))
             for s in symbols}
    assert len(slots) > 1  # the streams really are spread over the slots
    assert sorted(store.streams()) == sorted(("sim", s) for s in symbols)
    assert [t.seq for t in store.read_after("sim", "SYM5", 1, 10)] == [2, 3]
    cursor = store.head()
    store.append([tick("SYM7", 9)])
    got, _ = store.follow(cursor, timeout=1, limit=10)
    assert [(t.symbol, t.seq) for t in got] == [("SYM7", 4)]
    # and the commands, end to end
    arbitrex.env.update(TICK_QUEUE_BACKEND="redis", REDIS_URL=redis_cluster.url)
    collect = arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD,GBPUSD,USDJPY",
                             "--rate", "200")
    wait_for(lambda: (store.last("sim", "USDJPY") or tick()).seq > 10, what="ticks")
    port = arbitrex.serve()
    with connect(f"ws://127.0.0.1:{port}/ws?symbols=EURUSD,USDJPY") as ws:
        got_ws = [recv_json(ws) for _ in range(60)]
    assert_contiguous([m for m in got_ws if m["type"] == "tick"])
    collect.send_signal(2)
    assert collect.wait(timeout=20) == 0


def test_the_spool_shows_in_collect_metrics(arbitrex, redis_server):
    import urllib.request

    from tests.conftest import free_port

    port = free_port()
    arbitrex.env.update(TICK_QUEUE_BACKEND="redis", REDIS_URL=redis_server.url)
    arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD", "--rate", "200",
                   "--metrics-port", str(port))

    def metric(name: str) -> float:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        except OSError:
            return -1.0
        for line in text.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return -1.0

    wait_for(lambda: metric("arbitrex_collect_ticks_received_total") > 10, what="metrics")
    redis_server.kill()
    wait_for(lambda: metric("arbitrex_collect_spool_pending") > 50, what="the spool to grow")
    redis_server.start()
    wait_for(lambda: metric("arbitrex_collect_spool_pending") == 0, timeout=30,
             what="the spool to drain")


def test_collect_started_while_redis_is_down_waits_then_resumes(arbitrex, redis_server):
    """Where each symbol left off is in Redis: collect waits for it rather than start from
    now (which would leave a hole a terminal's history could fill), then goes on."""
    arbitrex.env.update(TICK_QUEUE_BACKEND="redis", REDIS_URL=redis_server.url)
    first = arbitrex.run("collect", "--source", "sim", "--symbols", "EURUSD", "--rate", "200",
                         "--duration", "1")
    assert first.returncode == 0, first.stderr
    store = RedisStore(redis_server.url)
    before = store.last("sim", "EURUSD")
    assert before is not None and before.seq > 50
    redis_server.kill()
    collect = arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD",
                             "--rate", "200")
    wait_for(lambda: "waiting for it before reading the source" in log_of(collect),
             timeout=20, what="collect to wait for Redis")
    assert collect.poll() is None
    redis_server.start()
    store = RedisStore(redis_server.url)
    wait_for(lambda: store.last("sim", "EURUSD").seq > before.seq + 50, timeout=30,
             what="ticks after the wait")
    collect.send_signal(2)
    assert collect.wait(timeout=20) == 0
    ticks = store.read_after("sim", "EURUSD", 0, 10**6)
    assert [t.seq for t in ticks] == list(range(1, len(ticks) + 1))
    assert all(a.time_msc <= b.time_msc for a, b in zip(ticks, ticks[1:], strict=False))
    assert "the store answers" in log_of(collect)
