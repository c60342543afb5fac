"""Following ticks as a reader: from the store directly, or from a server over WebSocket.

Both yield ``TailEvent``s: the last stored tick of each stream first (``snapshot``), then
live ticks in seq order per stream, and ``gap`` events when the server reports one. The
WebSocket follower reconnects by itself (capped, jittered backoff) and resumes with
``since``, so a restart of ``serve`` costs no tick.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import orjson
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from arbitrex.errors import ArbitrexError, ConfigError, TickError
from arbitrex.runtime.backoff import Backoff
from arbitrex.runtime.stop import StopFlag
from arbitrex.stores.base import Follower, StreamReader
from arbitrex.stream.best import STALE_AFTER_MS, Best, Book
from arbitrex.tick import Tick, from_record

C = TypeVar("C")

log = logging.getLogger(__name__)


class TailEvent(NamedTuple):
    kind: str  # "tick", "gap", "best", or "idle" (nothing new for a while: a chance to redraw)
    tick: Tick | None = None
    snapshot: bool = False
    gap: dict[str, Any] | None = None
    best: Best | None = None


def from_store(store: StreamReader, follower: Follower[C], symbols: Sequence[str], *,
               stop: StopFlag, poll_timeout: float = 0.2) -> Iterator[TailEvent]:
    wanted = set(symbols)
    cursor = follower.head()  # taken first: nothing stored after the snapshot is missed
    last: dict[tuple[str, str], int] = {}
    for venue, symbol in store.streams():
        if symbol in wanted:
            tick = store.last(venue, symbol)
            if tick is not None:
                last[tick.key] = tick.seq
                yield TailEvent("tick", tick, snapshot=True)
    while not stop.is_set():
        ticks, cursor = follower.follow(cursor, timeout=poll_timeout, limit=5000)
        if not ticks:
            yield TailEvent("idle")
        for tick in ticks:
            if tick.symbol in wanted and tick.seq > last.get(tick.key, 0):
                last[tick.key] = tick.seq
                yield TailEvent("tick", tick)


class BestEvent(NamedTuple):
    """A view of one symbol across venues (None: nothing new for a while)."""

    view: Best | None
    snapshot: bool = False


def best_views(events: Iterable[TailEvent], *, stale_after_ms: int = STALE_AFTER_MS
               ) -> Iterator[BestEvent]:
    """The cross-venue view after each tick of ``events`` (``from_store``'s): first, once
    every snapshot tick is in, the view of each symbol (``snapshot``), then a view for
    every tick; idle events pass through as None."""
    book = Book(stale_after_ms=stale_after_ms)
    waiting: set[str] = set()  # symbols whose snapshot view is not shown yet
    for event in events:
        tick = event.tick
        if tick is not None and event.snapshot:
            book.update([tick])
            waiting.add(tick.symbol)
            continue
        for symbol in sorted(waiting):
            view = book.view(symbol)
            if view is not None:
                yield BestEvent(view, snapshot=True)
        waiting.clear()
        if tick is not None:
            if book.update([tick]):
                yield BestEvent(book.view(tick.symbol))
        elif event.kind == "idle":
            yield BestEvent(None)


def server_views(events: Iterable[TailEvent]) -> Iterator[BestEvent]:
    """The views a server sent (``from_server`` with ``view="best"``); idle events pass
    through as None."""
    for event in events:
        if event.best is not None:
            yield BestEvent(event.best, snapshot=event.snapshot)
        elif event.kind == "idle":
            yield BestEvent(None)


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


def from_server(url: str, symbols: Sequence[str], *, stop: StopFlag,
                token: str | None = None, view: str = "ticks",
                # Retries
                max_backoff: float = 10.0) -> Iterator[TailEvent]:
    """Ticks (or with ``view="best"``, the cross-venue views) of ``symbols`` from a server,
    across reconnections: ticks resume after the last seq seen, never twice."""
    target = ws_url(url, token)
    last: dict[str, int] = {}  # "venue:symbol" -> last seq
    backoff = Backoff(initial=min(0.25, max_backoff), cap=max_backoff)
    while not stop.is_set():
        try:
            with connect(target, open_timeout=5, max_size=2**22) as ws:
                backoff.reset()
                yield from _follow(ws, symbols, view, last, stop)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise ConfigError("WS_TOKEN", f"the server at {url} refused the connection "
                                  f"({status})", "set the server's token (WS_TOKEN, or "
                                  "token= in the URL)") from exc
            log.warning("server answered %d; retrying", status)
        except InvalidURI as exc:
            raise ConfigError("url", f"{url!r} is not a WebSocket URL",
                              "e.g. ws://127.0.0.1:8000/ws") from exc
        except (OSError, ConnectionClosed, TimeoutError) as exc:
            log.warning("connection to %s lost (%s); reconnecting", url, exc)
        stop.wait(backoff.next())


def _follow(ws: ClientConnection, symbols: Sequence[str], view: str, last: dict[str, int],
            stop: StopFlag) -> Iterator[TailEvent]:
    """One connection: subscribe (resuming after ``last``), then its events until stopped;
    ``last`` is kept as ticks come."""
    message: dict[str, Any] = {"op": "subscribe", "symbols": list(symbols)}
    if view != "ticks":
        message["view"] = view
    if last:
        message["since"] = dict(last)
    ws.send(orjson.dumps(message).decode())
    while not stop.is_set():
        try:
            raw = ws.recv(timeout=0.25)
        except TimeoutError:
            yield TailEvent("idle")
            continue
        for event in _events(orjson.loads(raw)):
            if event.tick is not None:
                key = f"{event.tick.venue}:{event.tick.symbol}"
                if event.tick.seq <= last.get(key, 0):
                    continue
                last[key] = event.tick.seq
            yield event


def _events(message: Any) -> Iterator[TailEvent]:
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "tick":
        yield _tick_event(message)
    elif kind == "ticks":
        for record in message.get("data", []):
            yield _tick_event(record)
    elif kind == "gap":
        yield TailEvent("gap", gap=message)
    elif kind == "best":
        try:
            yield TailEvent("best", best=Best.from_record(message),
                            snapshot=bool(message.get("snapshot")))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ArbitrexError(f"the server sent an invalid best frame: {exc!r}") from exc
    elif kind == "error":
        log.warning("server error %s: %s", message.get("code"), message.get("message"))


def _tick_event(record: dict[str, Any]) -> TailEvent:
    try:
        return TailEvent("tick", from_record(record), snapshot=bool(record.get("snapshot")))
    except TickError as exc:
        raise ArbitrexError(f"the server sent an invalid tick: {exc}") from exc
