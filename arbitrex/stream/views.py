"""The cross-venue view as the hub serves it: which state each client's ``best`` frame is
cut from, and each distinct state encoded once.

A client holding only the view of a symbol is sent the server's state: the latest stored
tick of each venue (``book``, seeded from the store the first time the symbol is asked
for, then kept by every dispatch). A client holding both views is sent its own state: the
ticks sent to it (``Session.book``). Both are a venue -> tick mapping; the books of
clients in step hold the very same tick objects (those of the dispatch), so a frame is
built once per state, keyed by the identity of its ticks, and reused for every client that
holds it. A cached frame keeps its ticks alive, so that their identities are not reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import orjson

from arbitrex.constants import STALE_AFTER_MS
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.tick import Tick
from arbitrex.stores.base import StreamReader
from arbitrex.stream.best import Book, consolidate, view_record
from arbitrex.stream.session import Key, Session
from arbitrex.stream.wire import kept, text_frame

__all__ = ["BestViews"]

# Limits
CACHE_LIMIT = 512  # frames kept; a state's frame never changes, so any may be dropped


class BestViews:
    def __init__(self, store: StreamReader, *, stale_after_ms: int = STALE_AFTER_MS,
                 costs: Costs = NO_COSTS) -> None:
        self.store = store
        self.stale_after_ms = stale_after_ms
        self.costs = costs
        self.book = Book(stale_after_ms=stale_after_ms, costs=costs)
        self._seeded: set[str] = set()
        # (symbol, snapshot, ids of the ticks) -> (frame, framed, the ticks, kept alive)
        self._frames: dict[tuple[object, ...], tuple[bytes, bytes, tuple[Tick, ...]]] = {}

    def take(self, ticks: Sequence[Tick]) -> set[str]:
        """Freshly stored ticks; the symbols whose state changed."""
        return self.book.update(ticks)

    def seeded(self, symbol: str) -> bool:
        """Whether the server's state of ``symbol`` was read from the store already."""
        return symbol in self._seeded

    def seed(self, symbol: str, streams: Iterable[Key]) -> None:
        """Read the latest stored tick of each of ``symbol``'s streams, once (raises
        StoreError when the store cannot be read); the state may then be ahead of what was
        dispatched (``seeded`` tells beforehand whether this will read)."""
        if symbol in self._seeded:
            return
        self.book.update(t for t in (self.store.last(*key) for key in streams
                                     if key[1] == symbol) if t is not None)
        self._seeded.add(symbol)

    def seed_session(self, session: Session, symbol: str, streams: Iterable[Key]) -> None:
        """A session that takes the view of a symbol whose ticks it already holds: its
        state is the ticks it was sent, read back from the store by their seqs."""
        for key in streams:
            seq = session.sent.get(key)
            if key[1] != symbol or seq is None:
                continue
            found = self.store.read_after(key[0], symbol, seq - 1, 1) if seq > 0 else []
            if found and found[0].seq == seq:
                session.unshare()
                session.book.update(found)

    def latest(self, session: Session, symbol: str) -> Mapping[str, Tick]:
        """The state a session's view of ``symbol`` is cut from."""
        book = session.state if session.both(symbol) else self.book
        return book.latest.get(symbol, {})

    def frame(self, latest: Mapping[str, Tick], symbol: str, *, snapshot: bool = False
              ) -> tuple[bytes, bytes] | None:
        """The ``best`` frame of a state, and it framed for the wire (``text_frame``); None
        when no venue has quoted the symbol."""
        if not latest:
            return None
        state = (symbol, snapshot, *map(id, latest.values()))
        cached = self._frames.get(state)
        if cached is None:
            if len(self._frames) >= CACHE_LIMIT:
                self._frames.clear()
            record = view_record(symbol, latest, stale_after_ms=self.stale_after_ms,
                                 costs=self.costs)
            if snapshot:
                record["snapshot"] = True
            frame = kept(orjson.dumps(record))
            cached = self._frames[state] = (frame, text_frame(frame), tuple(latest.values()))
        return cached[0], cached[1]

    def top_edges(self) -> dict[str, float | None]:
        """Each symbol's top edge now, from the server's state (for /metrics)."""
        return {symbol: consolidate(symbol, latest, stale_after_ms=self.stale_after_ms,
                                    costs=self.costs).top_edge
                for symbol, latest in sorted(self.book.latest.items()) if len(latest) > 1}
