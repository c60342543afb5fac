"""One writer per venue: leases in SQLite and in a real redis-server, taken, refused, freed by
a holder's death or silence, renewed, lost, and held by the collection loop."""

from __future__ import annotations

import subprocess
import sys
import threading

import psutil
import pytest

from arbitrex.collect import lease
from arbitrex.collect.loop import Collector
from arbitrex.errors import VenueHeld
from arbitrex.sources.sim import SimSource
from arbitrex.stores.base import Lease, Leases
from arbitrex.stores.redis import RedisStore
from arbitrex.stores.sqlite import SqliteStore
from tests.conftest import wait_for
from tests.redis_server import REDIS_SERVER


@pytest.fixture(params=["sqlite", "redis"])
def leases(request, tmp_path):
    if request.param == "sqlite":
        yield SqliteStore(tmp_path / "ticks.db")
        return
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed")
    server = request.getfixturevalue("redis_server")
    store = RedisStore(server.url)
    yield store
    store.close()


def dead_process() -> tuple[int, float]:
    """The pid and start time of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(proc.pid).create_time()
    proc.wait(timeout=10)
    return proc.pid, started


def test_a_second_claim_is_refused_naming_the_holder(leases: Leases):
    first = lease.hold(leases, "icm", where="here")
    with pytest.raises(VenueHeld) as refused:
        lease.hold(leases, "icm", where="the store")
    text = str(refused.value)
    assert "venue icm is already being collected into the store" in text
    assert f"pid {first.mine.pid} on host {first.mine.host}" in text
    lease.hold(leases, "pepper", where="here").release()  # another venue is free
    assert [h.venue for h in leases.leases()] == ["icm"]
    first.release()
    assert leases.leases() == []
    lease.hold(leases, "icm", where="here").release()  # free again


def test_a_holder_whose_process_died_frees_the_venue_at_once(leases: Leases):
    pid, started = dead_process()
    corpse = lease.claim("icm")._replace(pid=pid, started=started, token="dead")
    assert leases.take_lease(corpse, ttl_ms=60_000, gone=lambda h: False) is None
    assert lease.gone(corpse) and not lease.gone(lease.claim("icm"))
    held = lease.hold(leases, "icm", where="here", ttl_ms=60_000)  # no wait for the TTL
    assert [h.token for h in leases.leases()] == [held.mine.token]
    held.release()


def test_a_silent_holder_elsewhere_frees_the_venue_after_the_ttl(leases: Leases):
    """A holder on another host cannot be asked whether it runs: its heartbeat must be
    ttl old."""
    now = lease.now_ms()
    other = Lease("icm", "other-host", 4242, 1.0, "theirs", now, now)
    assert leases.take_lease(other, ttl_ms=60_000, gone=lambda h: False) is None
    assert not lease.gone(other, ttl_ms=5_000, at_ms=now + 4_000)
    assert lease.gone(other, ttl_ms=5_000, at_ms=now + 5_001)
    with pytest.raises(VenueHeld, match="other-host"):
        lease.hold(leases, "icm", where="here")
    stale = other._replace(beat_ms=now - 6_000)
    leases.release_lease(other)
    assert leases.take_lease(stale, ttl_ms=60_000, gone=lambda h: False) is None
    lease.hold(leases, "icm", where="here", ttl_ms=5_000).release()


def test_renewing_a_lease_taken_over_names_the_new_holder(leases: Leases):
    mine = lease.claim("icm")
    assert leases.take_lease(mine, ttl_ms=60_000, gone=lambda h: False) is None
    assert leases.renew_lease(mine, ttl_ms=60_000) is None
    beat = next(h for h in leases.leases()).beat_ms
    assert beat >= mine.beat_ms
    theirs = lease.claim("icm")
    assert leases.take_lease(theirs, ttl_ms=60_000, gone=lambda h: True) is None
    holder = leases.renew_lease(mine, ttl_ms=60_000)
    assert holder is not None and holder.token == theirs.token
    leases.release_lease(mine)  # not ours any more: nothing happens
    assert [h.token for h in leases.leases()] == [theirs.token]


def test_the_collector_holds_its_venue_while_it_runs_and_stops_when_it_is_taken(tmp_path):
    store = SqliteStore(tmp_path / "ticks.db")
    other = SqliteStore(tmp_path / "ticks.db")
    collector = Collector(SimSource(["EURUSD"], rate=200, seed=1), store)
    stop = threading.Event()
    runner = threading.Thread(target=collector.run, kwargs={"stop": stop})
    runner.start()
    try:
        wait_for(lambda: [h.venue for h in other.leases()] == ["sim"], what="the lease")
        second = Collector(SimSource(["EURUSD"], rate=200, seed=2), other)
        with pytest.raises(VenueHeld, match="venue sim is already being collected"):
            second.run(stop=threading.Event(), duration=1)
        assert collector.held is not None
        collector.held.beat = 0.05
        thief = lease.claim("sim")
        assert other.take_lease(thief, ttl_ms=60_000, gone=lambda h: True) is None
        runner.join(timeout=10)
        assert not runner.is_alive()
        assert collector.lost is not None and collector.lost.token == thief.token
    finally:
        stop.set()
        runner.join(timeout=10)
    assert [h.token for h in other.leases()] == [thief.token]  # the loser left it alone
