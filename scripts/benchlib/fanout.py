"""Fan-out to 100 and 1,000 clients, against a bare websockets.broadcast server with the
same clients and frames."""

from __future__ import annotations

import textwrap
from pathlib import Path

from arbitrex.model.tick import encode
from benchlib.harness import (
    PY,
    SYMBOLS,
    clients,
    free_port,
    make_ticks,
    pipeline,
    results,
    start,
    stop_all,
    wait_port,
)

BARE = textwrap.dedent('''
    import asyncio, sys, time
    from websockets.asyncio.server import serve, broadcast
    FRAME = sys.argv[2]
    RATE = float(sys.argv[3])
    clients = set()
    async def handler(ws):
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)
    async def main():
        async with serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None,
                         max_size=65536, ping_interval=None):
            sent, start = 0, time.monotonic()
            while True:
                due = int((time.monotonic() - start) * RATE) - sent
                for _ in range(max(0, min(due, 1000))):
                    broadcast(clients, FRAME)
                sent += max(0, due)
                await asyncio.sleep(0.001)
    asyncio.run(main())
''')

def fanout(n: int, rate: float, seconds: float, tmp: Path, env: dict) -> dict:
    procs_per = max(1, n // 250)
    frame = encode(make_ticks(1)[0]._replace(seq=1)).decode()
    out = {}
    # bare websockets.broadcast, same clients, same frame size
    port = free_port()
    bare = start([PY, "-c", BARE, str(port), frame, str(rate)], env, tmp / "bare.log")
    wait_port(port)
    crowd = [clients(f"ws://127.0.0.1:{port}/ws?symbols={SYMBOLS}", n // procs_per, seconds)
             for _ in range(procs_per)]
    got = results(crowd)
    stop_all(bare)
    out["bare"] = sum(g["ticks"] for g in got) / seconds
    # arbitrex: collect (sim) -> SQLite -> serve -> the same clients
    db = tmp / f"fan{n}.db"
    e = dict(env, SQLITE_PATH=str(db))
    collect, serve, port = pipeline(int(rate), "fan", e, tmp)
    crowd = [clients(f"ws://127.0.0.1:{port}/ws?symbols={SYMBOLS}", n // procs_per, seconds)
             for _ in range(procs_per)]
    got = results(crowd)
    stop_all(collect, serve)
    out["ours"] = sum(g["ticks"] for g in got) / seconds
    out["offered"] = rate * n
    return out
