"""The episodes' benchmarks, side by side in one run (issue: episodes).

    python scripts/bench_episodes.py                           # 10 million ticks, ~8 minutes
    python scripts/bench_episodes.py --ticks 1000000 --quick   # about two minutes
    python scripts/bench_episodes.py --out docs/BENCHMARKS.md  # and replace its section

- History: a store of N ticks (three venues quoting four symbols, a tick every 26 ms; each
  venue follows one random walk per symbol with its own feed latency and spread, so their
  quotes cross as real brokers' do: an episode for about every 25 ticks, as between the
  simulator's brokers) written with plain executemany into arbitrex's schema;
  then, in process and in the same run, `export` of the whole range (history.ordered and
  the NDJSON writer, into a file) beside `arbitrex.episodes.from_history` over the same
  range: ticks/s each, and the peak RSS the episodes took (each symbol's streams are
  merged as they are read; put in order in memory only where a broker's clock stepped back).
- serve: three simulated brokers (collect --venues icm,pepper,oanda) over three symbols at
  1,000 ticks/s into SQLite; two serve processes side by side on that feed, one whose 10
  clients (scripts/bench_clients.py) hold the best view, one whose 10 hold the best and the
  episodes views, each serve's CPU from /proc over the same window (six pairs, and three
  controls with the best view on both sides: bench_best.py says why); every
  episode frame's latency (now minus the recv_ns of the tick that opened or ended it).
The work folder is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_best import cpu_report, pct, view_cpu  # noqa: E402
from benchlib.harness import (  # noqa: E402
    bench_env,
    commit,
    finish,
)

from arbitrex import formats, history  # noqa: E402
from arbitrex.constants import DAY_MS  # noqa: E402
from arbitrex.episodes import from_history  # noqa: E402
from arbitrex.history import History  # noqa: E402
from arbitrex.model.costs import NO_COSTS  # noqa: E402
from arbitrex.stores.sqlite import INSERT, SCHEMA, SqliteStore  # noqa: E402

SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD")
VENUES = {"icm": (15, 4), "pepper": (140, 6), "oanda": (330, 8)}  # latency ms, spread pts
POINT = {"EURUSD": 1e-5, "GBPUSD": 1e-5, "USDJPY": 1e-3, "XAUUSD": 1e-2}
MID = {"EURUSD": 1.085, "GBPUSD": 1.27, "USDJPY": 151.2, "XAUUSD": 2650.0}


STEP_MS = 26  # between two ticks of the store (any venue, any symbol): 10 million in 3 days


def generate(path: Path, n: int, max_seconds: float) -> dict:
    """N ticks ``STEP_MS`` apart, ending at today's UTC midnight: at each step one venue
    quotes one symbol's mid as it was its latency ago (a random walk in points)."""
    step_ms = STEP_MS
    start = int(time.time() * 1000) // DAY_MS * DAY_MS - n * step_ms
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    rng = random.Random(7)
    walk = dict.fromkeys(SYMBOLS, 0)  # the mid, in points from MID
    history_of: dict[str, list[tuple[float, int]]] = {s: [] for s in SYMBOLS}
    seqs = {(v, s): 0 for v in VENUES for s in SYMBOLS}
    venues = list(VENUES)
    began = time.monotonic()
    written = 0
    while written < n and time.monotonic() - began < max_seconds:
        rows = []
        for i in range(written, min(n, written + 100_000)):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            venue = venues[rng.randrange(3)]
            now = start + i * step_ms
            walk[symbol] += rng.randint(-2, 2)
            past = history_of[symbol]
            past.append((now, walk[symbol]))
            if len(past) > 4000:
                del past[:2000]
            latency, spread = VENUES[venue]
            seen = next((w for t, w in reversed(past) if t <= now - latency), past[0][1])
            bid = round(MID[symbol] + seen * POINT[symbol], 6)
            ask = round(bid + (spread + rng.randint(0, 3)) * POINT[symbol], 6)
            seqs[(venue, symbol)] += 1
            ms = int(now)
            rows.append((venue, symbol, seqs[(venue, symbol)], ms, bid, ask, 0.0, 0, 0.0, 6,
                         ms * 1_000_000 + latency * 1_000_000 + rng.randrange(1_000_000), ms))
        db.execute("BEGIN")
        db.executemany(INSERT, rows)
        db.execute("COMMIT")
        written += len(rows)
    db.execute("BEGIN")
    db.executemany("INSERT INTO streams (venue, symbol, last_seq) VALUES (?,?,?)",
                   [(*k, v) for k, v in seqs.items()])
    db.execute("COMMIT")
    db.close()
    return {"ticks": written, "seconds": time.monotonic() - began,
            "days": round(written * step_ms / DAY_MS, 2), "bytes": path.stat().st_size}


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def history_run(db: Path, tmp: Path) -> dict:
    store = SqliteStore(db)
    try:
        began = time.perf_counter()
        exported = formats.write(history.ordered(store), tmp / "all.ndjson", "ndjson")
        export_s = time.perf_counter() - began
        (tmp / "all.ndjson").unlink()
        rss_before = rss_peak_mb()
        began = time.perf_counter()
        found = closed = 0
        for episode in from_history(history=History(store, None), stale_after_ms=10_000,
                                    costs=NO_COSTS):
            found += 1
            closed += episode.state == "closed"
        episodes_s = time.perf_counter() - began
    finally:
        store.close()
    return {"ticks": exported, "export_s": export_s, "export_tps": exported / export_s,
            "episodes_s": episodes_s, "episodes_tps": exported / episodes_s,
            "episodes": found, "closed": closed, "rss_before_mb": rss_before,
            "rss_peak_mb": rss_peak_mb()}


def serve_runs(seconds: float, tmp: Path, env: dict, pairs: int, controls: int,
               log: Callable[[str], None]) -> dict:
    """The CPU the episodes view adds to serve at 1,000 ticks/s over three venues
    (``bench_best.view_cpu``: pairs of serves side by side, one whose 10 clients hold the
    best view, one whose 10 hold the best and episodes views; controls with the best view
    on both sides); each pair's episode frames and their latency."""
    flags = ["--best", "--latency", "--warmup", "2", "--sample", "50"]
    cpu = view_cpu("serve", seconds, tmp, env, flags, ["--episodes"], pairs, controls, log)
    for run in cpu["pairs"]:
        got = run.pop("got")
        if got["bests"] == 0 or got["episodes"] == 0:
            raise RuntimeError(f"the run did not deliver: {got}")
        lat = got["episode_us"]
        run.update(episode_frames=got["episodes"], episode_samples=len(lat),
                   episode_p50_ms=pct(lat, 0.5), episode_p99_ms=pct(lat, 0.99),
                   ticks=got["ticks"])
    return cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true", help="5 s serve windows, two pairs")
    ap.add_argument("--only", choices=("history", "serve"), help="run one part")
    ap.add_argument("--max-minutes", type=float, default=10, help="bound the generation")
    ap.add_argument("--out", type=Path, help="replace the episodes section of this file")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="arbitrex-bench-episodes-"))
    env = bench_env()
    r: dict = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "serve": {},
               "quick": a.quick, "commit": commit()}  # the code measured: HEAD at the start
    began = time.monotonic()
    try:
        if a.only != "serve":
            r["store"] = generate(tmp / "big.db", a.ticks, a.max_minutes * 60)
            print(f"{time.monotonic() - began:6.1f} s  store {r['store']}", flush=True)
            r["history"] = history_run(tmp / "big.db", tmp)
            print(f"{time.monotonic() - began:6.1f} s  history {r['history']}", flush=True)
            (tmp / "big.db").unlink()
        if a.only != "history":
            r["serve"] = serve_runs(
                5 if a.quick else 15, tmp, env, pairs=2 if a.quick else 6,
                controls=1 if a.quick else 3,
                log=lambda line: print(f"{time.monotonic() - began:6.1f} s  {line}", flush=True))
    finally:
        (tmp / "results.json").write_text(json.dumps(r, indent=2))
    text = report(r, " ".join(["python scripts/bench_episodes.py", *sys.argv[1:]]))
    finish(tmp, text, a.out, "episodes")


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def report(r: dict, command: str) -> str:
    lines = ["<!-- episodes -->", "## Episodes", "",
             f"`{command}` — {r['started']}, commit {r['commit']}.", ""]
    if "history" in r:
        h, s = r["history"], r["store"]
        ratio = h["episodes_tps"] / h["export_tps"]
        lines += [
            f"From history: a store of {s['ticks']:,} ticks (three venues quoting four "
            f"symbols over {s['days']} days, {s['bytes'] / 2**30:.1f} GiB), the whole range, "
            "in process, in the same run:", "",
            "| figure | ticks/s | time | |", "|---|---|---|---|",
            f"| export (history.ordered, NDJSON into a file) | {h['export_tps']:,.0f} | "
            f"{h['export_s']:.1f} s | {h['ticks']:,} ticks |",
            f"| episodes (arbitrex.episodes.from_history) | {h['episodes_tps']:,.0f} | "
            f"{h['episodes_s']:.1f} s | {h['episodes']:,} episodes ({h['closed']:,} ended); "
            f"peak RSS {h['rss_peak_mb']:,.0f} MB (before: {h['rss_before_mb']:,.0f} MB) |",
            "", f"Episodes at {ratio:.0%} of export's ticks/s; target >= 50%: "
            f"{verdict(ratio >= 0.5)}.", ""]
    serve = r["serve"]
    if serve:
        pairs = serve["pairs"]
        cpu, _ = cpu_report(serve, "best view", "best + episodes views", 0.1)
        lines += ["serve at 1,000 ticks/s (333 per venue, three symbols), 10 clients: two "
                  "serve processes side by side on one feed, each with 10 clients of its own "
                  "(holding the best view; the best and episodes views), measured over the "
                  f"same {'5' if r['quick'] else '15'} s window, each started first in turn; "
                  "after every second pair a control, two serves whose clients hold the best "
                  "view alone:", "", *cpu, "",
                  "| pair | episode frames | episode latency p50 / p99 |", "|---|---|---|"]
        lines += [f"| {i} | {e['episode_frames']:,} ({e['episode_samples']:,} sampled) | "
                  f"{e['episode_p50_ms']:.1f} / {e['episode_p99_ms']:.1f} ms |"
                  for i, e in enumerate(pairs, 1)]
        p99 = max((e["episode_p99_ms"] for e in pairs), default=float("nan"))
        lines += ["", f"Episode frame latency p99, worst run {p99:.1f} ms; target <= 10 ms: "
                  f"{verdict(p99 <= 10)}. serve runs the engine for every tick either way "
                  "(its metrics count every episode): what the view adds is the frames.", ""]
    lines += ["<!-- /episodes -->", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
