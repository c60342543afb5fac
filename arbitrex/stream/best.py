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

import functools
import operator
from collections.abc import Iterable, Mapping
from typing import Any

from arbitrex.constants import STALE_AFTER_MS
from arbitrex.model.best import EDGE_DECIMALS, Best
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.tick import Tick

__all__ = ["Book", "consolidate", "lag_ms", "view_record"]


def lag_ms(tick: Tick) -> float:
    """How late the collector received the tick (a broker clock's error included), in ms
    to the microsecond (half up). In integers, so exact: recv_ns / 1e6 as a float is
    about 2e12 and carries only about four decimals of a millisecond."""
    return ((tick.recv_ns - tick.time_msc * 1_000_000 + 500) // 1000) / 1000


def view_record(symbol: str, latest: Mapping[str, Tick], *,
                stale_after_ms: int = STALE_AFTER_MS, costs: Costs = NO_COSTS
                ) -> dict[str, Any]:
    """The view of ``symbol`` from the latest tick of each venue (venue -> tick), as the
    ``best`` frame's record (``Best.record``: what ``serve`` encodes); each edge's net is
    after ``costs``. It runs for every change of every symbol served: built as plain
    dicts and tuples, in one pass over the venues, each venue's part built once per tick
    (``_quote``) and each pair's rounded difference of prices looked up (``_gap``: quotes
    repeat the same few prices)."""
    newest = max(map(_event_time, latest.values()), default=0)
    cutoff = newest - stale_after_ms  # older than this: stale
    venues = {}
    live = []  # (venue, bid, ask) of the venues not stale, in name order
    # the best (venue, price) of each side; venues in name order, so that strict
    # comparisons leave a tie to the first name
    bid = ask = None
    for venue, t in sorted(latest.items()):
        stale = t[3] < cutoff  # time_msc
        venues[venue] = _quote(t, stale)
        if stale:
            continue
        b, a = t[4], t[5]  # bid, ask
        live.append((venue, b, a))
        if bid is None or b > bid[1]:
            bid = (venue, b)
        if ask is None or a < ask[1]:
            ask = (venue, a)
    edges = []
    if len(live) > 1:
        # by net (descending), then sell, then buy: sorted as (-net, sell, buy), where
        # -edge is buy's ask minus sell's bid, rounded (rounding is odd: -round(x) is
        # round(-x))
        if costs:
            cost = {venue: costs.of(venue, symbol) for venue, _, _ in live}
            for neg, sell, buy, edge in sorted([
                    (-round(edge - cost[sell] - cost[buy], EDGE_DECIMALS), sell, buy, edge)
                    for sell, sell_bid, _ in live for buy, _, buy_ask in live if sell != buy
                    for edge in (0.0 - _gap(buy_ask, sell_bid),)]):
                edges.append({"sell": sell, "buy": buy, "edge": edge, "net": 0.0 - neg})
        else:
            for neg, sell, buy in sorted([(_gap(buy_ask, sell_bid), sell, buy)
                                          for sell, sell_bid, _ in live
                                          for buy, _, buy_ask in live if sell != buy]):
                edge = 0.0 - neg  # never -0.0
                edges.append({"sell": sell, "buy": buy, "edge": edge, "net": edge})
    return {"type": "best", "symbol": symbol, "time_msc": newest,
            "bid": bid[1] if bid else None, "bid_venue": bid[0] if bid else None,
            "ask": ask[1] if ask else None, "ask_venue": ask[0] if ask else None,
            "venues": venues, "edges": edges}


_event_time = operator.attrgetter("time_msc")  # in C


@functools.lru_cache(maxsize=4096)
def _quote(tick: Tick, stale: bool) -> dict[str, Any]:
    """A venue's part of the view's record: built once per tick, since the records of a
    symbol repeat the venues that did not change. Shared between records: never changed
    (orjson encodes it; ``Best.from_record`` reads it)."""
    _, _, seq, ms, bid, ask, _, _, _, _, _, _ = tick
    return {"bid": bid, "ask": ask, "time_msc": ms, "seq": seq, "lag_ms": lag_ms(tick),
            "stale": stale}


@functools.lru_cache(maxsize=4096)
def _gap(high: float, low: float) -> float:
    """``high - low`` rounded as an edge is: memoized, since a pair of venues quotes the
    same few prices again and again (a cached lookup is about a third of ``round``'s
    cost)."""
    return round(high - low, EDGE_DECIMALS)


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
