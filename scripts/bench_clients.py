"""Benchmark clients, in their own process: N WebSocket connections that read and count.

    python scripts/bench_clients.py URL N SECONDS [--latency] [--stalled M] [--since]

Prints one JSON line: frames and ticks received, and (with --latency) samples of
now - recv_ns in microseconds. Stalled connections complete the handshake and never read.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import sys
import time
from urllib.parse import urlsplit

from websockets.asyncio.client import connect


async def client(url: str, stats: dict, latency: bool, deadline: float, since: bool) -> None:
    async with connect(url, max_size=2**24, open_timeout=120, ping_interval=None) as ws:
        if since:
            symbols = url.split("symbols=")[1].split("&")[0].split(",")
            await ws.send(json.dumps({"op": "subscribe", "symbols": symbols, "batch": True,
                                      "since": dict.fromkeys(symbols, 0)}))
        stats["open"] += 1
        try:
            async with asyncio.timeout(max(0.01, deadline - time.monotonic())):
                async for raw in ws:
                    stats["frames"] += 1
                    if latency:
                        if raw.startswith('{"type":"tick"') and '"snapshot"' not in raw:
                            recv_ns = int(raw[raw.rindex('"recv_ns":') + 10:].split("}")[0]
                                          .split(",")[0])
                            stats["lat"].append((time.time_ns() - recv_ns) // 1000)
                        stats["ticks"] += 1
                    elif raw.startswith('{"type":"ticks"'):
                        stats["ticks"] += raw.count('"type":"tick"')
                        stats["last_at"] = time.monotonic()
                    else:
                        stats["ticks"] += raw.startswith('{"type":"tick"')
                        stats["last_at"] = time.monotonic()
        except TimeoutError:
            pass


def stalled(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("n", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--stalled", type=int, default=0)
    ap.add_argument("--since", action="store_true")
    a = ap.parse_args()
    socks = [stalled(a.url) for _ in range(a.stalled)]
    stats = {"frames": 0, "ticks": 0, "open": 0, "lat": [], "last_at": 0.0}
    start = time.monotonic()
    deadline = start + a.seconds
    tasks = [asyncio.create_task(client(a.url, stats, a.latency, deadline, a.since))
             for _ in range(a.n)]
    await asyncio.gather(*tasks, return_exceptions=True)
    for s in socks:
        s.close()
    lat = stats.pop("lat")
    stats["elapsed"] = (stats["last_at"] or time.monotonic()) - start
    stats["lat_us"] = lat[:: max(1, len(lat) // 20000)]
    print(json.dumps(stats))
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
