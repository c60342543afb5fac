"""The cross-venue view of one symbol as a value (a ``best`` frame), and its codec: what
``serve`` sends and ``arbitrex.client`` receives (docs/PROTOCOL.md: The cross-venue view).
``stream.best`` computes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

__all__ = ["EDGE_DECIMALS", "Best", "Edge", "Quote"]

#: Edges are differences of prices: rounded to this many decimals, so that 0.00002 stays
#: 0.00002 (the view and the episodes round them alike).
EDGE_DECIMALS = 10


class Quote(NamedTuple):
    """One venue's latest tick, as the view shows it."""

    bid: float
    ask: float
    time_msc: int
    seq: int
    lag_ms: float
    stale: bool


class Edge(NamedTuple):
    """Selling at ``sell`` (its bid) and buying at ``buy`` (its ask) at once earns ``edge``
    (price units; above zero: an opportunity before costs), and ``net`` after both venues'
    costs of the symbol (without costs, ``net`` = ``edge``)."""

    sell: str
    buy: str
    edge: float
    net: float


class Best(NamedTuple):
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
        """The best pair's net edge (edges are sorted by net)."""
        return self.edges[0].net if self.edges else None

    def record(self, **extra: Any) -> dict[str, Any]:
        """The ``best`` frame as a dict (with extra keys, e.g. snapshot)."""
        out: dict[str, Any] = {
            "type": "best", "symbol": self.symbol, "time_msc": self.time_msc,
            "bid": self.bid, "bid_venue": self.bid_venue, "ask": self.ask,
            "ask_venue": self.ask_venue,
            "venues": {name: {"bid": bid, "ask": ask, "time_msc": time_msc, "seq": seq,
                              "lag_ms": lag, "stale": stale}
                       for name, (bid, ask, time_msc, seq, lag, stale)
                       in sorted(self.venues.items())},
            "edges": [{"sell": sell, "buy": buy, "edge": edge, "net": net}
                      for sell, buy, edge, net in self.edges]}
        out.update(extra)
        return out

    def encode(self, **extra: Any) -> bytes:
        """The ``best`` frame as compact JSON bytes."""
        return orjson.dumps(self.record(**extra))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Best:
        """A ``best`` frame as received (KeyError or TypeError when it is not one)."""
        return cls(record["symbol"], record["time_msc"], record["bid"], record["bid_venue"],
                   record["ask"], record["ask_venue"],
                   {name: Quote(q["bid"], q["ask"], q["time_msc"], q["seq"], q["lag_ms"],
                                q["stale"]) for name, q in record["venues"].items()},
                   tuple(Edge(e["sell"], e["buy"], e["edge"], e.get("net", e["edge"]))
                         for e in record["edges"]))
