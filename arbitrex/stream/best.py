"""The cross-venue view of one symbol, computed without I/O (docs/PROTOCOL.md: The
cross-venue view); its value types, ``Best``, ``Quote`` and ``Edge``, are in ``model.best``.

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

from arbitrex.constants import STALE_AFTER_MS
from arbitrex.model.best import EDGE_DECIMALS, Best, Edge, Quote
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.tick import Tick

__all__ = ["Book", "consolidate", "lag_ms"]



def lag_ms(tick: Tick) -> float:
    """How late the collector received the tick (a broker clock's error included)."""
    return round(tick.recv_ns / 1e6 - tick.time_msc, 3) + 0.0  # + 0.0: never -0.0


def consolidate(symbol: str, latest: Mapping[str, Tick], *,
                stale_after_ms: int = STALE_AFTER_MS, costs: Costs = NO_COSTS) -> Best:
    """The view of ``symbol`` from the latest tick of each venue (venue -> tick); each
    edge's net is after ``costs``."""
    # It runs for every change of every symbol served: tuples are made with tuple.__new__
    # (a NamedTuple's own __new__ costs three times as much).
    new = tuple.__new__
    newest = max([t.time_msc for t in latest.values()], default=0)
    cutoff = newest - stale_after_ms  # older than this: stale
    quotes = {}
    live = []
    for venue, t in latest.items():
        stale = t.time_msc < cutoff
        quotes[venue] = new(Quote, (t.bid, t.ask, t.time_msc, t.seq, lag_ms(t), stale))
        if not stale:
            live.append(venue)
    live.sort()
    bid_venue = ask_venue = None
    for venue in live:  # in name order: strict comparisons leave a tie to the first name
        q = quotes[venue]
        if bid_venue is None or q.bid > quotes[bid_venue].bid:
            bid_venue = venue
        if ask_venue is None or q.ask < quotes[ask_venue].ask:
            ask_venue = venue
    # by net (descending), then sell, then buy: sorted as (-net, sell, buy)
    if costs:
        cost = {venue: costs.of(venue, symbol) for venue in live}
        order = sorted([(-round(edge - cost[sell] - cost[buy], EDGE_DECIMALS), sell, buy, edge)
                        for sell in live for buy in live if sell != buy
                        for edge in (round(quotes[sell].bid - quotes[buy].ask, EDGE_DECIMALS),)])
        edges = tuple([new(Edge, (sell, buy, edge + 0.0, -neg + 0.0))
                       for neg, sell, buy, edge in order])
    else:
        plain = sorted([(-round(quotes[sell].bid - quotes[buy].ask, EDGE_DECIMALS), sell, buy)
                        for sell in live for buy in live if sell != buy])
        edges = tuple([new(Edge, (sell, buy, -neg + 0.0, -neg + 0.0))
                       for neg, sell, buy in plain])
    return new(Best, (symbol, newest,
                      quotes[bid_venue].bid if bid_venue else None, bid_venue,
                      quotes[ask_venue].ask if ask_venue else None, ask_venue, quotes, edges))


class Book:
    """The latest tick of each venue, per symbol: what the views are cut from."""

    def __init__(self, *, stale_after_ms: int = STALE_AFTER_MS, costs: Costs = NO_COSTS
                 ) -> None:
        self.stale_after_ms = stale_after_ms
        self.costs = costs
        self.latest: dict[str, dict[str, Tick]] = {}  # symbol -> venue -> tick

    def put(self, tick: Tick) -> None:
        """Take a tick known to be newer than the one held of its venue."""
        venues = self.latest.get(tick.symbol)
        if venues is None:
            venues = self.latest[tick.symbol] = {}
        venues[tick.venue] = tick

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
        return consolidate(symbol, venues, stale_after_ms=self.stale_after_ms,
                           costs=self.costs)
