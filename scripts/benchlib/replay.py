"""replay --speed max into one batching client."""

from __future__ import annotations

import time
from pathlib import Path

from arbitrex.stores.sqlite import SqliteStore
from benchlib.harness import (
    SYMBOLS,
    arbitrex,
    clients,
    free_port,
    make_ticks,
    results,
    stop_all,
    wait_port,
)


def replay_max(n: int, tmp: Path, env: dict) -> dict:
    store = SqliteStore(tmp / "replay-src.db")
    store.append(make_ticks(n))
    from arbitrex import formats

    formats.write(store.iter_range(), tmp / "day.ndjson", "ndjson")
    store.close()
    port = free_port()
    proc = arbitrex("replay", str(tmp / "day.ndjson"), "--speed", "max", "--port", str(port),
                    env=env, log=tmp / "replay.log")
    wait_port(port)
    started = time.monotonic()
    while "still serving" not in (tmp / "replay.log").read_text():
        time.sleep(0.01)
    fed = time.monotonic() - started
    got = results([clients(f"ws://127.0.0.1:{port}/ws?symbols={SYMBOLS}", 1, 120, "--since",
                           "--expect", str(n))])[0]
    stop_all(proc)
    return {"ticks": got["ticks"], "into_server_per_s": n / fed,
            "to_client_per_s": got["ticks"] / got["elapsed"]}
