"""The broker report's benchmark, beside export in the same run (issue: the broker report).

    python scripts/bench_report.py                           # 1 and 10 million ticks
    python scripts/bench_report.py --ticks 300000 1000000    # smaller stores
    python scripts/bench_report.py --out docs/BENCHMARKS.md  # and replace its section

For each size, a store of N ticks (bench_episodes.generate: three venues quoting four
symbols, a tick every 26 ms, quotes that cross as the simulator's brokers' do), then, as a
user runs them and one after the other: `arbitrex export --out all.ndjson` of the whole
range, and `arbitrex report --out report.html` of the same range. Each command's wall time
and peak RSS (the child's own, from wait4). Targets: the report takes at most 3x export's
time on a store of 10 million ticks (smaller stores are run for the memory: the report's
fixed costs, starting Python and drawing the pictures, weigh more there); its peak memory is
flat in the number of ticks and under 500 MB.
Unix only (wait4); the work folder is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_episodes import generate  # noqa: E402
from benchlib.harness import bench_env, commit, finish  # noqa: E402


def timed(args: list[str], env: dict, log: Path) -> tuple[float, float]:
    """Run an arbitrex command: (seconds, peak RSS in MB of that process)."""
    began = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "arbitrex", *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {log.read_text()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def run(n: int, tmp: Path, env: dict, max_seconds: float) -> dict:
    db = tmp / f"store-{n}.db"
    store = generate(db, n, max_seconds)
    e = dict(env, SQLITE_PATH=str(db), ARCHIVE_DIR=str(tmp / "no-archive"))
    export_s, export_mb = timed(["export", "--out", str(tmp / "all.ndjson")], e,
                                tmp / "export.log")
    (tmp / "all.ndjson").unlink()
    report_s, report_mb = timed(["report", "--out", str(tmp / "report.html")], e,
                                tmp / "report.log")
    size = (tmp / "report.html").stat().st_size
    db.unlink()
    return {"ticks": store["ticks"], "days": store["days"], "export_s": export_s,
            "export_mb": export_mb, "report_s": report_s, "report_mb": report_mb,
            "ratio": report_s / export_s, "page_kb": size / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--max-minutes", type=float, default=10, help="bound each generation")
    ap.add_argument("--out", type=Path, help="replace the report section of this file")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="arbitrex-bench-report-"))
    env = bench_env("WARNING")
    r: dict = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "commit": commit(), "runs": []}
    began = time.monotonic()
    try:
        for n in a.ticks:
            r["runs"].append(run(n, tmp, env, a.max_minutes * 60))
            print(f"{time.monotonic() - began:6.1f} s  {r['runs'][-1]}", flush=True)
    finally:
        (tmp / "results.json").write_text(json.dumps(r, indent=2))
    text = report(r, " ".join(["python scripts/bench_report.py", *sys.argv[1:]]))
    finish(tmp, text, a.out, "report")


def report(r: dict, command: str) -> str:
    runs = r["runs"]
    lines = ["<!-- report -->", "## The broker report", "",
             f"`{command}` — {r['started']}, commit {r['commit']}. Stores made by "
             "bench_episodes.generate (three venues, four symbols, a tick every 26 ms); each "
             "command run as a process, one after the other, on the whole range.", "",
             "| ticks | export | report | report / export | peak RSS, export | peak RSS, "
             "report | page |", "|---|---|---|---|---|---|---|"]
    for x in runs:
        lines.append(f"| {x['ticks']:,} ({x['days']} days) | {x['export_s']:.1f} s | "
                     f"{x['report_s']:.1f} s | {x['ratio']:.2f}x | {x['export_mb']:,.0f} MB | "
                     f"{x['report_mb']:,.0f} MB | {x['page_kb']:,.0f} KB |")
    big = [x for x in runs if x["ticks"] >= 10_000_000] or runs  # the target's size
    worst = max((x["ratio"] for x in big), default=float("nan"))
    peak = max((x["report_mb"] for x in runs), default=float("nan"))
    growth = (runs[-1]["report_mb"] / runs[0]["report_mb"] - 1) if len(runs) > 1 else 0.0
    lines += ["", f"Report time at most 3x export's (on {big[0]['ticks']:,} ticks or more): "
              f"worst {worst:.2f}x, "
              f"{'met' if worst <= 3 else '**not met**'}. Peak memory under 500 MB: "
              f"{peak:,.0f} MB, {'met' if peak < 500 else '**not met**'}; flat in the ticks: "
              + (f"{growth * 100:+.0f}% from {runs[0]['ticks']:,} to {runs[-1]['ticks']:,} "
                 f"ticks, {'met' if growth < 0.1 else '**not met**'}." if len(runs) > 1
                 else "one size only, not measured."),
              "<!-- /report -->", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
