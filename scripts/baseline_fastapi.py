"""A baseline server built the way arbitrex's original stack was: FastAPI on uvicorn, a task
that polls the SQLite store every 10 ms, and one ``send_json`` per client per tick.

    python scripts/baseline_fastapi.py SQLITE_PATH PORT

It serves ``/ws?symbols=A,B`` (ticks of those symbols, as tick records) and nothing else:
no resume, no bound on slow clients. It is what a user would write themselves, for
``scripts/bench_best.py`` to weigh arbitrex against (needs ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

FIELDS = ("symbol", "venue", "seq", "time_msc", "bid", "ask", "last", "volume", "volume_real",
          "flags", "recv_ns")
clients: dict[WebSocket, set[str]] = {}


async def follow(path: str) -> None:
    db = sqlite3.connect(path)
    row = db.execute("SELECT COALESCE(MAX(id), 0) FROM ticks").fetchone()
    last_id = row[0]
    while True:
        rows = db.execute(f"SELECT id, {', '.join(FIELDS)} FROM ticks WHERE id > ? ORDER BY id "
                          "LIMIT 5000", (last_id,)).fetchall()
        for row in rows:
            last_id = row[0]
            record = {"type": "tick", **dict(zip(FIELDS, row[1:], strict=True))}
            for ws, symbols in list(clients.items()):
                if record["symbol"] in symbols:
                    try:
                        await ws.send_json(record)
                    except Exception:
                        clients.pop(ws, None)
        await asyncio.sleep(0.01)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(follow(sys.argv[1]))
    yield
    task.cancel()


app = FastAPI(lifespan=lifespan)


@app.websocket("/ws")
async def ws_endpoint(ws: WebSocket, symbols: str = "") -> None:
    await ws.accept()
    clients[ws] = set(symbols.split(","))
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        clients.pop(ws, None)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
                ws_ping_interval=None)
