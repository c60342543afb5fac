"""The broker report's one pass over the history, pure: feed it every tick in the order
they were received (``recv_ns``, ``venue``, ``seq``), then ask for the figures.

What it keeps is bounded whatever the number of ticks: counts per value (spreads, lags in
whole ms, episode durations in whole ms), per hour of the day, per UTC day, the top net
edge per time bucket (``BUCKETS`` per range), one minute of mid-price changes for the
lead-lag (``leadlag.LeadLag`` takes each minute and lets it go) and the ten best episodes.
Each tick that changes its venue's latest tick of the symbol makes a state of the symbol's
cross-venue view (as the ``best`` frame and the episodes have it); each state lasts until
the next one of the symbol, and the time-weighted figures (stale share, best bid and best
ask share) weigh states by that.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from arbitrex.constants import DAY_MS, STALE_AFTER_MS
from arbitrex.episodes.engine import EpisodeEngine
from arbitrex.model.best import EDGE_DECIMALS
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.episode import Episode
from arbitrex.model.tick import Tick, digits_of
from arbitrex.report.clocks import verdict
from arbitrex.report.leadlag import LeadLag

__all__ = ["BUCKETS", "FREEZE_MS", "OUTAGE_MS", "Study"]

FREEZE_MS = 5_000  # a venue silent this long on a symbol (receive clock) ...
FREEZE_OTHERS = 10  # ... while the other venues sent at least this many ticks of it: frozen
OUTAGE_MS = 60_000  # a venue silent this long on every symbol: an outage
OUTAGE_NS = OUTAGE_MS * 1_000_000
BUCKETS = 720  # points of the top-net-edge picture per symbol
WINDOW_MS = 60_000  # the lead-lag's window
HOUR_MS = 3_600_000
Key = tuple[str, str]  # (venue, symbol)
_NONE: frozenset[str] = frozenset()


def quantile(counts: Mapping[Any, int], q: float) -> Any:
    """The q-quantile of values given as value -> count (the lower one at a tie); None
    when there are none."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = max(0, min(total - 1, int(q * total - 1e-9) if q < 1 else total - 1))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen > rank:
            return value
    return None


@dataclass
class _Symbol:
    """One symbol's view as it stands, and what its states added up to."""

    since_ns: int = 0  # when the current state began
    first_ns: int = 0
    ticks: int = 0  # ticks of every venue so far (for freezes)
    stale: AbstractSet[str] = frozenset()
    present: bool = False  # whether a state has been made
    bid_venue: str | None = None
    ask_venue: str | None = None
    lasted_ns: int = 0  # the time its states covered
    stale_ns: Counter[str] = field(default_factory=Counter)
    best_bid_ns: Counter[str] = field(default_factory=Counter)
    best_ask_ns: Counter[str] = field(default_factory=Counter)
    top: dict[int, float] = field(default_factory=dict)  # bucket -> highest top net edge
    mids: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    last_mid: dict[str, float] = field(default_factory=dict)
    window: int = -1

    def close(self, until_ns: int) -> None:
        """The current state lasted until ``until_ns``: add it to the time-weighted tallies."""
        lasted = until_ns - self.since_ns
        if lasted > 0 and self.present:
            self.lasted_ns += lasted
            for venue in self.stale:
                self.stale_ns[venue] += lasted
            if self.bid_venue is not None:
                self.best_bid_ns[self.bid_venue] += lasted
            if self.ask_venue is not None:
                self.best_ask_ns[self.ask_venue] += lasted
        self.since_ns = until_ns


@dataclass
class _Venue:
    """One venue, every symbol."""

    ticks: int = 0
    last_ns: int = 0
    outages: int = 0
    outage_ns: int = 0


@dataclass
class _Stream:
    """One venue's ticks of one symbol."""

    sym: _Symbol
    venue: _Venue
    ticks: int = 0
    spread_hours: Counter[tuple[int, float]] = field(default_factory=Counter)  # (hour, spread)
    lag_days: Counter[tuple[int, int]] = field(default_factory=Counter)  # (day start, lag ms)

    @property
    def spreads(self) -> Counter[float]:
        out: Counter[float] = Counter()
        for (_, spread), n in self.spread_hours.items():
            out[spread] += n
        return out

    @property
    def lags(self) -> Counter[int]:
        out: Counter[int] = Counter()
        for (_, lag), n in self.lag_days.items():
            out[lag] += n
        return out
    digits: int = 0
    last_ns: int = 0
    ticks_at_last: int = 0  # the symbol's tick count when this venue's last tick came
    freezes: int = 0
    longest_freeze_ns: int = 0
    sell: int = 0  # episodes in which it was the sell side
    buy: int = 0


@dataclass
class _Pair:
    count: int = 0
    durations: Counter[int] = field(default_factory=Counter)  # whole ms -> how many
    peaks: Counter[float] = field(default_factory=Counter)
    by_hour: Counter[int] = field(default_factory=Counter)  # UTC hour of the end -> ended
    open_ns: int = 0


class Study:
    """Feed ticks in receipt order (``take``), then ``figures()`` (docs/COMMANDS.md:
    report). ``start_ms``/``end_ms`` bound the range (for the buckets of the pictures);
    ``zones`` is each venue's configured BROKER_TIMEZONE (default ``default_zone``)."""

    def __init__(self, start_ms: int, end_ms: int, *, freeze_ms: int = FREEZE_MS,
                 stale_after_ms: int = STALE_AFTER_MS, costs: Costs = NO_COSTS,
                 zones: Mapping[str, str] | None = None, default_zone: str = "UTC") -> None:
        if freeze_ms <= 0:
            raise ValueError("freeze_ms must be > 0")
        self.start_ms, self.end_ms = start_ms, max(end_ms, start_ms + 1)
        self.bucket_ms = max(1, -(-(self.end_ms - self.start_ms) // BUCKETS))
        self.freeze_ns = freeze_ms * 1_000_000
        self.freeze_ms = freeze_ms
        self.stale_after_ms = stale_after_ms
        self.costs = costs
        self._costs = costs if costs else None  # None: every cost is 0
        self.zones = dict(zones or {})
        self.default_zone = default_zone
        self.engine = EpisodeEngine(stale_after_ms=stale_after_ms, costs=costs)
        self.symbols: dict[str, _Symbol] = {}
        self.streams: dict[Key, _Stream] = {}
        self.venues: dict[str, _Venue] = {}
        self.pairs: dict[tuple[str, str, str], _Pair] = defaultdict(_Pair)
        self.durations: Counter[int] = Counter()  # every ended episode, whole ms
        self.best: list[tuple[float, float, int, Episode]] = []  # the ten best, a heap
        self.leads: dict[tuple[str, str, str], LeadLag] = {}  # (symbol, a, b)
        self.finished = False
        self.ticks = 0
        self.first_ns = 0
        self.last_ns = 0

    # The pass

    def take(self, tick: Tick) -> None:
        """One tick (receipt order). The hot path of the report: written flat."""
        recv = tick.recv_ns
        self.ticks += 1
        if not self.first_ns:
            self.first_ns = recv
        self.last_ns = recv
        stream = self.streams.get((tick.venue, tick.symbol))
        if stream is None:
            stream = self._new_stream(tick)
        sym = stream.sym
        venue = stream.venue
        # the venue: an outage is a minute without a tick of any symbol
        venue.ticks += 1
        if venue.last_ns and recv - venue.last_ns >= OUTAGE_NS:
            venue.outages += 1
            venue.outage_ns += recv - venue.last_ns
        venue.last_ns = recv
        # the stream: spreads by hour, lags by day, freezes
        stream.ticks += 1
        if stream.ticks <= 64 or stream.ticks % 256 == 0:  # digits settle after a few ticks
            stream.digits = max(stream.digits, digits_of(tick.bid), digits_of(tick.ask))
        stream.spread_hours[((recv // 3_600_000_000_000) % 24,
                             round(tick.ask - tick.bid, EDGE_DECIMALS))] += 1
        stream.lag_days[(tick.time_msc // DAY_MS * DAY_MS,
                         int(round(recv / 1e6 - tick.time_msc)))] += 1
        if stream.last_ns and recv - stream.last_ns >= self.freeze_ns \
                and sym.ticks - stream.ticks_at_last >= FREEZE_OTHERS:
            stream.freezes += 1
            stream.longest_freeze_ns = max(stream.longest_freeze_ns, recv - stream.last_ns)
        stream.last_ns = recv
        stream.ticks_at_last = sym.ticks + 1
        sym.ticks += 1
        # the symbol's view: a state when the tick changed its venue's latest
        engine = self.engine
        events = engine.feed(tick)
        if engine.state is not None:
            self._state(sym, tick, *engine.state)
        for episode in events:
            self._episode(episode)

    def _new_stream(self, tick: Tick) -> _Stream:
        sym = self.symbols.get(tick.symbol)
        if sym is None:
            sym = self.symbols[tick.symbol] = _Symbol(since_ns=tick.recv_ns,
                                                      first_ns=tick.recv_ns)
        venue = self.venues.get(tick.venue)
        if venue is None:
            venue = self.venues[tick.venue] = _Venue()
        stream = self.streams[(tick.venue, tick.symbol)] = _Stream(sym, venue)
        return stream

    def _state(self, sym: _Symbol, tick: Tick, newest: int, live: set[str],
               open_now: dict[tuple[str, str], float]) -> None:
        """A new state of the symbol's view (the engine's: its newest time, its venues that
        are not stale, its open pairs): the one before it lasted until now."""
        recv = tick.recv_ns
        sym.close(recv)
        latest = self.engine.latest(tick.symbol)
        sym.present = True
        bid_venue = ask_venue = None
        bid = ask = 0.0
        for venue in live:
            t = latest[venue]
            # the highest bid and the lowest ask; a tie goes to the name first
            if bid_venue is None or t.bid > bid or (t.bid == bid and venue < bid_venue):
                bid_venue, bid = venue, t.bid
            if ask_venue is None or t.ask < ask or (t.ask == ask and venue < ask_venue):
                ask_venue, ask = venue, t.ask
        sym.stale = latest.keys() - live if len(live) < len(latest) else _NONE
        sym.bid_venue, sym.ask_venue = bid_venue, ask_venue
        if len(live) > 1:
            bucket = (recv // 1_000_000 - self.start_ms) // self.bucket_ms
            held = sym.top.get(bucket)
            if open_now:
                top = max(open_now.values())
            elif held is not None and bid - ask <= held:  # no pair beats the bucket's top
                top = held
            else:
                top = self._top_net(tick.symbol, latest, live, bid_venue, bid, ask_venue, ask)
            if held is None or top > held:
                sym.top[bucket] = top
        self._mid(sym, tick, recv)

    def _top_net(self, symbol: str, latest: dict[str, Tick], live: set[str],
                 bid_venue: str | None, bid: float, ask_venue: str | None, ask: float
                 ) -> float:
        """The highest net edge of any pair of live venues (none is open: it is <= 0)."""
        costs = self._costs
        if costs is None:  # the best bid's venue sells, the best ask's buys
            if bid_venue != ask_venue:
                return round(bid - ask, EDGE_DECIMALS) + 0.0
            others = [latest[v] for v in live if v != bid_venue]
            best = max(bid - min(t.ask for t in others), max(t.bid for t in others) - ask)
            return round(best, EDGE_DECIMALS) + 0.0
        top = None
        for sell in live:
            s = latest[sell]
            for buy in live:
                if sell == buy:
                    continue
                net = round(round(s.bid - latest[buy].ask, EDGE_DECIMALS)
                            - costs.of(sell, symbol) - costs.of(buy, symbol), EDGE_DECIMALS)
                if top is None or net > top:
                    top = net
        return (top or 0.0) + 0.0

    def _mid(self, sym: _Symbol, tick: Tick, recv: int) -> None:
        """Mid-price changes, a minute at a time, for the lead-lag."""
        window = recv // 1_000_000 // WINDOW_MS
        if window != sym.window:
            self._flush_leads(tick.symbol, sym)
            sym.window = window
        mid = (tick.bid + tick.ask) / 2
        last = sym.last_mid.get(tick.venue)
        sym.last_mid[tick.venue] = mid
        if last is None or mid == last:
            return
        times, changes = sym.mids.setdefault(tick.venue, ([], []))
        times.append(recv / 1e6)
        changes.append(mid - last)

    def _flush_leads(self, symbol: str, sym: _Symbol) -> None:
        venues = sorted(sym.mids)
        for i, a in enumerate(venues):
            for b in venues[i + 1:]:
                est = self.leads.get((symbol, a, b))
                if est is None:
                    est = self.leads[(symbol, a, b)] = LeadLag(a, b)
                est.add(*sym.mids[a], *sym.mids[b])
        sym.mids.clear()

    def _episode(self, e: Episode) -> None:
        if e.state == "open":
            self.streams[(e.sell, e.symbol)].sell += 1
            self.streams[(e.buy, e.symbol)].buy += 1
            return
        pair = self.pairs[(e.symbol, e.sell, e.buy)]
        duration = int(round(e.duration_ms or 0.0))
        pair.count += 1
        pair.durations[duration] += 1
        pair.peaks[e.peak_net] += 1
        pair.by_hour[(e.end_ns or 0) // 1_000_000 // HOUR_MS % 24] += 1
        pair.open_ns += (e.end_ns or 0) - e.start_ns
        self.durations[duration] += 1
        entry = (e.peak_net, e.duration_ms or 0.0, -e.start_ns, e)
        if len(self.best) < 10:
            heapq.heappush(self.best, entry)
        elif entry[:3] > self.best[0][:3]:
            heapq.heapreplace(self.best, entry)

    def finish(self) -> None:
        """Close the last minute of the lead-lag and the last state of each symbol."""
        for symbol, sym in self.symbols.items():
            self._flush_leads(symbol, sym)
            sym.close(self.last_ns)

    # The figures

    def figures(self) -> dict[str, Any]:
        """The report's figures: the object ``arbitrex report --json`` prints."""
        if not self.finished:
            self.finish()
            self.finished = True
        minutes = max((self.last_ns - self.first_ns) / 6e10, 1 / 60)
        venues: dict[str, Any] = {}
        for (venue, symbol), s in sorted(self.streams.items()):
            sym = self.symbols[symbol]
            point = 10.0 ** -self._digits(symbol)  # the symbol's finest point, at every venue
            spreads, lags = s.spreads, s.lags
            median, p95 = quantile(spreads, 0.5), quantile(spreads, 0.95)
            lasted = sym.lasted_ns or 1
            v = self.venues[venue]
            entry = venues.setdefault(venue, {"ticks": v.ticks, "outages": v.outages,
                                              "outage_ms": v.outage_ns / 1e6, "symbols": {}})
            entry["symbols"][symbol] = {
                "ticks": s.ticks, "ticks_per_minute": round(s.ticks / minutes, 2),
                "digits": s.digits,
                "spread_median": median, "spread_p95": p95,
                "spread_median_points": _points(median, point),
                "spread_p95_points": _points(p95, point),
                "lag_median_ms": quantile(lags, 0.5), "lag_p99_ms": quantile(lags, 0.99),
                "stale_share": round(sym.stale_ns[venue] / lasted, 4),
                "freezes": s.freezes, "longest_freeze_ms": s.longest_freeze_ns / 1e6,
                "best_bid_share": round(sym.best_bid_ns[venue] / lasted, 4),
                "best_ask_share": round(sym.best_ask_ns[venue] / lasted, 4),
                "episodes_sell": s.sell, "episodes_buy": s.buy,
            }
        lead = [{"symbol": symbol, "leader": r.leader, "follower": r.follower,
                 "lead_ms": r.lead_ms, "confidence": r.confidence,
                 "correlation": r.correlation, "windows": r.windows}
                for (symbol, _, _), est in sorted(self.leads.items())
                if (r := est.result()) is not None]
        return {
            "range": {"from_msc": self.start_ms, "to_msc": self.end_ms,
                      "first_recv_ns": self.first_ns, "last_recv_ns": self.last_ns,
                      "ticks": self.ticks, "freeze_ms": self.freeze_ms},
            "venues": venues,
            "lead": lead,
            "ranking": _ranking(lead),
            "clocks": self._clocks(),
            "episodes": self._episodes(),
            "best_episodes": [e.record() for *_, e in sorted(self.best, reverse=True)],
            "series": self._series(),
        }

    def _digits(self, symbol: str) -> int:
        """The most decimals any venue quotes ``symbol`` with: spreads in points of it
        compare across venues (a venue quoting a digit fewer is not ten times tighter)."""
        return max((s.digits for (_, sym), s in self.streams.items() if sym == symbol),
                   default=0)

    def _clocks(self) -> dict[str, Any]:
        by_venue: dict[str, dict[int, float]] = defaultdict(dict)
        daily: dict[tuple[str, int], Counter[int]] = defaultdict(Counter)
        for (venue, _), stream in self.streams.items():
            for (day, lag), n in stream.lag_days.items():
                daily[(venue, day)][lag] += n
        for (venue, day), lags in daily.items():
            by_venue[venue][day] = float(quantile(lags, 0.5))
        out = {}
        for venue, days in sorted(by_venue.items()):
            zone = self.zones.get(venue, self.default_zone)
            v = verdict(days, zone)
            out[venue] = {"daily_lag_ms": v.daily_lag_ms, "implied_offset_ms":
                          v.implied_offset_ms, "configured": zone, "suggest": v.suggest,
                          "verdict": v.verdict}
        return out

    def _episodes(self) -> list[dict[str, Any]]:
        out = []
        for (symbol, sell, buy), p in sorted(self.pairs.items()):
            out.append({"symbol": symbol, "sell": sell, "buy": buy, "count": p.count,
                        "duration_median_ms": quantile(p.durations, 0.5),
                        "duration_p90_ms": quantile(p.durations, 0.9),
                        "longest_ms": max(p.durations) if p.durations else None,
                        "peak_net_median": quantile(p.peaks, 0.5),
                        "open_ms": p.open_ns / 1e6,
                        "by_hour": {str(h): n for h, n in sorted(p.by_hour.items())}})
        return out

    def _series(self) -> dict[str, Any]:
        """What the pictures draw (bounded: buckets, counts)."""
        top = {symbol: {"bucket_ms": self.bucket_ms, "from_msc": self.start_ms,
                        "points": sorted(sym.top.items())}
               for symbol, sym in sorted(self.symbols.items()) if sym.top}
        spread_hour: dict[str, dict[str, dict[int, float]]] = defaultdict(dict)
        for (venue, symbol), stream in sorted(self.streams.items()):
            by_hour: dict[int, Counter[int]] = defaultdict(Counter)
            for (hour, spread), n in stream.spread_hours.items():
                by_hour[hour][int(round(spread * 10 ** self._digits(symbol)))] += n
            spread_hour[symbol][venue] = {h: quantile(c, 0.5) for h, c in sorted(by_hour.items())}
        lags: dict[str, Counter[int]] = defaultdict(Counter)
        for (venue, _), s in self.streams.items():
            lags[venue].update(s.lags)
        return {"top_net": top, "spread_by_hour_points": dict(spread_hour),
                "lag_ms": {v: sorted(c.items()) for v, c in sorted(lags.items())},
                "durations_ms": sorted(self.durations.items())}


def _points(value: float | None, point: float) -> float | None:
    return None if value is None else round(value / point, 1)


def _ranking(lead: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per symbol, the venues from fastest to slowest: by the sum of their leads over the
    others (a follower's lead counts against it)."""
    score: dict[str, Counter[str]] = defaultdict(Counter)
    for r in lead:
        score[r["symbol"]][r["leader"]] += r["lead_ms"]
        score[r["symbol"]][r["follower"]] -= r["lead_ms"]
    return {symbol: sorted(s, key=lambda v: (-s[v], v)) for symbol, s in sorted(score.items())}
