"""Ingest through the real collect path into SQLite and Redis, against raw executemany
and pipelined XADD of the same rows."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import redis

from arbitrex.collect.loop import Collector
from arbitrex.model.tick import Tick
from arbitrex.stores.redis import RedisStore
from arbitrex.stores.redis_keys import stream_key
from arbitrex.stores.spool import SpoolingStore
from arbitrex.stores.sqlite import INSERT, SCHEMA, SqliteStore
from benchlib.harness import ListSource, Redis, make_ticks


def through_collector(ticks: list[Tick], store: object) -> float:
    stop = threading.Event()
    collector = Collector(ListSource(ticks, stop), store)  # type: ignore[arg-type]
    started = time.perf_counter()
    collector.run(stop=stop)
    elapsed = time.perf_counter() - started
    assert collector.stats.total == len(ticks), (collector.stats.total, len(ticks))
    return len(ticks) / elapsed

def bench_ingest_sqlite(n: int, tmp: Path) -> dict:
    ticks = make_ticks(n)
    rows = [t._replace(seq=i + 1) for i, t in enumerate(ticks)]
    db = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    started = time.perf_counter()
    for i in range(0, n, 1000):
        db.execute("BEGIN")
        db.executemany(INSERT, rows[i:i + 1000])
        db.execute("COMMIT")
    raw = n / (time.perf_counter() - started)
    db.close()
    ours = through_collector(ticks, SqliteStore(tmp / "ours.db"))
    return {"raw": raw, "ours": ours}

def bench_ingest_redis(n: int, tmp: Path, server: Redis) -> dict:
    ticks = make_ticks(n)
    r = redis.Redis(port=server.port)
    started = time.perf_counter()
    for i in range(0, n, 1000):
        pipe = r.pipeline(transaction=False)
        for j, t in enumerate(ticks[i:i + 1000], i + 1):
            pipe.xadd(stream_key("raw", t.symbol), {
                "symbol": t.symbol, "venue": t.venue, "seq": j, "time_msc": t.time_msc,
                "bid": repr(t.bid), "ask": repr(t.ask), "last": repr(t.last),
                "volume": t.volume, "volume_real": repr(t.volume_real), "flags": t.flags,
                "recv_ns": t.recv_ns, "broker_msc": t.broker_msc},
                maxlen=1_000_000, approximate=True)
        pipe.execute()
    raw = n / (time.perf_counter() - started)
    store = SpoolingStore(lambda: RedisStore(server.url), tmp / "spool.db")
    ours = through_collector(ticks, store)
    store.close()
    return {"raw": raw, "ours": ours}
