"""The outage spool (SpoolingStore) against real redis-server processes: kept, drained in
order, exactly once."""

from __future__ import annotations

import pytest

from arbitrex.errors import StoreError
from arbitrex.model.tick import Tick
from arbitrex.stores.redis import RedisStore
from arbitrex.stores.spool import SpoolingStore
from tests.conftest import must, wait_for
from tests.history import make_tick
from tests.redis_server import REDIS_SERVER

pytestmark = pytest.mark.skipif(not REDIS_SERVER, reason="redis-server is not installed")


def tick(symbol: str = "EURUSD", ms: int = 1000, venue: str = "sim") -> Tick:
    return make_tick(venue=venue, symbol=symbol, ms=ms, volume=2**40, volume_real=0.5, flags=134)


def test_spool_keeps_every_tick_while_redis_is_down(redis_server, tmp_path):
    spool = SpoolingStore(lambda: RedisStore(redis_server.url, connect_timeout=0.3),
                          tmp_path / "spool.db", retry_initial=0.05, retry_max=0.2)
    assert len(spool.append([tick(ms=1)])) == 1
    redis_server.kill()
    for ms in range(2, 50):
        assert spool.append([tick(ms=ms)]) == []  # spooled, not lost
    assert spool.pending() == 48 and "spooled" in spool.status()
    redis_server.start()
    wait_for(lambda: not spool.append([]) and spool.pending() == 0, timeout=10,
             what="the spool drained")
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

        def append_spooled(self, ticks, *, spool, ids):
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
    assert spool.pending() == 2
    wait_for(lambda: spool.append([]) == [] and spool.pending() == 0, timeout=5,
             what="the spooled batch sent again, and skipped")
    assert [t.seq for t in spool.append([tick(ms=3)])] == [3]
    store = RedisStore(redis_server.url)
    assert [t.time_msc for t in store.read_after("sim", "EURUSD", 0, 100)] == [1, 2, 3]
    assert [t.time_msc for t in store.read_after("sim", "GBPUSD", 0, 100)] == [2]
    spool.close()


def test_a_spool_left_by_an_earlier_version_is_sent(redis_server, tmp_path):
    import sqlite3

    from arbitrex.stores.sqlite import COLUMNS as _COLUMNS

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
    assert must(store.last("sim", "EURUSD")).time_msc == 6


