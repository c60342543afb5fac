"""The RSS of serve with 1,000 clients, 100 of which never read."""

from __future__ import annotations

import time
from pathlib import Path

from benchlib.harness import clients, pipeline, results, rss_mb, stop_all


def rss_footprint(rss_at: tuple[float, float], tmp: Path, env: dict) -> dict:
    """RSS of serve with 1,000 clients, 100 of which never read."""
    e = dict(env, SQLITE_PATH=str(tmp / "rss.db"))
    collect, serve, port = pipeline(100, "rss", e, tmp)
    url = f"ws://127.0.0.1:{port}/ws?symbols=EURUSD"
    total = rss_at[1] + 3
    crowd = [clients(url, 450, total), clients(url, 450, total, "--stalled", "100")]
    started = time.monotonic()
    samples = []
    for at in rss_at:
        time.sleep(max(0.0, started + at - time.monotonic()))
        samples.append(rss_mb(serve.pid))
    got = results(crowd)
    stop_all(collect, serve)
    return {"rss_mb": samples, "rss_at": list(rss_at),
            "clients_open": sum(g["open"] for g in got) + 100}
