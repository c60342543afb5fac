"""The WebSocket server: HTTP routes, the handshake checks, and the per-connection loop.

One port serves ``/ws`` (the protocol), ``/`` (the demo page), ``/healthz``, ``/readyz``,
``/symbols`` and ``/metrics``. The handshake refuses a wrong or missing token (401) and a
browser Origin that is neither this host nor allowed (403).
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import http
import importlib.resources
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from arbitrex.config import Settings
from arbitrex.errors import ListenError, ProtocolError
from arbitrex.runtime.stop import Stop
from arbitrex.stream import protocol as proto
from arbitrex.stream.hub import Hub
from arbitrex.stream.index import Connection
from arbitrex.stream.session import Session
from arbitrex.stream.wire import Wire

__all__ = ["ServerOptions", "StreamServer", "serve_until"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    # Limits
    max_symbols: int = 256
    max_frames_per_second: float = 50.0
    # Timeouts
    ping_interval: float = 20.0
    close_timeout: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerOptions:
        return cls(host=settings.ws_host, port=settings.ws_port,
                   token=settings.ws_token.reveal() if settings.ws_token else None,
                   allowed_origins=settings.ws_allowed_origins or ())


def _page() -> bytes:
    return importlib.resources.files("arbitrex.stream").joinpath("static/index.html").read_bytes()


def _response(status: int, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-store")])
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def _json(status: int, value: object) -> Response:
    return _response(status, orjson.dumps(value), "application/json")


class StreamServer:
    def __init__(self, hub: Hub, options: ServerOptions) -> None:
        self.hub = hub
        self.options = options
        self.page = _page()
        self.bound_port: int | None = None

    # Handshake

    def _origin_allowed(self, origin: str, host_header: str | None) -> bool:
        origin = origin.rstrip("/")
        if origin in self.options.allowed_origins:
            return True
        netloc = urlsplit(origin).netloc
        return bool(host_header) and netloc.lower() == (host_header or "").lower()

    def _token_ok(self, request: Request, query: dict[str, list[str]]) -> bool:
        expected = self.options.token
        if not expected:
            return True
        given = query.get("token", [""])[0]
        auth = request.headers.get("Authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), expected.encode())

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        path = url.path
        if path == "/healthz":
            return _json(200, {"status": "ok"})
        if path == "/readyz":
            return self._ready()
        if path == "/metrics":
            return _response(200, self.hub.metrics.render(),
                             "text/plain; version=0.0.4; charset=utf-8")
        if path in ("/", "/index.html"):
            return _response(200, self.page, "text/html; charset=utf-8")
        if path == "/symbols":
            try:
                streams = self.hub.store.streams()
            except Exception:
                return _json(503, {"status": "store_unavailable"})
            return _json(200, {"symbols": sorted({s for _, s in streams}),
                               "streams": [f"{v}:{s}" for v, s in streams]})
        if path != "/ws":
            return _response(404, b"not found\n", "text/plain; charset=utf-8")
        query = parse_qs(url.query)
        if not self._token_ok(request, query):
            self.hub.metrics.errors["unauthorized"] += 1
            return _response(401, b"missing or wrong token\n", "text/plain; charset=utf-8")
        origin = request.headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin, request.headers.get("Host")):
            self.hub.metrics.errors["forbidden_origin"] += 1
            return _response(403, b"origin not allowed\n", "text/plain; charset=utf-8")
        return None

    def _ready(self) -> Response:
        try:
            self.hub.store.streams()
        except Exception as exc:
            return _json(503, {"status": "store_unavailable", "error": str(exc)})
        recv_ns = self.hub.metrics.last_tick_recv_ns
        age = round((time.time_ns() - recv_ns) / 1e9, 3) if recv_ns else None
        return _json(200, {"status": "ready", "last_tick_age_s": age})

    # Connection

    async def handler(self, conn: ServerConnection) -> None:
        hub = self.hub
        client = Connection(Wire(conn), Session(max_symbols=self.options.max_symbols))
        hub.add(client)
        try:
            request = conn.request
            query = parse_qs(urlsplit(request.path).query) if request is not None else {}
            if "symbols" in query:
                try:
                    symbols = proto.parse_query_symbols(",".join(query["symbols"]))
                    hub.subscribe(client, proto.Subscribe(symbols))
                except ProtocolError as exc:
                    hub.send_error(client, exc.code, str(exc))
            budget = self.options.max_frames_per_second
            allowance, stamp = budget, time.monotonic()
            async for message in conn:
                now = time.monotonic()
                allowance = min(budget, allowance + (now - stamp) * budget)
                stamp = now
                if allowance < 1:
                    hub.send_error(client, "rate_limited",
                                   f"at most {budget:g} frames per second")
                    continue
                allowance -= 1
                self._handle(client, message)
        except ConnectionClosed:
            pass
        finally:
            hub.remove(client)

    def _handle(self, client: Connection, message: str | bytes) -> None:
        hub = self.hub
        try:
            op = proto.parse_client_frame(message)
            if isinstance(op, proto.Subscribe):
                hub.subscribe(client, op)
            elif isinstance(op, proto.Unsubscribe):
                hub.unsubscribe(client, op)
            else:
                client.send(proto.PONG)
        except ProtocolError as exc:
            hub.send_error(client, exc.code, str(exc))

    async def run(self, stop: asyncio.Event,
                  on_ready: Callable[[int], Awaitable[None] | None] | None = None) -> None:
        options = self.options
        async with serve(
            self.handler,
            options.host,
            options.port,
            process_request=self.process_request,
            max_size=proto.MAX_FRAME_BYTES,
            max_queue=16,
            ping_interval=options.ping_interval,
            close_timeout=options.close_timeout,
            compression=None,
            server_header="arbitrex",
        ) as server:
            sockets = list(server.sockets)
            self.bound_port = sockets[0].getsockname()[1] if sockets else options.port
            if on_ready is not None:
                result = on_ready(self.bound_port)
                if result is not None:
                    await result
            hub_task = asyncio.ensure_future(self.hub.run(stop))
            try:
                await stop.wait()
            finally:
                server.close(close_connections=True)  # clients get 1001 (going away)
                await server.wait_closed()
                await asyncio.gather(hub_task, return_exceptions=True)


async def serve_until(server: StreamServer, stop: Stop,
                      on_ready: Callable[[int], Awaitable[None] | None]) -> None:
    """Run ``server`` until ``stop`` is set (clients get 1001); a port that cannot be bound
    becomes an ArbitrexError saying so."""
    # The collector's full passes over every object are pauses in every client's stream:
    # what exists at start (modules, the app) is never scanned again, and young objects
    # (ticks, frames: short-lived, almost never in cycles) are collected less often.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    options = server.options
    try:
        await server.run(stop.async_event(), on_ready=on_ready)
    except OSError as exc:
        raise ListenError("WS_PORT", f"cannot listen on {options.host}:{options.port}: "
                          f"{exc.strerror} (is another server using it? pick another port)"
                          ) from exc
