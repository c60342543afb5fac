"""A real StreamServer over a memory store, in a thread of its own, for tests that talk to
it with a real WebSocket client."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from arbitrex.runtime.stop import Stop
from arbitrex.stores.memory import MemoryStore
from arbitrex.stream.hub import Hub
from arbitrex.stream.server import ServerOptions, StreamServer, serve_until
from tests.conftest import free_port, port_open, wait_for


class Server:
    def __init__(self, store: MemoryStore, port: int | None = None, token: str | None = None,
                 **hub: Any) -> None:
        self.stop = Stop()
        self.port = port or free_port()
        self.hub = Hub(store, store, **hub)
        server = StreamServer(self.hub, ServerOptions(port=self.port, token=token,
                                                      max_frames_per_second=1000))
        self.thread = threading.Thread(
            target=lambda: asyncio.run(serve_until(server, self.stop, lambda p: None)),
            daemon=True)
        self.thread.start()
        wait_for(lambda: port_open(self.port), what="the server")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
