"""collect -> store -> serve -> client: latency, and the CPU of collect + serve."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from benchlib.harness import (
    SYMBOLS,
    clients,
    cpu_seconds,
    histogram_quantile,
    pipeline,
    results,
    scrape,
    stop_all,
)


def latency(store: str, seconds: float, tmp: Path, env: dict, redis_url: str,
            n_clients: int = 100, poll_interval: float | None = None, loop: str = "auto"
            ) -> dict:
    """Client side (recv_ns -> received, sampled) and server side (recv_ns -> written, and
    its last stage, dispatch began -> written, from serve's /metrics histograms over the
    same window), p50 and p99, ms."""
    e = dict(env, SQLITE_PATH=str(tmp / f"lat-{store}.db"), TICK_QUEUE_BACKEND=store,
             REDIS_URL=redis_url, EVENT_LOOP=loop)
    if store == "redis":
        redis.Redis.from_url(redis_url).flushall()
    collect, serve, port = pipeline(2000, f"lat-{store}", e, tmp, poll_interval)
    time.sleep(1)
    procs = max(1, n_clients // 50)  # 50 connections per client process: one per core
    crowd = [clients(f"ws://127.0.0.1:{port}/ws?symbols={SYMBOLS}", n_clients // procs,
                     seconds + 1, "--latency", "--batch", "--warmup", "1", "--sample", "4")
             for _ in range(procs)]
    time.sleep(1)  # the clients' warm-up (connections, snapshots): not measured
    before = scrape(port)
    got = results(crowd)
    after = scrape(port)
    stop_all(collect, serve)
    lat = sorted(x for g in got for x in g["lat_us"])
    event = sorted(x for g in got for x in g["event_us"])
    return {"p50_ms": lat[len(lat) // 2] / 1000, "p99_ms": lat[int(len(lat) * 0.99)] / 1000,
            "server_p50_ms": histogram_quantile(before["receive"], after["receive"], 0.5),
            "server_p99_ms": histogram_quantile(before["receive"], after["receive"], 0.99),
            "dispatch_p50_ms": histogram_quantile(before["dispatch"], after["dispatch"], 0.5),
            "dispatch_p99_ms": histogram_quantile(before["dispatch"], after["dispatch"], 0.99),
            "loop": loop,
            "event_p50_ms": event[len(event) // 2] / 1000,
            "event_p99_ms": event[int(len(event) * 0.99)] / 1000, "samples": len(lat)}

def cpu_footprint(seconds: float, tmp: Path, env: dict, poll_interval: float | None = None
                  ) -> dict:
    """CPU of collect + serve at 1,000 ticks/s with 10 clients reading."""
    e = dict(env, SQLITE_PATH=str(tmp / "foot.db"))
    collect, serve, port = pipeline(1000, "foot", e, tmp, poll_interval)
    crowd = clients(f"ws://127.0.0.1:{port}/ws?symbols={SYMBOLS}", 10, seconds + 3)
    time.sleep(2)
    c0, s0 = cpu_seconds(collect.pid), cpu_seconds(serve.pid)
    time.sleep(seconds)
    cpu = {"collect_pct": 100 * (cpu_seconds(collect.pid) - c0) / seconds,
           "serve_pct": 100 * (cpu_seconds(serve.pid) - s0) / seconds}
    got = results([crowd])[0]
    stop_all(collect, serve)
    if got["ticks"] < 0.5 * 1000 * seconds * 10 or min(cpu.values()) <= 0:
        raise RuntimeError(f"the footprint run did not deliver ({got}, {cpu}): see "
                           f"{tmp}/foot-*.log")
    return {**cpu, "total_pct": cpu["collect_pct"] + cpu["serve_pct"]}
