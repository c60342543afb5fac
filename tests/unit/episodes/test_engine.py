"""The episode engine against a brute-force reference of docs/PROTOCOL.md's definition:
every state recomputed from scratch, every pair's runs found by scanning the states."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from arbitrex.episodes.engine import EpisodeEngine
from arbitrex.model import Episode
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.tick import Tick
from arbitrex.stream.best import consolidate

STALE = 50  # ms: small, so that the generated ticks go stale and fresh again


def states_of(ticks: list[Tick]) -> dict[str, list[tuple[Tick, dict[str, Tick]]]]:
    """Per symbol, each state: the tick that made it, and the latest tick of each venue."""
    latest: dict[str, dict[str, Tick]] = {}
    states: dict[str, list[tuple[Tick, dict[str, Tick]]]] = {}
    for tick in ticks:
        held = latest.setdefault(tick.symbol, {}).get(tick.venue)
        if held is not None and tick.seq <= held.seq:
            continue
        latest[tick.symbol][tick.venue] = tick
        states.setdefault(tick.symbol, []).append((tick, dict(latest[tick.symbol])))
    return states


def net_of(state: dict[str, Tick], symbol: str, sell: str, buy: str, costs: Costs,
           stale_after_ms: int) -> float | None:
    """The pair's net in a state; None when a venue is missing or stale."""
    if sell not in state or buy not in state:
        return None
    newest = max(t.time_msc for t in state.values())
    if min(state[sell].time_msc, state[buy].time_msc) < newest - stale_after_ms:
        return None
    edge = round(state[sell].bid - state[buy].ask, 10)
    return round(edge - costs.of(sell, symbol) - costs.of(buy, symbol), 10)


def runs(seq: list[tuple[Tick, dict[str, Tick]]], nets: list[float | None]
         ) -> list[tuple[int, int]]:
    """The maximal runs of states with a positive net, as [first, after the last)."""
    out, i = [], 0
    while i < len(seq):
        if (nets[i] or 0) <= 0:
            i += 1
            continue
        j = i
        while j < len(seq) and (nets[j] or 0) > 0:
            j += 1
        out.append((i, j))
        i = j
    return out


def reference(ticks: list[Tick], costs: Costs, stale_after_ms: int = STALE) -> list[Episode]:
    """Every episode, closed and still open, from the definition."""
    out = []
    for symbol, seq in states_of(ticks).items():
        venues = sorted({v for _, state in seq for v in state})
        for sell, buy in ((s, b) for s in venues for b in venues if s != b):
            nets = [net_of(state, symbol, sell, buy, costs, stale_after_ms)
                    for _, state in seq]
            for i, j in runs(seq, nets):
                out.append(episode_of(symbol, sell, buy, seq, nets, i, j))
    return sorted(out, key=lambda e: (e.start_ns, e.symbol, e.sell, e.buy))


def episode_of(symbol: str, sell: str, buy: str, seq: list[tuple[Tick, dict[str, Tick]]],
               nets: list[float | None], i: int, j: int) -> Episode:
    held = [n for n in nets[i:j] if n is not None]
    start = seq[i][0]
    times = [seq[k][0].recv_ns for k in range(i, j)]
    start_msc = max(t.time_msc for t in seq[i][1].values())
    if j == len(seq):  # still open: the last state weighs zero
        return Episode(symbol, sell, buy, "open", start.recv_ns, None, None, start_msc, None,
                       held[0], max(held), mean(held, times, [*times[1:], times[-1]]),
                       len(held), None, None)
    end_tick, end_state = seq[j]
    return Episode(symbol, sell, buy, "closed", start.recv_ns, end_tick.recv_ns,
                   (end_tick.recv_ns - start.recv_ns) / 1e6, start_msc,
                   max(t.time_msc for t in end_state.values()), held[0], max(held),
                   mean(held, times, [*times[1:], end_tick.recv_ns]), len(held),
                   end_tick.venue, "stale" if nets[j] is None else "converged")


def mean(nets: list[float], starts: list[int], ends: list[int]) -> float:
    lasted = ends[-1] - starts[0]
    if lasted <= 0:
        return sum(nets) / len(nets)
    return sum(n * (e - s) for n, s, e in zip(nets, starts, ends, strict=True)) / lasted


def engine_episodes(ticks: list[Tick], costs: Costs) -> list[Episode]:
    engine = EpisodeEngine(stale_after_ms=STALE, costs=costs)
    closed: list[Episode] = []
    opened: list[Episode] = []
    for tick in ticks:
        for episode in engine.feed(tick):
            (closed if episode.state == "closed" else opened).append(episode)
    still = engine.open_episodes()
    # every opened episode is either closed later or still open, with the same start
    starts = {(e.symbol, e.sell, e.buy, e.start_ns) for e in closed + still}
    assert {(e.symbol, e.sell, e.buy, e.start_ns) for e in opened} == starts
    assert all(e.states == 1 and e.mean_net == e.open_net == e.peak_net for e in opened)
    return sorted(closed + still, key=lambda e: (e.start_ns, e.symbol, e.sell, e.buy))


def same(got: list[Episode], want: list[Episode]) -> None:
    assert [e._replace(mean_net=0.0) for e in got] == [e._replace(mean_net=0.0) for e in want]
    for a, b in zip(got, want, strict=True):
        assert a.mean_net == pytest.approx(b.mean_net, rel=1e-9, abs=1e-12)


@st.composite
def feeds(draw: st.DrawFn) -> tuple[list[Tick], Costs]:
    venues = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4,
                           unique=True))
    symbols = draw(st.sampled_from([("EURUSD",), ("EURUSD", "XAUUSD")]))
    seqs = {(v, s): 0 for v in venues for s in symbols}
    ms = 1_000_000
    ns = ms * 10**6
    ticks = []
    for _ in range(draw(st.integers(1, 40))):
        venue, symbol = draw(st.sampled_from(sorted(seqs)))
        repeat = seqs[venue, symbol] > 0 and draw(st.integers(0, 9)) == 0
        if not repeat:
            seqs[venue, symbol] += 1
        ms += draw(st.sampled_from([0, 0, 1, 5, 20, 60]))  # ties, and gaps that go stale
        ns += draw(st.sampled_from([0, 1_000, 3_000_000]))  # receipts at the same moment too
        bid = 1.0 + draw(st.integers(0, 6)) / 10_000
        ask = bid + draw(st.integers(0, 3)) / 10_000
        ticks.append(Tick(venue, symbol, seqs[venue, symbol], ms - draw(st.integers(0, 80)),
                          round(bid, 5), round(ask, 5), 0.0, 0, 0.0, 6, ns, ms))
    costs = draw(st.sampled_from([NO_COSTS, Costs({"a": {"*": 0.0001}}),
                                  Costs({"b": {"EURUSD": 0.00005}, "c": {"*": 0.0002}})]))
    return ticks, costs


@settings(max_examples=400, deadline=None)
@given(feeds())
@example(([], NO_COSTS))
def test_the_engine_finds_the_episodes_the_definition_gives(feed):
    ticks, costs = feed
    same(engine_episodes(ticks, costs), reference(ticks, costs))


@settings(max_examples=200, deadline=None)
@given(feeds())
def test_each_state_opens_the_pairs_the_best_frame_gives_a_positive_net(feed):
    ticks, costs = feed
    engine = EpisodeEngine(stale_after_ms=STALE, costs=costs)
    for symbol, states in states_of(ticks).items():
        for _, state in states:
            view = consolidate(symbol, state, stale_after_ms=STALE, costs=costs)
            newest, live, open_now = engine._state(symbol, state)
            assert newest == view.time_msc
            assert live == {v for v, q in view.venues.items() if not q.stale}
            assert open_now == {(e.sell, e.buy): e.net for e in view.edges if e.net > 0}


def tick(venue: str, seq: int, bid: float, ask: float, ms: int, ns: int) -> Tick:
    return Tick(venue, "EURUSD", seq, ms, bid, ask, 0.0, 0, 0.0, 6, ns, ms)


def test_an_edge_that_opens_peaks_and_converges():
    t0, s = 1_000_000, 10**9
    feed = [tick("icm", 1, 1.10005, 1.10007, t0, 1 * s),
            tick("pep", 1, 1.10001, 1.10003, t0, 2 * s),      # icm's bid > pep's ask: +2
            tick("icm", 2, 1.10007, 1.10009, t0 + 1, 3 * s),  # +4
            tick("pep", 2, 1.10006, 1.10008, t0 + 2, 5 * s)]  # -1: converged, closed by pep
    engine = EpisodeEngine()
    events = [e for t in feed for e in engine.feed(t)]
    opened, closed = events
    assert (opened.state, opened.sell, opened.buy, opened.open_net) == ("open", "icm", "pep",
                                                                        0.00002)
    assert closed.state == "closed" and (closed.closed_by, closed.reason) == ("pep",
                                                                              "converged")
    assert (closed.start_ns, closed.end_ns, closed.duration_ms) == (2 * s, 5 * s, 3000.0)
    assert (closed.peak_net, closed.states) == (0.00004, 2)
    assert closed.mean_net == pytest.approx((0.00002 * 1 + 0.00004 * 2) / 3)
    assert engine.open_episodes() == []


def test_a_venue_going_stale_ends_the_episode_as_stale():
    t0, s = 1_000_000, 10**9
    engine = EpisodeEngine(stale_after_ms=100)
    engine.feed(tick("icm", 1, 1.10005, 1.10007, t0, 1 * s))
    [opened] = engine.feed(tick("pep", 1, 1.10001, 1.10003, t0, 2 * s))
    [closed] = engine.feed(tick("icm", 2, 1.10005, 1.10007, t0 + 500, 3 * s))  # pep is stale
    assert (closed.reason, closed.closed_by) == ("stale", "icm")
