"""The report's one pass (report/study.py) against brute-force references computed from
the definitions: time-weighted stale and best-quote shares, freezes, outages, spreads and
lags, episode sides (the episode engine's own), and nothing growing with the ticks."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbitrex.episodes.engine import EpisodeEngine
from arbitrex.model.tick import Tick
from arbitrex.report.study import FREEZE_OTHERS, OUTAGE_MS, Study
from arbitrex.stream.best import consolidate

STALE = 50
FREEZE = 30


@st.composite
def feeds(draw: st.DrawFn) -> list[Tick]:
    venues = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3,
                           unique=True))
    symbols = draw(st.sampled_from([("EURUSD",), ("EURUSD", "XAUUSD")]))
    seqs = {(v, s): 0 for v in venues for s in symbols}
    ns = 1_800_000_000_000 * 10**6
    ticks = []
    for _ in range(draw(st.integers(1, 60))):
        venue, symbol = draw(st.sampled_from(sorted(seqs)))
        if not (seqs[venue, symbol] and draw(st.integers(0, 9)) == 0):  # a repeat, at times
            seqs[venue, symbol] += 1
        ns += draw(st.sampled_from([0, 1_000_000, 7_000_000, 40_000_000, 61_000_000_000]))
        ms = ns // 10**6 - draw(st.sampled_from([0, 2, 100]))
        bid = 1.0 + draw(st.integers(0, 6)) / 10_000
        ticks.append(Tick(venue, symbol, seqs[venue, symbol], ms, round(bid, 5),
                          round(bid + draw(st.integers(0, 3)) / 10_000, 5), 0.0, 0, 0.0, 6,
                          ns, ms))
    return ticks


def bucket_ms(ticks: list[Tick]) -> int:
    return Study(ticks[0].time_msc, ticks[-1].time_msc + 1).bucket_ms


def reference(ticks: list[Tick]) -> dict:
    """Every figure from its definition, the slow way."""
    out: dict = {"stale": Counter(), "bid": Counter(), "ask": Counter(), "lasted": Counter(),
                 "freezes": Counter(), "outages": Counter(), "sides": Counter(), "top": {}}
    last_ns = ticks[-1].recv_ns
    latest: dict[str, dict[str, Tick]] = {}
    states: dict[str, list[tuple[int, dict[str, Tick]]]] = {}
    for t in ticks:
        held = latest.setdefault(t.symbol, {}).get(t.venue)
        if held is None or t.seq > held.seq:
            latest[t.symbol][t.venue] = t
            states.setdefault(t.symbol, []).append((t.recv_ns, dict(latest[t.symbol])))
    for symbol, seq in states.items():
        for (at, state), until in zip(seq, [s[0] for s in seq[1:]] + [last_ns], strict=True):
            view = consolidate(symbol, state, stale_after_ms=STALE)
            if view.edges:  # two live venues at least: the bucket's top net edge
                bucket = (symbol, (at // 10**6 - ticks[0].time_msc) // bucket_ms(ticks))
                out["top"][bucket] = max(out["top"].get(bucket, view.edges[0].net),
                                         view.edges[0].net)
            lasted = until - at
            out["lasted"][symbol] += lasted
            for venue, q in view.venues.items():
                if q.stale:
                    out["stale"][(venue, symbol)] += lasted
            if view.bid_venue:
                out["bid"][(view.bid_venue, symbol)] += lasted
                out["ask"][(view.ask_venue, symbol)] += lasted
    _gaps(ticks, out)
    engine = EpisodeEngine(stale_after_ms=STALE)
    for t in ticks:
        for e in engine.feed(t):
            if e.state == "open":
                out["sides"][("sell", e.sell, e.symbol)] += 1
                out["sides"][("buy", e.buy, e.symbol)] += 1
    return out


def _gaps(ticks: list[Tick], out: dict) -> None:
    """Freezes and outages, pair of ticks by pair of ticks."""
    for i, t in enumerate(ticks):
        later = [j for j in range(i + 1, len(ticks)) if ticks[j].key == t.key]
        if later:
            j = later[0]
            others = sum(1 for k in range(i + 1, j) if ticks[k].symbol == t.symbol)
            if ticks[j].recv_ns - t.recv_ns >= FREEZE * 10**6 and others >= FREEZE_OTHERS:
                out["freezes"][t.key] += 1
        same = [j for j in range(i + 1, len(ticks)) if ticks[j].venue == t.venue]
        if same and ticks[same[0]].recv_ns - t.recv_ns >= OUTAGE_MS * 10**6:
            out["outages"][t.venue] += 1


@settings(max_examples=300, deadline=None)
@given(feeds())
def test_the_pass_gives_what_the_definitions_give(ticks):
    study = Study(ticks[0].time_msc, ticks[-1].time_msc + 1, freeze_ms=FREEZE,
                  stale_after_ms=STALE)
    for t in ticks:
        study.take(t)
    f = study.figures()
    ref = reference(ticks)
    assert f["range"]["ticks"] == len(ticks)
    top = {(symbol, b): v for symbol, series in f["series"]["top_net"].items()
           for b, v in series["points"]}
    assert top == ref["top"]
    for venue, v in f["venues"].items():
        assert v["outages"] == ref["outages"][venue]
        for symbol, s in v["symbols"].items():
            lasted = ref["lasted"][symbol] or 1
            key = (venue, symbol)
            assert s["ticks"] == sum(1 for t in ticks if t.key == key)
            assert s["stale_share"] == pytest.approx(ref["stale"][key] / lasted, abs=1e-4)
            assert s["best_bid_share"] == pytest.approx(ref["bid"][key] / lasted, abs=1e-4)
            assert s["best_ask_share"] == pytest.approx(ref["ask"][key] / lasted, abs=1e-4)
            assert s["freezes"] == ref["freezes"][key]
            assert s["episodes_sell"] == ref["sides"][("sell", venue, symbol)]
            assert s["episodes_buy"] == ref["sides"][("buy", venue, symbol)]
            spreads = sorted(round(t.ask - t.bid, 10) for t in ticks if t.key == key)
            assert s["spread_median"] == spreads[int(0.5 * len(spreads) - 1e-9)]
            lags = sorted(round(t.recv_ns / 1e6 - t.time_msc) for t in ticks if t.key == key)
            assert s["lag_median_ms"] == lags[int(0.5 * len(lags) - 1e-9)]


def test_what_it_keeps_does_not_grow_with_the_ticks():
    def feed(n: int) -> Study:
        study = Study(0, 1, stale_after_ms=STALE)
        ns = 10**15
        for i in range(n):
            ns += 3_000_000
            venue = "abc"[i % 3]
            bid = 1.0 + (i * 7919 % 13) / 10_000
            study.take(Tick(venue, "EURUSD", i // 3 + 1, ns // 10**6, bid, bid + 0.0002,
                            0.0, 0, 0.0, 6, ns + (i % 5) * 10**6, ns // 10**6))
        return study

    small, large = feed(3_000), feed(30_000)  # nine seconds against a minute and a half
    sizes = [(len(s.streams[("a", "EURUSD")].spreads), len(s.streams[("a", "EURUSD")].lags),
              len(s.durations), len(s.best)) for s in (small, large)]
    assert sizes[0] == sizes[1]
    assert sum(len(m[0]) for m in large.symbols["EURUSD"].mids.values()) < 30_000 // 2


def test_spreads_in_points_of_the_finest_quote_of_the_symbol():
    """A venue quoting a digit fewer is not ten times tighter: points are the symbol's."""
    study = Study(0, 1)
    ns = 10**15
    for i in range(10):
        ns += 10**6
        study.take(Tick("five", "EURUSD", i + 1, ns // 10**6, 1.08501, 1.08509, 0.0, 0, 0.0, 6,
                        ns, ns // 10**6))
        study.take(Tick("four", "EURUSD", i + 1, ns // 10**6, 1.085, 1.0851, 0.0, 0, 0.0, 6,
                        ns + 1, ns // 10**6))
    venues = study.figures()["venues"]
    assert venues["five"]["symbols"]["EURUSD"]["spread_median_points"] == 8.0
    assert venues["four"]["symbols"]["EURUSD"]["spread_median_points"] == 10.0
    assert venues["four"]["symbols"]["EURUSD"]["spread_median"] == 0.0001
