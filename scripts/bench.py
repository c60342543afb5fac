"""arbitrex benchmarks: each figure against a raw baseline measured in the same run.

    python scripts/bench.py            # the full run (several minutes)
    python scripts/bench.py --quick    # under 2 minutes, shorter windows
    python scripts/bench.py --out docs/BENCHMARKS.md

Figures: ingest into SQLite and Redis (vs raw executemany / pipelined XADD), fan-out to 100
and 1,000 clients (vs a bare websockets.broadcast server, same clients, same frames),
latency p50/p99 collect -> store -> serve -> client with the server's share and its
dispatch stage (from serve's /metrics; the dispatch beside the floor a bare loop writing
the same frame to the same clients gives), CPU of collect + serve, RSS of serve
with 1,000 clients of which 100 never read, replay --speed max, one poll of 20 symbols over
the MT5 bridge (vs rpyc.classic.obtain per symbol), and the CPU of an idle serve with and
without the doorbell. Clients always run in
separate processes. Every server is started here on loopback and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchlib.bridge import bridge_poll
from benchlib.fanout import fanout
from benchlib.floor import dispatch_floor
from benchlib.harness import SWEEP, Redis, bench_env, repeated, replace_section, summary
from benchlib.idle import idle_serve
from benchlib.ingest import bench_ingest_redis, bench_ingest_sqlite
from benchlib.memory import rss_footprint
from benchlib.pipeline import cpu_footprint, latency
from benchlib.replay import replay_max
from benchlib.report import report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter windows: under 2 minutes")
    ap.add_argument("--out", type=Path, help="write the Markdown report here")
    a = ap.parse_args()
    q = a.quick
    tmp = Path(tempfile.mkdtemp(prefix="arbitrex-bench-"))
    env = bench_env()
    server = Redis(tmp)
    r: dict = {"quick": q, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    started = time.monotonic()

    def step(name: str, run: Callable[[], dict]) -> None:
        r[name] = run()
        print(f"{time.monotonic() - started:6.1f} s  {name}: {r[name]}", flush=True)

    try:
        n = 50_000 if q else 300_000
        step("ingest_sqlite", lambda: bench_ingest_sqlite(n, tmp))
        step("ingest_redis", lambda: bench_ingest_redis(n, tmp, server))
        w = 3 if q else 15
        step("fanout_100", lambda: fanout(100, 6000, w, tmp, env))
        step("fanout_1000", lambda: fanout(1000, 600, w, tmp, env))
        times = 1 if q else 3  # the figures near their targets: three runs each
        # SQLite then Redis, on the default loop (uvloop here) then asyncio's, in turn, so
        # that each Redis run has a SQLite run of the same minutes to be held against
        runs: dict[str, list[dict]] = {}
        for i in range(times):
            for store in ("sqlite", "redis"):
                for loop, name in (("auto", f"latency_{store}"),
                                   ("asyncio", f"latency_{store}_asyncio")):
                    runs.setdefault(name, []).append(
                        latency(store, 3 if q else 20, tmp, env, server.url, loop=loop))
                    print(f"{time.monotonic() - started:6.1f} s  {name} run {i + 1}: "
                          f"{runs[name][-1]}", flush=True)
        for name, done in runs.items():
            step(name, lambda d=done: summary(d, "p99_ms"))
        for store in ("sqlite", "redis"):
            if not q:  # a load this machine carries easily: the pipeline alone
                step(f"latency10_{store}",
                     lambda s=store: latency(s, 20, tmp, env, server.url, 10))
        step("floor", lambda: repeated(times, lambda: dispatch_floor(3 if q else 15, tmp, env),
                                       "p99_ms"))
        step("cpu", lambda: repeated(times, lambda: cpu_footprint(3 if q else 20, tmp, env),
                                     "total_pct"))
        if not q:  # the trade-off the default read interval balances: one run each
            step("sweep", lambda: {str(pi): {
                "latency": latency("sqlite", 10, tmp, env, server.url, poll_interval=pi),
                "cpu": cpu_footprint(10, tmp, env, poll_interval=pi)} for pi in SWEEP})
        step("rss", lambda: rss_footprint((6, 12) if q else (60, 300), tmp, env))
        step("replay", lambda: replay_max(50_000 if q else 300_000, tmp, env))
        step("bridge", lambda: bridge_poll(50 if q else 300, tmp))
        step("idle", lambda: idle_serve(5 if q else 20, tmp, env))
    finally:
        server.stop()
    (tmp / "results.json").write_text(json.dumps(r, indent=2))
    if a.out:
        replace_section(a.out, "bench",
                        report(r, " ".join(["python scripts/bench.py", *sys.argv[1:]])))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
