"""A writer that does not ring the SQLite doorbell is still followed by serve (polling)."""

from __future__ import annotations

import sqlite3
import time

from arbitrex.model.tick import Tick
from arbitrex.stores.sqlite import INSERT, SqliteStore
from tests.history import T0, make_tick


def tick(i: int) -> Tick:
    return make_tick(ms=T0 + i, ask=1.2, recv_ns=time.time_ns())


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
            raw.execute(INSERT, ("sim", "EURUSD", i + 1, 1_800_000_000_000 + i, 1.1, 1.2,
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
        raw.close()
        assert seqs == [2, 3, 4, 5, 6]
        assert time.monotonic() - started < 5
