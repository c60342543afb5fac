"""The Redis Streams store against real redis-server processes."""

from __future__ import annotations

import time

import pytest
from websockets.sync.client import connect

from arbitrex.model.tick import Tick
from arbitrex.stores.redis import RedisStore
from arbitrex.stores.redis_keys import stream_key
from tests.conftest import log_of, must, wait_for
from tests.e2e.streams import assert_contiguous, recv_json
from tests.history import make_tick
from tests.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.skipif(not REDIS_SERVER, reason="redis-server is not installed")


def tick(symbol: str = "EURUSD", ms: int = 1000, venue: str = "sim") -> Tick:
    return make_tick(venue=venue, symbol=symbol, ms=ms, volume=2**40, volume_real=0.5, flags=134)



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
        target = must(store.last("sim", "EURUSD")).seq + 20
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
    wait_for(lambda: must(store.last("sim", "EURUSD")).seq > before.seq + 50, timeout=30,
             what="ticks after the wait")
    collect.send_signal(2)
    assert collect.wait(timeout=20) == 0
    ticks = store.read_after("sim", "EURUSD", 0, 10**6)
    assert [t.seq for t in ticks] == list(range(1, len(ticks) + 1))
    assert all(a.time_msc <= b.time_msc for a, b in zip(ticks, ticks[1:], strict=False))
    assert "the store answers" in log_of(collect)
