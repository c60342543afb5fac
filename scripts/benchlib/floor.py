"""The floor under serve's dispatch: the same clients sent the same bytes by a bare loop.

A bare websockets server takes the same 100 client connections as the latency runs and,
every 10 ms, writes one ready-made frame (a ``ticks`` frame of 20 ticks, what a client
gets from one dispatch at 2,000 ticks/s) to each transport in turn, timing each write
from the start of its round: no store, no wake-up, no planning, nothing counted. Its
p50 / p99 are what the kernel's sends and the clients' wake-ups cost on this machine;
serve's dispatch stage (dispatch begun -> written) is compared with them.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from arbitrex.model.tick import encode
from arbitrex.stream.protocol import ticks_frame
from arbitrex.stream.wire import text_frame
from benchlib.harness import (
    PY,
    SYMBOLS,
    clients,
    free_port,
    make_ticks,
    results,
    start,
    wait_port,
)

FLOOR = textwrap.dedent('''
    import asyncio, json, sys, time
    from websockets.asyncio.server import serve
    WIRE = bytes.fromhex(sys.argv[2])
    SECONDS, WARMUP = float(sys.argv[3]), float(sys.argv[4])
    conns = []
    async def handler(ws):
        conns.append(ws)
        await ws.wait_closed()
    async def main():
        async with serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None,
                         ping_interval=None):
            loop = asyncio.get_running_loop()
            start = loop.time()
            samples, clock = [], time.perf_counter_ns
            while loop.time() - start < SECONDS:
                await asyncio.sleep(0.01)
                began = clock()
                times = []
                for ws in conns:
                    ws.transport.write(WIRE)
                    times.append(clock())
                if loop.time() - start > WARMUP:
                    samples += [(t - began) / 1e6 for t in times]
            samples.sort()
            print(json.dumps({"p50_ms": samples[len(samples) // 2],
                              "p99_ms": samples[int(len(samples) * 0.99)],
                              "writes": len(samples)}), flush=True)
    asyncio.run(main())
''')


def dispatch_floor(seconds: float, tmp: Path, env: dict, n_clients: int = 100) -> dict:
    """p50 / p99 (ms) of each write since its round began, 100 clients, every 10 ms."""
    ticks = make_ticks(20)
    wire = text_frame(ticks_frame([encode(t._replace(seq=i + 1)) for i, t in
                                   enumerate(ticks)]))
    port = free_port()
    bare = start([PY, "-c", FLOOR, str(port), wire.hex(), str(seconds + 2), "2"], env,
                 tmp / "floor.log")
    wait_port(port)
    procs = max(1, n_clients // 50)
    crowd = [clients(f"ws://127.0.0.1:{port}/ws?symbols={SYMBOLS}", n_clients // procs,
                     seconds + 3, "--batch") for _ in range(procs)]
    results(crowd)
    try:
        bare.wait(timeout=30)
    finally:
        if bare.poll() is None:
            bare.kill()
    lines = (tmp / "floor.log").read_text().strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"the floor run printed nothing: see {tmp}/floor.log")
    out = json.loads(lines[-1])
    out["bytes"] = len(wire)
    return out
