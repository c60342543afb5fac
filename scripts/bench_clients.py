"""Benchmark clients, in their own process: N WebSocket connections that read and count.

    python scripts/bench_clients.py URL N SECONDS [--latency] [--stalled M] [--since] [--batch]
                                    [--best] [--episodes]

Prints one JSON line: frames and ticks received, and (with --latency) samples of
now - recv_ns (``lat_us``) and of now - time_msc (``event_us``, the feed's event time, ms
resolution) in microseconds, taken after --warmup seconds from one frame in --sample.
With --best each connection also holds the cross-venue view, and (with --latency) one
``best`` frame in --sample is sampled (``best_us``: now - when the newest tick it reflects
was received, from its venues' ``time_msc`` + ``lag_ms``). With --episodes each connection
holds the episodes view too, and (with --latency) every ``episode`` frame but the snapshot
is sampled (``episode_us``: now - the ``recv_ns`` of the tick that opened or ended it).
Stalled connections complete the handshake and never read. With --expect N the process
ends once N ticks have come.

The clients are deliberately lean (an ``asyncio.Protocol`` that parses server frames by
hand, answers pings, and parses JSON with orjson only when measuring latency): they share
the machine's cores with the server under test, so the less they cost, the more the
figures measure the server. The same clients read the bare ``websockets.broadcast``
baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import struct
import sys
import time
from urllib.parse import urlsplit

import orjson


def handshake(url: str) -> bytes:
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.3); the all-zero mask keeps the payload as is."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return header + b"\0\0\0\0" + payload


class Reader(asyncio.Protocol):
    def __init__(self, stats: dict, a: argparse.Namespace, symbols: list[str]) -> None:
        self.stats, self.a, self.symbols = stats, a, symbols
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def subscribe(self) -> None:
        """What the connection asks for besides the URL's symbols."""
        ops: list[dict] = []
        if self.a.since or self.a.batch:
            op: dict = {"op": "subscribe", "symbols": self.symbols, "batch": True}
            if self.a.since:
                op["since"] = dict.fromkeys(self.symbols, 0)
            ops.append(op)
        if self.a.best:
            ops.append({"op": "subscribe", "symbols": self.symbols, "view": "best"})
        if self.a.episodes:
            ops.append({"op": "subscribe", "symbols": self.symbols, "view": "episodes"})
        for op in ops:
            self.transport.write(client_frame(1, orjson.dumps(op)))  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                raise SystemExit(f"handshake refused: {bytes(buf[:end]).decode()!r}")
            del buf[:end + 4]
            self.upgraded = True
            self.stats["open"] += 1
            self.subscribe()
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            opcode = buf[pos] & 0x0F
            n = buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if size - pos < 4:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 4], "big")
                head = 4
            elif n == 127:
                if size - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                head = 10
            if size - pos < head + n:
                break
            payload = bytes(buf[pos + head:pos + head + n])
            pos += head + n
            self.frame(opcode, payload)
        del buf[:pos]

    def frame(self, opcode: int, payload: bytes) -> None:
        stats = self.stats
        if opcode == 9:  # ping
            self.transport.write(client_frame(10, payload))  # type: ignore[union-attr]
            return
        if opcode == 8:  # close: answer it and go
            self.transport.write(client_frame(8, payload[:2]))  # type: ignore[union-attr]
            self.transport.close()  # type: ignore[union-attr]
            return
        if opcode != 1:
            return
        stats["frames"] += 1
        stats["last_at"] = time.monotonic()
        if payload.startswith(b'{"type":"episode"'):
            self.episode(payload)
            return
        if payload.startswith(b'{"type":"best"'):
            self.best(payload)
            return
        if self.a.latency and stats["last_at"] >= self.a.measure_from \
                and stats["frames"] % self.a.sample == 0:
            now = time.time_ns()
            msg = orjson.loads(payload)
            kind = msg["type"]
            ticks = msg["data"] if kind == "ticks" else (
                [msg] if kind == "tick" and "snapshot" not in msg else [])
            stats["lat"].extend((now - t["recv_ns"]) // 1000 for t in ticks)
            stats["event"].extend(now // 1000 - t["time_msc"] * 1000 for t in ticks)
            stats["ticks"] += len(ticks)
        elif payload.startswith(b'{"type":"ticks"'):
            stats["ticks"] += payload.count(b'"type":"tick"')
        elif payload.startswith(b'{"type":"tick"'):
            stats["ticks"] += b'"snapshot"' not in payload
        if self.a.expect and stats["ticks"] >= self.a.expect and not self.done.done():
            self.done.set_result(None)


    def episode(self, payload: bytes) -> None:
        stats = self.stats
        stats["episodes"] += 1
        if self.a.latency and stats["last_at"] >= self.a.measure_from:
            now_ns = time.time_ns()
            episode = orjson.loads(payload)
            if "snapshot" not in episode:
                made = episode["end_ns"] or episode["start_ns"]
                stats["episode"].append((now_ns - made) // 1000)

    def best(self, payload: bytes) -> None:
        stats = self.stats
        stats["bests"] += 1
        if self.a.latency and stats["last_at"] >= self.a.measure_from \
                and stats["bests"] % self.a.sample == 0:
            now_us = time.time_ns() // 1000
            view = orjson.loads(payload)
            if "snapshot" not in view:
                received = max(q["time_msc"] * 1000 + q["lag_ms"] * 1000
                               for q in view["venues"].values())
                stats["best"].append(int(now_us - received))


async def client(url: str, stats: dict, deadline: float, a: argparse.Namespace) -> None:
    parts = urlsplit(url)
    symbols = url.split("symbols=")[1].split("&")[0].split(",")
    loop = asyncio.get_running_loop()
    transport, reader = await loop.create_connection(
        lambda: Reader(stats, a, symbols), parts.hostname, parts.port)
    transport.write(handshake(url))
    try:
        await asyncio.wait_for(reader.done, max(0.01, deadline - time.monotonic()))
    except TimeoutError:
        pass
    transport.close()


def stalled(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(handshake(url))
    return sock


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("n", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--stalled", type=int, default=0)
    ap.add_argument("--since", action="store_true", help="resume from seq 0, batched")
    ap.add_argument("--batch", action="store_true", help='subscribe with "batch": true')
    ap.add_argument("--best", action="store_true", help="hold the cross-venue view too")
    ap.add_argument("--episodes", action="store_true", help="hold the episodes view too")
    ap.add_argument("--expect", type=int, default=0, help="end once this many ticks came")
    ap.add_argument("--sample", type=int, default=1,
                    help="with --latency, parse one frame in this many for samples (the "
                         "rest are counted unparsed: the clients cost the shared cores less)")
    ap.add_argument("--warmup", type=float, default=0.0,
                    help="seconds after start (connecting, snapshots) not sampled for latency")
    a = ap.parse_args()
    a.measure_from = time.monotonic() + a.warmup
    socks = [stalled(a.url) for _ in range(a.stalled)]
    stats = {"frames": 0, "ticks": 0, "bests": 0, "episodes": 0, "open": 0, "lat": [],
             "event": [], "best": [], "episode": [], "last_at": 0.0}
    start = time.monotonic()
    deadline = start + a.seconds
    tasks = [asyncio.create_task(client(a.url, stats, deadline, a)) for _ in range(a.n)]
    await asyncio.gather(*tasks, return_exceptions=True)
    for s in socks:
        s.close()
    lat, event, best = stats.pop("lat"), stats.pop("event"), stats.pop("best")
    stats["elapsed"] = (stats["last_at"] or time.monotonic()) - start
    step = max(1, len(lat) // 20000)
    stats["lat_us"], stats["event_us"] = lat[::step], event[::step]
    stats["best_us"] = best[::max(1, len(best) // 20000)]
    episodes = stats.pop("episode")
    stats["episode_us"] = episodes[::max(1, len(episodes) // 20000)]
    print(json.dumps(stats))
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
