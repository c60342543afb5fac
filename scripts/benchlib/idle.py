"""The CPU of an idle serve, with the doorbell and after a writer that does not ring."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from arbitrex.stores.sqlite import INSERT, SqliteStore
from benchlib.harness import arbitrex, cpu_seconds, free_port, make_ticks, stop_all, wait_port


def idle_serve(seconds: float, tmp: Path, env: dict) -> dict:
    """CPU of an idle serve (nothing written), following its SQLite store with the doorbell
    (trusted: it sleeps until rung, reading every 0.25 s besides), and without it: after
    ticks came from a writer that does not ring, it polls (every 1 ms while ticks come,
    backing off to 50 ms while none do)."""
    out = {}
    for mode in ("doorbell", "no_doorbell"):
        db = tmp / f"idle-{mode}.db"
        store = SqliteStore(db)
        store.append(make_ticks(3))
        store.close()
        port = free_port()
        serve = arbitrex("serve", "--port", str(port), env=dict(env, SQLITE_PATH=str(db)),
                         log=tmp / f"idle-{mode}.log")
        wait_port(port)
        if mode == "no_doorbell":  # rows from another program: no ring
            raw = sqlite3.connect(db, isolation_level=None)
            last = raw.execute("SELECT last_seq FROM streams WHERE symbol='EURUSD'").fetchone()[0]
            for i in range(1, 41):
                raw.execute("BEGIN IMMEDIATE")
                raw.execute(INSERT, ("sim", "EURUSD", last + i, 1_800_000_001_000 + i, 1.1, 1.2,
                                      0.0, 0, 0.0, 6, time.time_ns(), 1_800_000_001_000 + i))
                raw.execute("UPDATE streams SET last_seq = ? WHERE symbol='EURUSD'", (last + i,))
                raw.execute("COMMIT")
                time.sleep(0.1)
            raw.close()
            if "polling" not in (tmp / f"idle-{mode}.log").read_text():
                raise RuntimeError(f"serve did not fall back to polling: see {tmp}/idle-*.log")
        time.sleep(1)
        c0 = cpu_seconds(serve.pid)
        time.sleep(seconds)
        out[f"{mode}_pct"] = 100 * (cpu_seconds(serve.pid) - c0) / seconds
        stop_all(serve)
    return out
