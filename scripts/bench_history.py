"""History's benchmarks, side by side in one run, on stores this script makes and removes.

    python scripts/bench_history.py                           # 50 million ticks
    python scripts/bench_history.py --ticks 5000000           # a smaller store
    python scripts/bench_history.py --out docs/BENCHMARKS.md  # and replace its section

A store of N ticks (80 streams: 20 symbols at 4 venues, spread over the 30 days before
today) is written with plain executemany into arbitrex's schema, then:
- ingest through the real collect path into that store, against an empty one (>= 90%);
- export of one hour (history.ordered + the NDJSON writer, in process; and the CLI as a
  process), beside counting that hour with plain SQL;
- archive throughput (arbitrex archive, every day older than today);
- the same hour exported again, now out of the archive;
- bars of 1 minute from the first 10 million ticks, beside DuckDB computing the same bars
  from the Parquet archive.
Bounded: generation stops at --max-minutes; the work folder is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib.harness import ListSource, commit, replace_section  # noqa: E402

from arbitrex import formats, history  # noqa: E402
from arbitrex.archive.layout import cutoff_msc  # noqa: E402
from arbitrex.archive.mover import archive  # noqa: E402
from arbitrex.bars import make_bars  # noqa: E402
from arbitrex.collect.loop import Collector  # noqa: E402
from arbitrex.constants import DAY_MS  # noqa: E402
from arbitrex.model.tick import Tick  # noqa: E402
from arbitrex.stores.sqlite import INSERT, SCHEMA, SqliteStore  # noqa: E402

SYMBOLS = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "AUDUSD", "USDCAD", "USDCHF", "NZDUSD",
           "EURJPY", "GBPJPY", "EURGBP", "EURCHF", "AUDJPY", "CADJPY", "CHFJPY", "EURAUD",
           "GBPAUD", "XAGUSD", "US30", "GER40"]
VENUES = ["icm", "pepper", "oanda", "fxpro"]
HOUR = 3_600_000


def generate(path: Path, n: int, days: int, max_seconds: float) -> dict:
    """N ticks over ``days`` days ending at today's UTC midnight, in time order."""
    start = (int(time.time() * 1000) // DAY_MS - days) * DAY_MS
    span = days * DAY_MS
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-262144")
    db.executescript(SCHEMA)
    rng = random.Random(1)
    seqs = {(v, s): 0 for v in VENUES for s in SYMBOLS}
    keys = list(seqs)
    began = time.monotonic()
    written = 0
    batch = 100_000
    while written < n:
        rows = []
        for i in range(written, min(n, written + batch)):
            key = keys[rng.randrange(len(keys))]
            seqs[key] += 1
            ms = start + i * span // n
            bid = 1.0 + rng.random() * 0.01
            rows.append((*key, seqs[key], ms, bid, bid + 0.0001, 0.0, 0, 0.0, 6,
                         ms * 1_000_000 + 5_000_000, ms))
        db.execute("BEGIN")
        db.executemany(INSERT, rows)
        db.execute("COMMIT")
        written += len(rows)
        if time.monotonic() - began > max_seconds:
            break
    db.execute("BEGIN")
    db.executemany("INSERT INTO streams (venue, symbol, last_seq) VALUES (?,?,?)",
                   [(*k, v) for k, v in seqs.items()])
    db.execute("COMMIT")
    db.close()
    return {"ticks": written, "seconds": time.monotonic() - began, "start_msc": start,
            "days": days, "bytes": path.stat().st_size}


def ingest(path: Path, n: int) -> float:
    """Ticks/s through the real Collector into the store at ``path``."""
    now = int(time.time() * 1000)
    ticks = [Tick("ingest", SYMBOLS[i % 20], 0, now + i // 10, 1.1, 1.1001, 0.0, 0, 0.0, 6,
                  (now + i // 10) * 10**6, now) for i in range(n)]
    store = SqliteStore(path)
    stop = threading.Event()
    collector = Collector(ListSource(ticks, stop), store)  # type: ignore[arg-type]
    began = time.perf_counter()
    collector.run(stop=stop)
    elapsed = time.perf_counter() - began
    store.close()
    return n / elapsed


def export_hour(path: Path, archive_dir: Path, at: int, out: Path) -> dict:
    store = SqliteStore(path)
    began = time.perf_counter()
    n = formats.write(history.ordered(store, from_msc=at, to_msc=at + HOUR,
                                      archive=archive_dir), out, "ndjson")
    seconds = time.perf_counter() - began
    store.close()
    db = sqlite3.connect(path)
    began = time.perf_counter()
    counted = db.execute("SELECT count(*) FROM ticks WHERE time_msc >= ? AND time_msc < ?",
                         (at, at + HOUR)).fetchone()[0]
    sql_seconds = time.perf_counter() - began
    db.close()
    return {"ticks": n, "seconds": seconds, "plain_sql_count": counted,
            "plain_sql_seconds": sql_seconds}


def export_cli(path: Path, archive_dir: Path, at: int, out: Path) -> float:
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at / 1000))
    iso_end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((at + HOUR) / 1000))
    env = dict(os.environ, SQLITE_PATH=str(path), ARCHIVE_DIR=str(archive_dir),
               LOG_LEVEL="WARNING")
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "arbitrex", "export", "--out", str(out), "--from",
                    iso, "--to", iso_end], env=env, check=True)
    return time.perf_counter() - began


def bars_vs_duckdb(path: Path, archive_dir: Path, start: int, to_msc: int) -> dict:
    store = SqliteStore(path)
    began = time.perf_counter()
    ticks = bars = 0
    for bar in make_bars(history.ordered(store, from_msc=start, to_msc=to_msc,
                                         archive=archive_dir), 60_000):
        bars += 1
        ticks += bar.ticks
    seconds = time.perf_counter() - began
    store.close()
    out = {"ticks": ticks, "bars": bars, "seconds": seconds, "ticks_per_s": ticks / seconds}
    try:
        import duckdb
    except ImportError:
        return out
    con = duckdb.connect()
    began = time.perf_counter()
    rows = con.execute(f"""
        SELECT venue, symbol, time_msc - time_msc % 60000 AS start_msc, count(*),
               arg_min(bid, (time_msc, seq)), max(bid), min(bid), arg_max(bid, (time_msc, seq)),
               arg_min(ask, (time_msc, seq)), max(ask), min(ask), arg_max(ask, (time_msc, seq)),
               min(round(ask - bid, 10)), max(round(ask - bid, 10))
        FROM read_parquet('{archive_dir}/**/*.parquet', hive_partitioning = true)
        WHERE time_msc >= {start} AND time_msc < {to_msc}
        GROUP BY ALL""").fetchall()
    duck = time.perf_counter() - began
    out.update(duckdb_seconds=duck, duckdb_bars=len(rows),
               duckdb_ticks_per_s=sum(r[3] for r in rows) / duck)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=50_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--max-minutes", type=float, default=30.0)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="arbitrex-bench-history-"))
    r: dict = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    began = time.monotonic()

    def step(name: str, value: object) -> None:
        r[name] = value
        print(f"{time.monotonic() - began:7.1f} s  {name}: {value}", flush=True)

    try:
        big, empty = tmp / "big.db", tmp / "empty.db"
        archive_dir = tmp / "archive"
        step("store", generate(big, a.ticks, a.days, a.max_minutes * 60))
        n = 300_000
        sqlite3.connect(empty).executescript(SCHEMA).close()
        step("ingest", {"empty": ingest(empty, n), "big": ingest(big, n)})
        at = r["store"]["start_msc"] + (a.days // 2) * DAY_MS + 10 * HOUR
        step("export_hour_store", export_hour(big, archive_dir, at, tmp / "hour.ndjson"))
        step("export_hour_store_cli", export_cli(big, archive_dir, at, tmp / "hour2.ndjson"))
        store = SqliteStore(big)
        cut = cutoff_msc(int(time.time() * 1000), 0)
        due = store.stored_days(cut)
        rows = sum(d.rows for d in due)
        t0 = time.perf_counter()
        moved = archive(store, archive_dir, due)
        seconds = time.perf_counter() - t0
        store.close()
        step("archive", {"ticks": moved.ticks, "days": moved.days, "seconds": seconds,
                         "ticks_per_s": moved.ticks / seconds, "rows_due": rows})
        step("export_hour_archive", export_hour(big, archive_dir, at, tmp / "hour3.ndjson"))
        step("export_hour_archive_cli",
             export_cli(big, archive_dir, at, tmp / "hour4.ndjson"))
        same = (tmp / "hour.ndjson").read_bytes() == (tmp / "hour3.ndjson").read_bytes()
        step("hour_identical_after_archiving", same)
        span = a.days * DAY_MS
        first10m = r["store"]["start_msc"] + span * min(10_000_000, a.ticks) // a.ticks
        step("bars", bars_vs_duckdb(big, archive_dir, r["store"]["start_msc"], first10m))
    finally:
        (Path(tempfile.gettempdir()) / "bench_history.json").write_text(json.dumps(r, indent=2))
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(r, " ".join(["python scripts/bench_history.py", *sys.argv[1:]]))
    print(text)
    if a.out:
        replace_section(a.out, "history", text)


def report(r: dict, command: str) -> str:
    s, ing = r["store"], r["ingest"]
    hs, ha = r["export_hour_store"], r["export_hour_archive"]
    b, arc = r["bars"], r["archive"]
    ratio = ing["big"] / ing["empty"]
    lines = [
        "<!-- history -->", "## History: a large store, the archive, bars", "",
        f"`{command}` — {r['started']}, commit {commit()}. The store: {s['ticks']:,} ticks "
        f"(80 streams, {s['days']} days), {s['bytes'] / 2**30:.1f} GiB, written in "
        f"{s['seconds']:.0f} s with plain executemany.", "",
        "| figure | arbitrex | beside it |", "|---|---|---|",
        f"| ingest through collect, 300,000 ticks | into the big store {ing['big']:,.0f}/s | "
        f"into an empty one {ing['empty']:,.0f}/s: {ratio:.0%} "
        f"({'met' if ratio >= 0.9 else '**not met**'}, target >= 90%) |",
        f"| export one hour ({hs['ticks']:,} ticks), store | {hs['seconds']:.2f} s in "
        f"process, {r['export_hour_store_cli']:.2f} s as a command "
        f"({'met' if hs['seconds'] < 1 else '**not met**'}, target < 1 s) | plain SQL "
        f"count of that hour: {hs['plain_sql_seconds']:.2f} s |",
        f"| export the same hour, archive | {ha['seconds']:.2f} s in process, "
        f"{r['export_hour_archive_cli']:.2f} s as a command | byte-identical to the "
        f"export from the store: {r['hour_identical_after_archiving']} |",
        f"| archive | {arc['ticks_per_s']:,.0f} ticks/s ({arc['ticks']:,} ticks, "
        f"{arc['days']:,} day files, {arc['seconds']:.0f} s) | |",
        f"| bars of 1 min from {b['ticks']:,} ticks | {b['ticks_per_s']:,.0f} ticks/s "
        f"({b['seconds']:.1f} s, {b['bars']:,} bars) | DuckDB over the Parquet archive: "
        + (f"{b['duckdb_ticks_per_s']:,.0f} ticks/s ({b['duckdb_seconds']:.1f} s, "
           f"{b['duckdb_bars']:,} bars) |" if "duckdb_seconds" in b else "not installed |"),
        "<!-- /history -->", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
