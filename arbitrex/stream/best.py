"""The cross-venue view of one symbol, without I/O (SPEC: Cross-venue view).

From the latest tick of each venue (by seq): the newest event time; which venues are
stale (their tick more than ``stale_after_ms`` older than that); the best bid and ask among
the others, with the venue quoting each (a tie goes to the venue name first in
alphabetical order); every ordered pair's edge (the ``sell`` venue's bid minus the ``buy``
venue's ask: above zero, buying at one and selling at the other at once earns it), sorted
by edge, then sell, then buy; and each venue's lag (when its tick was received minus when
it happened). ``Book`` keeps the latest tick per venue; ``consolidate`` computes the view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from arbitrex.tick import Tick

#: A venue is stale when its tick is more than this older than the newest (STALE_AFTER_MS).
STALE_AFTER_MS = 10_000
_DECIMALS = 10  # edges are differences of prices: rounded, so that 0.00002 stays 0.00002


@dataclass(frozen=True)
class Quote:
    """One venue's latest tick, as the view shows it."""

    bid: float
    ask: float
    time_msc: int
    seq: int
    lag_ms: float
    stale: bool


@dataclass(frozen=True)
class Edge:
    sell: str
    buy: str
    edge: float


@dataclass(frozen=True)
class Best:
    """The view of one symbol across venues (a ``best`` frame)."""

    symbol: str
    time_msc: int
    bid: float | None
    bid_venue: str | None
    ask: float | None
    ask_venue: str | None
    venues: Mapping[str, Quote]
    edges: tuple[Edge, ...]

    @property
    def top_edge(self) -> float | None:
        return self.edges[0].edge if self.edges else None

    def record(self, **extra: Any) -> dict[str, Any]:
        """The SPEC ``best`` frame as a dict (with extra keys, e.g. snapshot)."""
        out: dict[str, Any] = {
            "type": "best", "symbol": self.symbol, "time_msc": self.time_msc,
            "bid": self.bid, "bid_venue": self.bid_venue, "ask": self.ask,
            "ask_venue": self.ask_venue,
            "venues": {name: {"bid": q.bid, "ask": q.ask, "time_msc": q.time_msc, "seq": q.seq,
                              "lag_ms": q.lag_ms, "stale": q.stale}
                       for name, q in sorted(self.venues.items())},
            "edges": [{"sell": e.sell, "buy": e.buy, "edge": e.edge} for e in self.edges]}
        out.update(extra)
        return out

    def encode(self, **extra: Any) -> bytes:
        return orjson.dumps(self.record(**extra))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Best:
        """A ``best`` frame as received (KeyError or TypeError when it is not one)."""
        return cls(record["symbol"], record["time_msc"], record["bid"], record["bid_venue"],
                   record["ask"], record["ask_venue"],
                   {name: Quote(q["bid"], q["ask"], q["time_msc"], q["seq"], q["lag_ms"],
                                q["stale"]) for name, q in record["venues"].items()},
                   tuple(Edge(e["sell"], e["buy"], e["edge"]) for e in record["edges"]))


def lag_ms(tick: Tick) -> float:
    """How late the collector received the tick (a broker clock's error included)."""
    return round(tick.recv_ns / 1e6 - tick.time_msc, 3)


def consolidate(symbol: str, latest: Mapping[str, Tick], *,
                stale_after_ms: int = STALE_AFTER_MS) -> Best:
    """The view of ``symbol`` from the latest tick of each venue (venue -> tick)."""
    newest = max((t.time_msc for t in latest.values()), default=0)
    quotes = {venue: Quote(t.bid, t.ask, t.time_msc, t.seq, lag_ms(t),
                           newest - t.time_msc > stale_after_ms)
              for venue, t in latest.items()}
    live = sorted(venue for venue, q in quotes.items() if not q.stale)
    bid_venue = min(live, key=lambda v: (-quotes[v].bid, v), default=None)
    ask_venue = min(live, key=lambda v: (quotes[v].ask, v), default=None)
    edges = sorted((Edge(sell, buy, round(quotes[sell].bid - quotes[buy].ask, _DECIMALS))
                    for sell in live for buy in live if sell != buy),
                   key=lambda e: (-e.edge, e.sell, e.buy))
    return Best(symbol, newest,
                quotes[bid_venue].bid if bid_venue else None, bid_venue,
                quotes[ask_venue].ask if ask_venue else None, ask_venue,
                quotes, tuple(edges))


class Book:
    """The latest tick of each venue, per symbol: what the views are cut from."""

    def __init__(self, *, stale_after_ms: int = STALE_AFTER_MS) -> None:
        self.stale_after_ms = stale_after_ms
        self.latest: dict[str, dict[str, Tick]] = {}  # symbol -> venue -> tick

    def update(self, ticks: Iterable[Tick]) -> set[str]:
        """Take ticks (any order); the symbols whose view changed."""
        changed = set()
        for tick in ticks:
            venues = self.latest.setdefault(tick.symbol, {})
            held = venues.get(tick.venue)
            if held is None or tick.seq > held.seq:
                venues[tick.venue] = tick
                changed.add(tick.symbol)
        return changed

    def view(self, symbol: str) -> Best | None:
        venues = self.latest.get(symbol)
        if not venues:
            return None
        return consolidate(symbol, venues, stale_after_ms=self.stale_after_ms)
