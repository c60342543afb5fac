"""The episode engine, pure: feed it each tick, in the order they were received
(``recv_ns``, ``venue``, ``seq``), and it says which episodes opened and which closed.

A tick that changes its venue's latest tick of the symbol (a higher seq) makes a new state:
the cross-venue view of the latest tick of each venue (staleness, costs and rounding as the
``best`` frame has them, ``stream.best.consolidate``; computed here without building it). A
pair (sell, buy) is open in a state when both are in it, neither is stale and its net > 0.
An episode is a maximal run of states in which its pair is open: it starts at the run's
first state and ends at the first state after it.
Its ``mean_net`` weighs each state's net by how long it lasted on the receive clock (until
the next state of the symbol; the last one until the end); an episode still open weighs its
last state at zero; a run that lasted no time takes the plain mean.
"""

from __future__ import annotations

from dataclasses import dataclass

from arbitrex.constants import STALE_AFTER_MS
from arbitrex.model.best import EDGE_DECIMALS
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.episode import Episode
from arbitrex.model.tick import Tick

__all__ = ["EpisodeEngine"]

Pair = tuple[str, str]  # (sell, buy)


@dataclass
class _Run:
    start_ns: int
    start_msc: int
    open_net: float
    peak_net: float
    last_ns: int
    last_net: float
    weighted: float = 0.0  # sum of net x how long each state lasted (ns)
    summed: float = 0.0  # sum of the states' nets
    states: int = 0

    def take(self, net: float, at_ns: int) -> None:
        """The pair is open in one more state, which began at ``at_ns``."""
        if self.states:
            self.weighted += self.last_net * (at_ns - self.last_ns)
        self.states += 1
        self.summed += net
        self.peak_net = max(self.peak_net, net)
        self.last_net, self.last_ns = net, at_ns

    def mean(self, until_ns: int) -> float:
        weighted = self.weighted + self.last_net * (until_ns - self.last_ns)
        lasted = until_ns - self.start_ns
        return round(weighted / lasted if lasted > 0 else self.summed / self.states, 12)


class EpisodeEngine:
    """Episodes from ticks fed one by one (see the module); keeps one small state per
    symbol: each venue's latest tick and the open runs."""

    def __init__(self, *, stale_after_ms: int = STALE_AFTER_MS, costs: Costs = NO_COSTS
                 ) -> None:
        self.stale_after_ms = stale_after_ms
        self.costs = costs
        self._costs = costs if costs else None  # None: every cost is 0
        self._latest: dict[str, dict[str, Tick]] = {}  # symbol -> venue -> tick
        self._runs: dict[str, dict[Pair, _Run]] = {}  # symbol -> open runs
        # the state the last tick fed made (None when it made none): its newest event
        # time, its venues that are not stale, its open pairs and their nets
        self.state: tuple[int, set[str], dict[Pair, float]] | None = None

    def feed(self, tick: Tick) -> list[Episode]:
        """The episodes this tick's state ends (``closed``), then those it starts (``open``),
        each in (sell, buy) order; none when it does not change its venue's latest tick."""
        latest = self._latest.get(tick.symbol)
        if latest is None:
            latest = self._latest[tick.symbol] = {}
            self._runs[tick.symbol] = {}
        held = latest.get(tick.venue)
        if held is not None and tick.seq <= held.seq:
            self.state = None
            return []
        latest[tick.venue] = tick
        self.state = newest, live, open_now = self._state(tick.symbol, latest)
        runs = self._runs[tick.symbol]
        now = tick.recv_ns
        if runs.keys() == open_now.keys():  # the same pairs open (often none): no event
            for pair, run in runs.items():
                run.take(open_now[pair], now)
            return []
        events = []
        for pair in sorted(runs):
            run = runs[pair]
            if pair in open_now:
                run.take(open_now[pair], now)
                continue
            del runs[pair]
            events.append(self._closed(tick, newest, pair, run,
                                       pair[0] in live and pair[1] in live))
        for pair in sorted(open_now.keys() - runs.keys()):
            net = open_now[pair]
            run = runs[pair] = _Run(now, newest, net, net, now, net)
            run.take(net, now)
            events.append(self._episode(tick.symbol, pair, run))
        return events

    def _state(self, symbol: str, latest: dict[str, Tick]
               ) -> tuple[int, set[str], dict[Pair, float]]:
        """The state's newest event time, its venues that are not stale, and its open
        pairs with their nets: what ``consolidate`` would give (its rounding and staleness),
        without building the view (this runs for every tick of history)."""
        newest = max([t.time_msc for t in latest.values()])
        cutoff = newest - self.stale_after_ms
        live = [(venue, t.bid, t.ask) for venue, t in latest.items() if t.time_msc >= cutoff]
        open_now = {}
        costs = self._costs
        for sell, bid, _ in live:
            for buy, _, ask in live:
                if bid <= ask or sell == buy:  # costs are >= 0: not open
                    continue
                net = round(bid - ask, EDGE_DECIMALS)
                if costs is not None:
                    net = round(net - costs.of(sell, symbol) - costs.of(buy, symbol),
                                EDGE_DECIMALS)
                if net > 0:
                    open_now[(sell, buy)] = net + 0.0
        return newest, {venue for venue, _, _ in live}, open_now

    def latest(self, symbol: str) -> dict[str, Tick]:
        """The latest tick of each venue of ``symbol`` (read only)."""
        return self._latest.get(symbol, {})

    def symbols(self) -> list[str]:
        """The symbols fed so far."""
        return sorted(self._latest)

    def open_episodes(self, symbols: tuple[str, ...] = ()) -> list[Episode]:
        """The episodes open now (of ``symbols``; all when empty), by symbol, sell, buy."""
        return [self._episode(symbol, pair, run)
                for symbol in sorted(self._runs) if not symbols or symbol in symbols
                for pair, run in sorted(self._runs[symbol].items())]

    @staticmethod
    def _episode(symbol: str, pair: Pair, run: _Run) -> Episode:
        return Episode(symbol, pair[0], pair[1], "open", run.start_ns, None, None,
                       run.start_msc, None, run.open_net, run.peak_net,
                       run.mean(run.last_ns), run.states, None, None)

    @staticmethod
    def _closed(tick: Tick, newest: int, pair: Pair, run: _Run, fresh: bool) -> Episode:
        end = tick.recv_ns
        return Episode(tick.symbol, pair[0], pair[1], "closed", run.start_ns, end,
                       (end - run.start_ns) / 1e6, run.start_msc, newest, run.open_net,
                       run.peak_net, run.mean(end), run.states, tick.venue,
                       "converged" if fresh else "stale")
