"""The SQLite doorbell: a commit wakes followers; a writer that does not ring is still
followed (by polling)."""

from __future__ import annotations

import select
import sqlite3
import time

import pytest

from arbitrex.stores import doorbell
from arbitrex.stores.sqlite import _INSERT, SqliteStore
from arbitrex.tick import Tick

pytestmark = pytest.mark.skipif(not doorbell.SUPPORTED, reason="abstract sockets: Linux only")


def tick(i: int) -> Tick:
    return Tick("sim", "EURUSD", 0, 1_800_000_000_000 + i, 1.1, 1.2, 0.0, 0, 0.0, 6,
                time.time_ns(), 1_800_000_000_000 + i)


def readable(listener: doorbell.Listener, timeout: float) -> bool:
    return bool(select.select([listener], [], [], timeout)[0])


def test_a_commit_rings_every_listener_and_a_dead_one_is_forgotten(tmp_path):
    db = tmp_path / "a-rather-long-directory-name-" / ("x" * 80) / "ticks.db"  # > 108 bytes
    writer = SqliteStore(db)
    a, b = writer.listen(), writer.listen()
    assert a is not None and b is not None
    assert not readable(a, 0)
    writer.append([tick(1)])
    assert readable(a, 1) and readable(b, 1)
    assert a.take() and b.take()  # one ring each, and no more
    assert not a.take() and not b.take() and not readable(a, 0)
    b.sock.close()  # a follower killed without cleaning up leaves its file behind
    writer._bell._listed_at = 0  # re-list now rather than in RELIST seconds
    writer.append([tick(2)])
    assert readable(a, 1)
    assert sorted(p.name for p in (db.parent / "ticks.db.bell").iterdir()) == [a.name]
    a.close()
    assert not any((db.parent / "ticks.db.bell").iterdir())
    writer.append([tick(3)])  # nobody listens: a no-op
    writer.close()


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
    trust.rang(now=21.0)
    assert trust.trusted


def test_serve_follows_a_writer_that_never_rings(arbitrex, tmp_path):
    """Rows written by another program (or an older collector) still reach clients."""
    from websockets.sync.client import connect

    db = tmp_path / "ticks.db"
    store = SqliteStore(db)
    store.append([tick(0)])  # the stream exists, so a subscriber gets a snapshot
    store.close()
    port = arbitrex.serve()
    with connect(f"ws://127.0.0.1:{port}/ws?symbols=EURUSD") as ws:
        raw = sqlite3.connect(db, isolation_level=None)
        started = time.monotonic()
        for i in range(1, 6):
            raw.execute("BEGIN IMMEDIATE")
            raw.execute(_INSERT, ("sim", "EURUSD", i + 1, 1_800_000_000_000 + i, 1.1, 1.2,
                                  0.0, 0, 0.0, 6, time.time_ns(), 1_800_000_000_000 + i))
            raw.execute("UPDATE streams SET last_seq = ? WHERE venue='sim' AND symbol='EURUSD'",
                        (i + 1,))
            raw.execute("COMMIT")
            time.sleep(0.05)
        seqs: list[int] = []
        while len(seqs) < 5:
            message = str(ws.recv(timeout=5))
            if '"type":"tick"' in message and '"snapshot"' not in message:
                seqs.append(int(message.split('"seq":')[1].split(",")[0]))
        assert seqs == [2, 3, 4, 5, 6]
        assert time.monotonic() - started < 5
