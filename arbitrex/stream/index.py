"""Who is connected and who wants what: each ``Connection`` (its wire, its session, the ticks
waiting for its batch frame) and the ``Index`` from symbol to subscribed clients."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from arbitrex.stream import protocol as proto
from arbitrex.stream.session import Session
from arbitrex.stream.wire import Wire

__all__ = ["Connection", "Index"]

log = logging.getLogger(__name__)


class Connection:
    """One connection: what it is sent (``wire``) and what it has been sent (``session``)."""

    __slots__ = ("wire", "session", "closing", "batch")

    def __init__(self, wire: Wire, session: Session) -> None:
        self.wire = wire
        self.session = session
        self.closing = False  # being closed (slow, or going away): send it nothing more
        self.batch: list[bytes] = []  # tick records waiting for this dispatch's "ticks" frame

    def buffered(self) -> int:
        return self.wire.buffered()

    def send(self, frame: bytes) -> bool:
        """Write one message now; False when closing or closed."""
        return not self.closing and self.wire.send(frame)

    def queue(self, frame: bytes, wire: bytes | None = None) -> bool:
        """Queue one message (``wire``: it framed) until ``flush``."""
        return not self.closing and self.wire.queue((frame,), wire)

    def flush(self) -> None:
        """Write what was queued, in one call."""
        try:
            self.wire.flush()
        except Exception as exc:  # the peer went away: its handler cleans up
            log.debug("flush failed: %s", exc)

    def flush_batch(self) -> None:
        """Send the tick records gathered for a batching client as one ``ticks`` frame."""
        if self.batch:
            self.send(proto.ticks_frame(self.batch))
            self.batch.clear()


class Index:
    """Every client, and for each view and symbol the clients subscribed to it."""

    def __init__(self) -> None:
        self.clients: set[Connection] = set()
        self.views: dict[str, dict[str, set[Connection]]] = {view: {} for view in proto.VIEWS}

    def add(self, client: Connection) -> None:
        self.clients.add(client)

    def remove(self, client: Connection) -> None:
        self.clients.discard(client)
        self.unsubscribe(client, client.session.symbols)
        self.unsubscribe(client, client.session.best, "best")
        self.unsubscribe(client, client.session.episodes, "episodes")

    def subscribe(self, client: Connection, symbols: Iterable[str], view: str = "ticks") -> None:
        by_symbol = self.views[view]
        for symbol in symbols:
            by_symbol.setdefault(symbol, set()).add(client)

    def unsubscribe(self, client: Connection, symbols: Iterable[str], view: str = "ticks") -> None:
        by_symbol = self.views[view]
        for symbol in list(symbols):
            subscribers = by_symbol.get(symbol)
            if subscribers is not None:
                subscribers.discard(client)
                if not subscribers:
                    del by_symbol[symbol]

    def interested(self, symbols: Iterable[str], view: str = "ticks") -> set[Connection]:
        """The clients subscribed to any of ``symbols`` in ``view``."""
        by_symbol = self.views[view]
        out: set[Connection] = set()
        for symbol in symbols:
            out.update(by_symbol.get(symbol, ()))
        return out

    def subscriptions(self) -> int:
        return sum(len(c) for by_symbol in self.views.values() for c in by_symbol.values())
