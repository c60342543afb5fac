"""The Python client of arbitrex's WebSocket protocol (docs/PROTOCOL.md: Python client and history).

    from arbitrex.client import connect, Gap, Best
    async with connect("ws://127.0.0.1:8000/ws", token=None) as client:
        async for item in client.subscribe(["EURUSD"], since={"EURUSD": 41}):
            ...  # an arbitrex.model.Tick, or a Gap(venue, symbol, from_seq, to_seq, reason)

With ``view="best"`` the items are ``Best`` views. The client reconnects by itself (capped,
jittered backoff) and resumes each stream after the last seq it yielded: it never yields a
seq twice, and every hole is a ``Gap`` (the server's, or ``"unannounced"`` should a seq be
skipped without one). For scripts and notebooks, ``ticks(url, symbols)`` is the same as a
plain iterator: ``for tick in arbitrex.client.ticks(url, ["EURUSD"]): ...``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncGenerator, Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, NamedTuple, cast, overload
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from arbitrex.errors import ArbitrexError, ConfigError, TickError
from arbitrex.model import Best, Gap, Item, Tick
from arbitrex.model.tick import from_record
from arbitrex.runtime.backoff import Backoff

__all__ = ["Best", "Client", "Gap", "Item", "Marks", "Tick", "connect", "flagged", "ticks",
           "views", "ws_url"]

log = logging.getLogger(__name__)


class Marks(NamedTuple):
    """How the server marked an item: the stored state sent first (``snapshot``), or a
    replay server's (``replay``)."""

    snapshot: bool = False
    replay: bool = False




def ws_url(url: str, token: str | None) -> str:
    """The URL to connect to (``/ws`` by default, the token as a query parameter);
    ConfigError for what is not a ws:// or wss:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ConfigError("url", f"{url!r} is not a WebSocket URL", "e.g. ws://127.0.0.1:8000/ws")
    path = parts.path or "/ws"
    query = parse_qs(parts.query)
    if token and "token" not in query:
        query["token"] = [token]
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query, doseq=True), ""))


class Client:
    """A server's client: each ``subscribe`` makes (and remakes) a connection of its own;
    ``aclose`` (or leaving ``async with``) closes them all, which ends their iterations."""

    def __init__(self, url: str, *, token: str | None = None, max_backoff: float = 10.0,
                 open_timeout: float = 5.0) -> None:
        self.url = ws_url(url, token)  # ConfigError for what is not a ws:// URL
        self.shown_url = url
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self.connects = 0
        self.closed = False
        self._open: set[ClientConnection] = set()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def _refused(self, exc: InvalidStatus) -> None:
        """A handshake the server refused: a ConfigError where no retry can cure it."""
        status = exc.response.status_code
        if status in (401, 403):
            raise ConfigError("WS_TOKEN", f"the server at {self.shown_url} refused the "
                              f"connection ({status})", "set the server's token (WS_TOKEN, "
                              "or token= in the URL)") from exc
        if 400 <= status < 500 and status not in (408, 429):
            raise ConfigError("url", f"{self.shown_url} answered HTTP {status}: not a "
                              "WebSocket endpoint of arbitrex", "use the server's "
                              "ws://HOST:PORT/ws") from exc
        log.warning("server answered %d; retrying", status)

    async def aclose(self) -> None:
        """Close every connection: each subscription's iteration ends, none reconnects."""
        self.closed = True
        await asyncio.gather(*(ws.close() for ws in list(self._open)))

    async def subscribe(self, symbols: Sequence[str], *,
                        since: Mapping[str, int] | None = None, view: str = "ticks",
                        batch: bool = False) -> AsyncGenerator[Item, None]:
        """Ticks (or views) of ``symbols`` until the caller stops iterating. ``since``:
        the last seq already held, per ``SYMBOL`` or ``VENUE:SYMBOL``."""
        async for item, _ in self.flagged(symbols, since=since, view=view, batch=batch):
            yield item

    async def flagged(self, symbols: Sequence[str], *,
                      since: Mapping[str, int] | None = None, view: str = "ticks",
                      batch: bool = False) -> AsyncGenerator[tuple[Item, Marks], None]:
        """``subscribe``'s items with how the server marked each (``Marks``: a snapshot, the
        stored state sent first; a replay)."""
        if self.closed:
            raise ArbitrexError(f"the client of {self.shown_url} is closed")
        last: dict[str, int] = {}  # "venue:symbol" -> the last seq yielded (or declared lost)
        backoff = Backoff(initial=min(0.25, self.max_backoff), cap=self.max_backoff)
        while not self.closed:
            try:
                async with ws_connect(self.url, open_timeout=self.open_timeout,
                                      max_size=2**22) as ws:
                    self._open.add(ws)
                    try:
                        self.connects += 1
                        backoff.reset()
                        await ws.send(_subscribe(symbols, since, last, view, batch))
                        async for raw in ws:
                            for item in _items(raw, last):
                                yield item
                    finally:
                        self._open.discard(ws)
                if self.closed:
                    return
            except InvalidStatus as exc:
                self._refused(exc)
            except InvalidURI as exc:
                raise ConfigError("url", f"{self.shown_url!r} is not a WebSocket URL",
                                  "e.g. ws://127.0.0.1:8000/ws") from exc
            except (OSError, ConnectionClosed, TimeoutError, asyncio.TimeoutError) as exc:
                # (before 3.11 asyncio's timeout is not the built-in TimeoutError)
                if self.closed:
                    return
                if self.connects:
                    log.warning("connection to %s lost (%s); reconnecting", self.shown_url,
                                exc or type(exc).__name__)
                else:
                    log.warning("cannot connect to %s (%s); is the server running? trying "
                                "again", self.shown_url, exc or type(exc).__name__)
            await asyncio.sleep(backoff.next())


def connect(url: str, *, token: str | None = None, max_backoff: float = 10.0) -> Client:
    """A client of the server at ``url`` (``async with connect(...) as client``)."""
    return Client(url, token=token, max_backoff=max_backoff)


def _subscribe(symbols: Sequence[str], since: Mapping[str, int] | None, last: dict[str, int],
               view: str, batch: bool) -> str:
    message: dict[str, Any] = {"op": "subscribe", "symbols": list(symbols)}
    resume = {**(since or {}), **last}  # a stream's own seq wins over its symbol's
    if resume and view == "ticks":
        message["since"] = resume
    if view != "ticks":
        message["view"] = view
    if batch:
        message["batch"] = True
    return orjson.dumps(message).decode()


def _items(raw: str | bytes, last: dict[str, int]) -> Iterator[tuple[Item, Marks]]:
    """The items of one server frame (with their snapshot flag), each seq once; ``last``
    kept."""
    message = orjson.loads(raw)
    kind = message.get("type") if isinstance(message, dict) else None
    if kind in ("tick", "ticks"):
        for record in (message["data"] if kind == "ticks" else [message]):
            try:
                tick = from_record(record)
            except TickError as exc:
                raise ArbitrexError(f"the server sent an invalid tick: {exc}") from exc
            key = f"{tick.venue}:{tick.symbol}"
            held = last.get(key)
            if held is not None and tick.seq <= held:
                continue
            if held is not None and tick.seq > held + 1:
                yield Gap(tick.venue, tick.symbol, held + 1, tick.seq - 1, "unannounced"), \
                    Marks()
            last[key] = tick.seq
            yield tick, Marks(bool(record.get("snapshot")), bool(record.get("replay")))
    elif kind == "gap":
        gap = Gap.from_record(message)
        key = f"{gap.venue}:{gap.symbol}"
        last[key] = max(last.get(key, 0), gap.to_seq)
        yield gap, Marks()
    elif kind == "best":
        try:
            yield Best.from_record(message), Marks(bool(message.get("snapshot")),
                                                   bool(message.get("replay")))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ArbitrexError(f"the server sent an invalid best frame: {exc!r}") from exc
    elif kind == "error":
        log.warning("server error %s: %s", message.get("code"), message.get("message"))


_DONE = object()


@overload
def ticks(url: str, symbols: Sequence[str], *, since: Mapping[str, int] | None = None,
          gaps: Literal[False] = False, batch: bool = False, token: str | None = None,
          max_backoff: float = 10.0) -> Iterator[Tick]: ...


@overload
def ticks(url: str, symbols: Sequence[str], *, since: Mapping[str, int] | None = None,
          gaps: Literal[True], batch: bool = False, token: str | None = None,
          max_backoff: float = 10.0) -> Iterator[Tick | Gap]: ...


def ticks(url: str, symbols: Sequence[str], *, since: Mapping[str, int] | None = None,
          gaps: bool = False, batch: bool = False, token: str | None = None,
          max_backoff: float = 10.0) -> Iterator[Tick] | Iterator[Tick | Gap]:
    """The ticks of ``symbols`` as a plain iterator, for scripts and notebooks (the client
    runs on an event loop in a thread of its own); with ``gaps``, a ``Gap`` for every hole
    too. Closing the iterator closes the connection."""
    for got in flagged(url, symbols, since=since, batch=batch, token=token,
                       max_backoff=max_backoff):
        if got is not None and (isinstance(got[0], Tick) or gaps and isinstance(got[0], Gap)):
            yield got[0]


def views(url: str, symbols: Sequence[str], *, token: str | None = None,
          max_backoff: float = 10.0) -> Iterator[Best]:
    """The cross-venue views (``Best``) of ``symbols`` as a plain iterator."""
    for got in flagged(url, symbols, view="best", token=token, max_backoff=max_backoff):
        if got is not None and isinstance(got[0], Best):
            yield got[0]


def flagged(url: str, symbols: Sequence[str], *, since: Mapping[str, int] | None = None,
            view: str = "ticks", batch: bool = False, token: str | None = None,
            max_backoff: float = 10.0, idle: float | None = None
            ) -> Generator[tuple[Item, Marks] | None, None, None]:
    """(item, marks) pairs as ``ticks`` gives items; with ``idle``, None whenever
    nothing came for that many seconds (a chance to redraw)."""
    client = Client(url, token=token, max_backoff=max_backoff)
    items: queue.Queue[object] = queue.Queue(maxsize=10_000)
    loop = asyncio.new_event_loop()

    async def pump() -> None:
        try:
            async for pair in client.flagged(symbols, since=since, view=view, batch=batch):
                while True:  # a bounded queue: wait for the reader, without blocking the loop
                    try:
                        items.put_nowait(pair)
                        break
                    except queue.Full:
                        await asyncio.sleep(0.005)
        except asyncio.CancelledError:
            items.put(_DONE)
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            items.put(exc)

    task = loop.create_task(pump())
    thread = threading.Thread(target=_run, args=(loop, task), daemon=True)
    thread.start()
    try:
        while True:
            try:
                got = items.get(timeout=idle)
            except queue.Empty:
                yield None
                continue
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            yield cast(tuple[Item, Marks], got)
    finally:
        try:
            loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:  # the loop already ended (the client failed) and closed
            pass
        thread.join(5)


def _run(loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
    try:
        loop.run_until_complete(task)
    except BaseException:  # noqa: BLE001, S110 - cancelled on close; errors went to the queue
        pass
    finally:
        loop.close()
