"""Bars from ticks, without I/O (docs/PROTOCOL.md: Bars).

A bar is one (venue, symbol, start) with ticks: ``start_msc = time_msc - time_msc %
width_ms`` (UTC, event time); its open and close are the first and last tick by
(time_msc, seq), its highs and lows the extremes of bid and ask, its spreads the narrowest
and widest ask - bid. Empty bars are omitted. ``make_bars`` takes ticks in (time_msc, seq)
order (``arbitrex.history.read``'s), keeps only the bars of the current interval open, and
yields bars ordered by start, then venue, then symbol.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from arbitrex.constants import DAY_MS
from arbitrex.errors import ConfigError, TickError
from arbitrex.model.tick import Tick

__all__ = ["BAR_FIELDS", "Bar", "bar_record", "make_bars", "parse_width"]

_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": DAY_MS}
_WIDTH = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_DECIMALS = 10  # spreads are differences of prices: rounded, so that 0.00002 stays 0.00002


class Bar(NamedTuple):
    venue: str
    symbol: str
    start_msc: int
    width_ms: int
    ticks: int
    bid_open: float
    bid_high: float
    bid_low: float
    bid_close: float
    ask_open: float
    ask_high: float
    ask_low: float
    ask_close: float
    spread_min: float
    spread_max: float


#: The fields of a bar record after "type", in docs/PROTOCOL.md's order (CSV header,
#: Parquet columns).
BAR_FIELDS = Bar._fields


def parse_width(text: str) -> int:
    """``30s``, ``1m``, ``4h``, ``1d``: N and a unit -> milliseconds (ConfigError)."""
    match = _WIDTH.fullmatch(text.strip().lower())
    if match is None:
        raise ConfigError("width", f"{text!r} is not a bar width",
                          "use N and s, m, h or d: 30s, 1m, 5m, 15m, 1h, 4h, 1d")
    return int(match[1]) * _UNITS[match[2]]


def bar_record(bar: Bar) -> dict[str, Any]:
    """The bar record."""
    return {"type": "bar", **bar._asdict()}


class _Open:
    """A bar being built: its open and close ticks by (time_msc, seq), and its extremes."""

    __slots__ = ("first", "last", "ticks", "bid_high", "bid_low", "ask_high", "ask_low",
                 "spread_min", "spread_max")

    def __init__(self, tick: Tick) -> None:
        spread = round(tick.ask - tick.bid, _DECIMALS)
        self.first = self.last = tick
        self.ticks = 1
        self.bid_high = self.bid_low = tick.bid
        self.ask_high = self.ask_low = tick.ask
        self.spread_min = self.spread_max = spread

    def add(self, tick: Tick) -> None:
        key = (tick.time_msc, tick.seq)
        if key < (self.first.time_msc, self.first.seq):
            self.first = tick
        if key >= (self.last.time_msc, self.last.seq):
            self.last = tick
        self.ticks += 1
        self.bid_high = max(self.bid_high, tick.bid)
        self.bid_low = min(self.bid_low, tick.bid)
        self.ask_high = max(self.ask_high, tick.ask)
        self.ask_low = min(self.ask_low, tick.ask)
        spread = round(tick.ask - tick.bid, _DECIMALS)
        self.spread_min = min(self.spread_min, spread)
        self.spread_max = max(self.spread_max, spread)

    def bar(self, venue: str, symbol: str, start: int, width: int) -> Bar:
        first, last = self.first, self.last
        return Bar(venue, symbol, start, width, self.ticks,
                   first.bid, self.bid_high, self.bid_low, last.bid,
                   first.ask, self.ask_high, self.ask_low, last.ask,
                   self.spread_min, self.spread_max)


def make_bars(ticks: Iterable[Tick], width_ms: int) -> Iterator[Bar]:
    """The bars of ``ticks`` (in (time_msc, seq) order; TickError when one comes after a
    later interval was already closed)."""
    if width_ms <= 0:
        raise ValueError("width_ms must be > 0")
    current: int | None = None  # the start of the interval whose bars are open
    building: dict[tuple[str, str], _Open] = {}
    for tick in ticks:
        start = tick.time_msc - tick.time_msc % width_ms
        if start != current:
            if current is not None and start < current:
                raise TickError(f"ticks out of time order: {tick.venue}:{tick.symbol} seq "
                                f"{tick.seq} at {tick.time_msc} after the bar at {current}")
            if current is not None:
                yield from _closed(building, current, width_ms)
            current = start
            building = {}
        held = building.get((tick.venue, tick.symbol))
        if held is None:
            building[(tick.venue, tick.symbol)] = _Open(tick)
        else:
            held.add(tick)
    if current is not None:
        yield from _closed(building, current, width_ms)


def _closed(building: dict[tuple[str, str], _Open], start: int, width: int) -> Iterator[Bar]:
    for (venue, symbol), held in sorted(building.items()):
        yield held.bar(venue, symbol, start, width)
