"""The cross-venue view of one symbol, computed without I/O (docs/PROTOCOL.md: The
cross-venue view); its value types, ``Best``, ``Quote`` and ``Edge``, are in ``model.best``.

From the latest tick of each venue (by seq): the newest event time; which venues are
stale (their tick more than ``stale_after_ms`` older than that); the best bid and ask among
the others, with the venue quoting each (a tie goes to the venue name first in
alphabetical order); every ordered pair's edge (the ``sell`` venue's bid minus the ``buy``
venue's ask: above zero, buying at one and selling at the other at once earns it), sorted
by edge, then sell, then buy; and each venue's lag (when its tick was received minus when
it happened). ``Book`` keeps the latest tick per venue; ``view_record`` computes the view as
its frame's record, ``consolidate`` as a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from arbitrex.constants import STALE_AFTER_MS
from arbitrex.model.best import EDGE_DECIMALS, Best
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.tick import Tick

__all__ = ["Book", "consolidate", "lag_ms", "view_record"]


def lag_ms(tick: Tick) -> float:
    """How late the collector received the tick (a broker clock's error included)."""
    return round(tick.recv_ns / 1e6 - tick.time_msc, 3) + 0.0  # + 0.0: never -0.0


def view_record(symbol: str, latest: Mapping[str, Tick], *,
                stale_after_ms: int = STALE_AFTER_MS, costs: Costs = NO_COSTS
                ) -> dict[str, Any]:
    """The view of ``symbol`` from the latest tick of each venue (venue -> tick), as the
    ``best`` frame's record (``Best.record``: what ``serve`` encodes); each edge's net is
    after ``costs``. It runs for every change of every symbol served: built as plain
    dicts and tuples, in one pass per venue."""
    newest = max([t.time_msc for t in latest.values()], default=0)
    cutoff = newest - stale_after_ms  # older than this: stale
    venues = {}
    live = []  # (venue, bid, ask) of the venues not stale, in name order
    for venue in sorted(latest):
        t = latest[venue]
        ms = t.time_msc
        stale = ms < cutoff
        venues[venue] = {"bid": t.bid, "ask": t.ask, "time_msc": ms, "seq": t.seq,
                         "lag_ms": lag_ms(t), "stale": stale}
        if not stale:
            live.append((venue, t.bid, t.ask))
    bid = ask = None
    for quote in live:  # in name order: strict comparisons leave a tie to the first name
        if bid is None or quote[1] > bid[1]:
            bid = quote
        if ask is None or quote[2] < ask[2]:
            ask = quote
    # by net (descending), then sell, then buy: sorted as (-net, sell, buy)
    if costs:
        cost = {venue: costs.of(venue, symbol) for venue, _, _ in live}
        order = sorted([(-round(edge - cost[sell] - cost[buy], EDGE_DECIMALS), sell, buy, edge)
                        for sell, sell_bid, _ in live for buy, _, buy_ask in live
                        if sell != buy
                        for edge in (round(sell_bid - buy_ask, EDGE_DECIMALS),)])
        edges = [{"sell": sell, "buy": buy, "edge": edge + 0.0, "net": -neg + 0.0}
                 for neg, sell, buy, edge in order]
    else:
        plain = sorted([(-round(sell_bid - buy_ask, EDGE_DECIMALS), sell, buy)
                        for sell, sell_bid, _ in live for buy, _, buy_ask in live
                        if sell != buy])
        edges = [{"sell": sell, "buy": buy, "edge": -neg + 0.0, "net": -neg + 0.0}
                 for neg, sell, buy in plain]
    return {"type": "best", "symbol": symbol, "time_msc": newest,
            "bid": bid[1] if bid else None, "bid_venue": bid[0] if bid else None,
            "ask": ask[2] if ask else None, "ask_venue": ask[0] if ask else None,
            "venues": venues, "edges": edges}


def consolidate(symbol: str, latest: Mapping[str, Tick], *,
                stale_after_ms: int = STALE_AFTER_MS, costs: Costs = NO_COSTS) -> Best:
    """The view of ``symbol`` as a value (``view_record``, read back)."""
    return Best.from_record(view_record(symbol, latest, stale_after_ms=stale_after_ms,
                                        costs=costs))


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
