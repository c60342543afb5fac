"""What `arbitrex tail` follows: the store directly, or a server over WebSocket.

Both yield ``TailEvent``s: the last stored tick of each stream first (``snapshot``), then
live ticks in seq order per stream, and ``gap`` events when the server reports one. The
WebSocket follower reconnects by itself (capped, jittered backoff) and resumes with
``since``, so a restart of ``serve`` costs no tick.
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

from arbitrex import client
from arbitrex.constants import STALE_AFTER_MS
from arbitrex.model import Best, Gap
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.tick import Tick
from arbitrex.runtime.stop import StopFlag
from arbitrex.stores import doorbell
from arbitrex.stores.base import Follower, Rings, StreamReader
from arbitrex.stream.best import Book

__all__ = [
    "BestEvent", "TailEvent", "best_views", "from_server", "from_store", "reads",
    "server_views",
]

C = TypeVar("C")

log = logging.getLogger(__name__)


class TailEvent(NamedTuple):
    kind: str  # "tick", "gap", "best", or "idle" (nothing new for a while: a chance to redraw)
    tick: Tick | None = None
    snapshot: bool = False
    gap: dict[str, Any] | None = None
    best: Best | None = None
    replay: bool = False  # sent by a replay server (its frames say "replay": true)


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
    for ticks in reads(follower, cursor, stop=stop, wait=poll_timeout):
        if not ticks:
            yield TailEvent("idle")
        for tick in ticks:
            if tick.symbol in wanted and tick.seq > last.get(tick.key, 0):
                last[tick.key] = tick.seq
                yield TailEvent("tick", tick)


def reads(follower: Follower[C], cursor: C, *, stop: StopFlag, wait: float,
          limit: int = 5000) -> Iterator[list[Tick]]:
    """Each read of what the store holds after ``cursor`` (empty after ``wait`` seconds of
    quiet), until ``stop``. Where the store has a doorbell (SQLite) the thread sleeps on it
    until the writer rings, as ``serve`` does (``stream.follow``), instead of polling the file;
    ``doorbell.Trust`` falls back to polling a writer that does not ring."""
    bell = follower.listen() if isinstance(follower, Rings) else None
    if bell is None:
        while not stop.is_set():
            ticks, cursor = follower.follow(cursor, timeout=wait, limit=limit)
            yield ticks
        return
    trust = doorbell.Trust(poll_interval=getattr(follower, "poll_interval", 0.001),
                           since=time.monotonic())
    try:
        while not stop.is_set():
            ticks, cursor = follower.follow(cursor, timeout=0, limit=limit)
            if ticks:
                yield ticks
                continue
            # select() takes sockets on every OS (Windows' included): the bell is one
            readable, _, _ = select.select([bell.sock], [], [], min(trust.timeout, wait))
            now = time.monotonic()
            if readable and bell.take_all():
                trust.rang(now)
                continue
            ticks, cursor = follower.follow(cursor, timeout=0, limit=limit)
            trust.timed_out(bool(ticks), now)
            bell.heartbeat()
            yield ticks
    finally:
        bell.close()


class BestEvent(NamedTuple):
    """A view of one symbol across venues (None: nothing new for a while)."""

    view: Best | None
    snapshot: bool = False
    replay: bool = False


def best_views(events: Iterable[TailEvent], *, stale_after_ms: int = STALE_AFTER_MS,
               costs: Costs = NO_COSTS) -> Iterator[BestEvent]:
    """The cross-venue view after each tick of ``events`` (``from_store``'s): first, once
    every snapshot tick is in, the view of each symbol (``snapshot``), then a view for
    every tick; idle events pass through as None."""
    book = Book(stale_after_ms=stale_after_ms, costs=costs)
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
            yield BestEvent(event.best, snapshot=event.snapshot, replay=event.replay)
        elif event.kind == "idle":
            yield BestEvent(None)


def from_server(url: str, symbols: Sequence[str], *, stop: StopFlag,
                token: str | None = None, view: str = "ticks",
                # Retries
                max_backoff: float = 10.0) -> Iterator[TailEvent]:
    """Ticks (or with ``view="best"``, the cross-venue views) of ``symbols`` from a server,
    through ``arbitrex.client`` (reconnecting, resuming after the last seq seen, never
    twice), with an idle event whenever nothing came for a quarter second."""
    items = client.flagged(url, symbols, token=token, view=view, max_backoff=max_backoff,
                           idle=0.25)
    try:
        for got in items:
            if stop.is_set():
                return
            if got is None:
                yield TailEvent("idle")
                continue
            item, marks = got
            if isinstance(item, Tick):
                yield TailEvent("tick", item, snapshot=marks.snapshot, replay=marks.replay)
            elif isinstance(item, Gap):
                yield TailEvent("gap", gap=item.record())
            else:
                yield TailEvent("best", best=item, snapshot=marks.snapshot, replay=marks.replay)
    finally:
        items.close()
