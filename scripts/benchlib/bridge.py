"""One poll of 20 symbols over the MT5 bridge (a real RPyC server on loopback), against
rpyc.classic.obtain per symbol."""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchlib.harness import PY, free_port, start, stop_all, wait_port

BRIDGE_SYMBOLS = 20

def bridge_poll(polls: int, tmp: Path) -> dict:
    """One poll of 20 symbols over the MT5 bridge (a real rpyc_classic server on loopback,
    the MetaTrader5 double on its side): arbitrex's one round trip (copy_ticks_many, arrays
    as bytes) beside the obtain-per-symbol way (rpyc.classic.obtain of each array)."""
    import rpyc

    from arbitrex.sources.mt5.bridge import BridgeApi
    from arbitrex.testing.mt5 import Scenario, write_module

    symbols = [f"SYM{i:02d}" for i in range(BRIDGE_SYMBOLS)]
    now_ms = int(time.time() * 1000)
    Scenario.generate(symbols, start_ms=now_ms - 60_000, seconds=120, rate=25,
                      seed=3).save(tmp / "bridge.json")
    (tmp / "bridge-shim").mkdir(exist_ok=True)
    write_module(tmp / "bridge-shim")
    port = free_port()
    server = start([PY, "-c", "from rpyc.cli.rpyc_classic import main; main()", "--host",
                    "127.0.0.1", "-p", str(port)],
                   dict(os.environ, PYTHONPATH=str(tmp / "bridge-shim"),
                        ARBITREX_FAKE_MT5=str(tmp / "bridge.json")), tmp / "bridge.log")
    try:
        wait_port(port)
        api = BridgeApi("127.0.0.1", port)
        api.initialize()
        conn = rpyc.classic.connect("127.0.0.1", port)
        conn.execute("import MetaTrader5 as mt5; mt5.initialize()")
        # The double's own time for the same work, in this process: the rest is the bridge.
        from arbitrex.testing.mt5 import FakeTerminal

        double = FakeTerminal(Scenario.load(tmp / "bridge.json"))
        double.initialize()

        # Each poll asks every symbol from the start of the current second, as the source
        # does (from the second of the last tick it took): 0-25 ticks a symbol, ~12 on average.
        def ours() -> int:
            since = int(time.time())
            return sum(len(rows) for rows in api.copy_ticks_many(
                [(s, since, 10_000, -1) for s in symbols]) if not isinstance(rows, tuple))

        def obtain_each() -> int:
            since = int(time.time())
            return sum(len(rpyc.classic.obtain(conn.eval(
                f"mt5.copy_ticks_from({s!r}, {since}, 10000, -1)"))) for s in symbols)

        def in_process() -> int:
            since = int(time.time())
            return sum(len(double.copy_ticks_from(s, since, 10_000, -1)) for s in symbols)

        timings: dict[str, list[float]] = {"ours": [], "obtain": [], "double": []}
        rows = {"ours": 0, "obtain": 0, "double": 0}
        for name, poll in (("ours", ours), ("obtain", obtain_each), ("double", in_process)):
            poll()  # warm: the first call of each symbol builds the double's array
            for _ in range(polls):  # each way on its own, polls spread as a collector's are
                t0 = time.perf_counter()
                rows[name] += poll() / polls
                timings[name].append((time.perf_counter() - t0) * 1000)
                time.sleep(0.02)
        hot = []  # the same polls back to back: without the wake-ups
        for _ in range(polls):
            t0 = time.perf_counter()
            ours()
            hot.append((time.perf_counter() - t0) * 1000)
        timings["ours_back_to_back"] = hot
        conn.close()
        api.shutdown()
    finally:
        stop_all(server)

    def pct(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(len(values) * q))]
    return {"symbols": BRIDGE_SYMBOLS, "polls": polls,
            "rows_per_poll": sum(rows.values()) / 3,
            **{f"{name}_p50_ms": pct(t, 0.5) for name, t in timings.items()},
            **{f"{name}_p99_ms": pct(t, 0.99) for name, t in timings.items()}}
