"""What grows in serve: its RSS and tracemalloc's view of its Python heap, over minutes.

    python scripts/memory_probe.py                    # 300 s, 1,000 clients (100 stalled)
    python scripts/memory_probe.py --seconds 120      # shorter

collect (the simulator, 100 ticks/s, into SQLite) and serve run as processes, as bench.py's
RSS figure has them, but serve with PYTHONTRACEMALLOC=1 and ARBITREX_TRACEMALLOC=FILE set:
it writes tracemalloc's top allocations by line at 60 s and again when it stops
(arbitrex/runtime/memtrace.py). The clients are scripts/bench_clients.py
processes (900 reading, 100 never reading). Prints serve's RSS at 60 s and at the end, and
the lines whose allocations grew most between the two snapshots. tracemalloc itself costs
memory and time: the RSS here is higher than bench.py's; the growth is what to read.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.harness import (  # noqa: E402
    bench_env,
    clients,
    pipeline,
    results,
    rss_mb,
    stop_all,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="arbitrex-memory-"))
    trace = tmp / "trace.txt"
    env = bench_env()
    env.update(SQLITE_PATH=str(tmp / "rss.db"), PYTHONTRACEMALLOC="1",
               ARBITREX_TRACEMALLOC=str(trace))
    collect, serve, port = pipeline(100, "rss", env, tmp)
    url = f"ws://127.0.0.1:{port}/ws?symbols=EURUSD"
    crowd = [clients(url, 450, a.seconds + 3), clients(url, 450, a.seconds + 3, "--stalled",
                                                           "100")]
    started = time.monotonic()
    time.sleep(max(0.0, started + 60 - time.monotonic()))
    at_60 = rss_mb(serve.pid)
    time.sleep(max(0.0, started + a.seconds - time.monotonic()))
    at_end = rss_mb(serve.pid)
    got = results(crowd)
    stop_all(collect, serve)
    print(f"serve RSS: {at_60:.1f} MB at 60 s, {at_end:.1f} MB at {a.seconds:.0f} s "
          f"({at_end / at_60 - 1:+.1%}); clients open: {sum(g['open'] for g in got) + 100}")
    print(trace.read_text() if trace.exists() else "no tracemalloc output (see the logs in "
          f"{tmp})")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
