"""A crowd of WebSocket clients in their own process: readers that read and discard, and
stalled clients that complete the handshake and then never read a byte.

    python tests/crowd.py PORT READERS STALLED SYMBOLS

Prints "ready" once every client is connected, then runs until stdin closes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys

from websockets.asyncio.client import connect


def stalled(port: int, symbols: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws?symbols={symbols} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


async def reader(port: int, symbols: str, ready: asyncio.Event) -> None:
    async with connect(f"ws://127.0.0.1:{port}/ws?symbols={symbols}", open_timeout=60) as ws:
        ready.set()
        async for _ in ws:
            pass


async def main(port: int, readers: int, stalled_n: int, symbols: str) -> None:
    socks = [stalled(port, symbols) for _ in range(stalled_n)]
    events = [asyncio.Event() for _ in range(readers)]
    tasks = [asyncio.create_task(reader(port, symbols, e)) for e in events]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 120)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for task in tasks:
        task.cancel()
    for sock in socks:
        sock.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
