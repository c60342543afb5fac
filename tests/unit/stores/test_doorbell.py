"""The SQLite doorbell: a commit wakes followers; a writer that does not ring is still
followed (by polling)."""

from __future__ import annotations

import os
import select
import time

import pytest

from arbitrex.model.tick import Tick
from arbitrex.stores import doorbell
from arbitrex.stores.sqlite import SqliteStore
from tests.history import T0, make_tick


def tick(i: int) -> Tick:
    return make_tick(ms=T0 + i, ask=1.2, recv_ns=time.time_ns())


def readable(listener: doorbell.Listener, timeout: float) -> bool:
    return bool(select.select([listener.sock], [], [], timeout)[0])


def test_a_commit_rings_every_listener_and_a_dead_one_is_forgotten(tmp_path):
    db = tmp_path / "a-rather-long-directory-name-" / ("x" * 80) / "ticks.db"
    bells = db.parent / "ticks.db.bell"
    writer = SqliteStore(db)
    a, b = writer.listen(), writer.listen()
    assert a is not None and b is not None
    assert not readable(a, 0)
    writer.append([tick(1)])
    assert readable(a, 1) and readable(b, 1)
    assert a.take_all() and b.take_all()  # rung, and no more
    assert not a.take_all() and not readable(a, 0)
    # b dies without cleaning up (kill -9): its file stops being touched, and goes stale
    b.sock.close()
    old = time.time() - doorbell.STALE - 1
    os.utime(b.path, (old, old))
    (bells / "not-a-listener").touch()  # and a stray file names no port
    writer._bell._listed_at = -1e18  # re-list now rather than in RELIST seconds
    writer.append([tick(2)])
    assert readable(a, 1)
    assert sorted(p.name for p in bells.iterdir()) == [a.name]
    a.close()
    assert not any(bells.iterdir())
    writer.append([tick(3)])  # nobody listens: a no-op
    writer.close()


def test_a_listener_keeps_its_announcement_fresh(tmp_path, monkeypatch):
    listener = doorbell.Listener(tmp_path / "ticks.db")
    old = time.time() - doorbell.STALE - 1
    os.utime(listener.path, (old, old))
    listener.heartbeat()  # too soon after the last touch: nothing to do
    assert listener.path.stat().st_mtime == pytest.approx(old)
    monkeypatch.setattr(doorbell, "HEARTBEAT", 0.0)
    listener.heartbeat()
    assert time.time() - listener.path.stat().st_mtime < doorbell.STALE
    listener.path.unlink()  # removed by a writer that thought it dead: announced again
    listener.heartbeat()
    assert listener.path.exists()
    listener.close()
    assert not listener.path.exists()


def test_trust_is_lost_when_ticks_come_unrung_and_regained_by_a_ring():
    trust = doorbell.Trust(poll_interval=0.001, fallback=0.25, quiet=2.0)
    assert trust.timeout == 0.25
    trust.rang(now=10.0)
    trust.timed_out(found=True, now=11.0)  # a ring was heard lately: the writer rings
    assert trust.trusted
    trust.timed_out(found=False, now=20.0)  # quiet market, nothing new: still trusted
    assert trust.trusted
    trust.timed_out(found=True, now=20.0)  # new ticks, no ring for 10 s: poll
    assert not trust.trusted and trust.timeout == 0.001
    trust.timed_out(found=False, now=20.1)  # idle while polling: less and less often
    trust.timed_out(found=False, now=20.2)
    assert trust.timeout == 0.004
    for _ in range(20):
        trust.timed_out(found=False, now=20.3)
    assert trust.timeout == trust.idle_poll == 0.05  # at most this long between polls
    trust.timed_out(found=True, now=20.4)  # ticks again: every poll_interval
    assert trust.timeout == 0.001
    trust.rang(now=21.0)
    assert trust.trusted and trust.timeout == 0.25




def test_a_new_listener_gives_the_writer_time_to_find_it():
    """Ticks without a ring in the first ``quiet`` seconds of a listener are the writer not
    having listed it yet (it relists every 0.5 s), not a writer that does not ring."""
    trust = doorbell.Trust(poll_interval=0.001, quiet=2.0, since=100.0)
    trust.timed_out(True, 101.0)
    assert trust.trusted
    trust.timed_out(True, 102.5)
    assert not trust.trusted
