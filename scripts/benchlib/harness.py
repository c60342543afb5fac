"""What every figure uses: ports, processes, a redis-server of the run's own, client
processes, CPU and RSS readings, repeated runs, and where a report goes."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from arbitrex.model.tick import Tick
from arbitrex.sources.sim import SimModel

ROOT = Path(__file__).resolve().parents[2]  # the repository
sys.path.insert(0, str(ROOT))

PY = sys.executable
CLIENTS = str(ROOT / "scripts" / "bench_clients.py")
SYMBOLS = "EURUSD,GBPUSD,USDJPY"
SWEEP = (0.004, 0.02, 0.05)  # read intervals of the simulated feed besides the default

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")

def make_ticks(n: int, symbols: tuple[str, ...] = ("EURUSD", "GBPUSD", "USDJPY")) -> list[Tick]:
    model = SimModel(symbols, seed=1)
    t0 = 1_800_000_000_000
    out = []
    for i in range(n):
        symbol, bid, ask, flags, _ = next(model)
        ms = t0 + i // 5
        out.append(Tick("sim", symbol, 0, ms, bid, ask, 0.0, 0, 0.0, flags, ms * 10**6, ms))
    return out

class ListSource:
    """Pre-made ticks handed to the real Collector 1,000 at a time."""

    venue = "sim"
    exhausted = False
    fresh_starts: dict[str, int] = {}

    def __init__(self, ticks: list[Tick], stop: threading.Event) -> None:
        self.ticks, self.stop, self.i = ticks, stop, 0

    def open(self, positions: object) -> None: ...

    def poll(self, timeout: float) -> list[Tick]:
        batch = self.ticks[self.i:self.i + 1000]
        self.i += len(batch)
        if not batch:
            self.stop.set()
        return batch

    def status(self) -> str:
        return ""

    def close(self) -> None: ...

class Redis:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind",
             "127.0.0.1", "--dir", str(tmp), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL)
        wait_port(self.port)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()

def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as f:
        return subprocess.Popen(args, env=env, stdout=f, stderr=subprocess.STDOUT)

def arbitrex(*args: str, env: dict, log: Path) -> subprocess.Popen:
    return start([PY, "-m", "arbitrex", *args], env, log)

def pipeline(rate: int, name: str, env: dict, tmp: Path, poll_interval: float | None = None
             ) -> tuple[subprocess.Popen, subprocess.Popen, int]:
    """collect (the simulator at ``rate`` ticks/s, read every ``poll_interval`` s, default:
    collect's) -> store -> serve on a free port: the two processes and the port, logs in
    ``tmp/NAME-collect.log`` and ``NAME-serve.log``."""
    read = [] if poll_interval is None else ["--poll-interval", str(poll_interval)]
    collect = arbitrex("collect", "--source", "sim", "--symbols", SYMBOLS, "--rate", str(rate),
                       *read, env=env, log=tmp / f"{name}-collect.log")
    port = free_port()
    serve = arbitrex("serve", "--port", str(port), env=env, log=tmp / f"{name}-serve.log")
    try:
        wait_port(port)
    except RuntimeError as exc:
        stop_all(collect, serve)
        log = (tmp / f"{name}-serve.log").read_text()
        raise RuntimeError(f"serve did not start: {log}") from exc
    return collect, serve, port

def clients(url: str, n: int, seconds: float, *flags: str) -> subprocess.Popen:
    return subprocess.Popen([PY, CLIENTS, url, str(n), str(seconds), *flags],
                            stdout=subprocess.PIPE, text=True)

def results(procs: list[subprocess.Popen]) -> list[dict]:
    return [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

def stop_all(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()

def repeated(times: int, run: Callable[[], dict], key: str) -> dict:
    """The figure near its target, run ``times`` times (see ``summary``)."""
    return summary([run() for _ in range(times)], key)

def summary(runs: list[dict], key: str) -> dict:
    """Runs of a figure near its target, in the order they ran: the run with the median
    ``key``, every run's ``key`` sorted (the report holds the worst against the target)
    and in the order they ran (``in_order``: to pair them with another figure's)."""
    ordered = sorted(runs, key=lambda r: r[key])
    every = {name: [r[name] for r in ordered] for name in runs[0] if name.endswith("_ms")}
    return {**ordered[len(ordered) // 2], "runs": [r[key] for r in ordered],
            "in_order": [r[key] for r in runs], "every": every}

def commit() -> str:
    """The short hash of HEAD, for a report."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"

def replace_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` (which begins with ``<!-- name -->`` and ends with ``<!-- /name -->``) in
    place of that section of the report at ``path`` (the rest of it, static text and the
    other scripts' sections, is kept as it is), or at its end."""
    old = path.read_text() if path.exists() else ""
    section = re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->\n?", re.S)
    body = text.rstrip() + "\n"
    if section.search(old):
        new = section.sub(lambda m: body, old, count=1)
    else:
        new = old.rstrip() + "\n\n" + body
    path.write_text(new)
    print("wrote", path)


def scrape(port: int) -> dict[str, dict[float, float]]:
    """serve's write-latency histograms from /metrics, by stage ("receive", "dispatch"):
    upper bound (s) -> cumulative count."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    out: dict[str, dict[float, float]] = {}
    for line in text.splitlines():
        if line.startswith("arbitrex_write_latency_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            since = line.split('since="', 1)[1].split('"', 1)[0]
            out.setdefault(since, {})[float("inf") if le == "+Inf" else float(le)] = \
                float(line.rsplit(" ", 1)[1])
    return out


def histogram_quantile(before: dict[float, float], after: dict[float, float], q: float
                       ) -> float:
    """The q-quantile (ms) of what was observed between two scrapes, read linearly within
    its bucket (as Prometheus' histogram_quantile does)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return float("nan")
    rank, low, below = q * total, 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if bound == float("inf"):
                return low * 1000
            inside = cumulative - below
            return (low + (bound - low) * ((rank - below) / inside if inside else 1)) * 1000
        low, below = bound, cumulative
    return low * 1000


def bench_env(log_level: str = "INFO") -> dict[str, str]:
    """This environment without the settings a benchmark sets itself (where the store is,
    which one, the port), so that nothing of the shell's leaks into a run."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WS_", "SQLITE", "REDIS", "TICK_", "KAFKA"))}
    env["LOG_LEVEL"] = log_level
    return env


def finish(tmp: Path, text: str, out: Path | None, section: str) -> None:
    """Print a benchmark's report, write its section of ``out`` (when given), and remove
    its work folder."""
    print(text)
    if out:
        replace_section(out, section, text)
    shutil.rmtree(tmp, ignore_errors=True)
