"""The lead-lag estimator: known delays recovered within 15 ms from synthetic quotes (batched
reads, dropped ticks, different digits), and from the simulator's documented brokers; noise
gives a low confidence; too little data gives no estimate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbitrex.report.leadlag import lead_lag
from arbitrex.sources.sim import SimSource, brokers_for


def quotes(rng: np.random.Generator, moves_ms: np.ndarray, path: np.ndarray, latency: float,
           poll_ms: float, drop: float, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """A venue that sees each move ``latency`` ms late and is read every ``poll_ms``."""
    seen = np.ceil((moves_ms + latency) / poll_ms) * poll_ms + rng.uniform(0, 1, len(path))
    keep = rng.random(len(path)) >= drop
    return seen[keep], np.round(path[keep], digits)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 900), st.integers(0, 900), st.sampled_from([1, 5, 10]),
       st.floats(0, 0.4), st.integers(0, 2**32 - 1))
def test_a_known_delay_is_recovered_within_15_ms(lat_a, lat_b, poll, drop, seed):
    rng = np.random.default_rng(seed)
    n = 6000
    moves = np.cumsum(rng.exponential(60, n))  # a move every 60 ms on average, ~6 minutes
    path = 1.1 + np.cumsum(rng.choice([-1, 1], n)) * 1e-5
    ta, ma = quotes(rng, moves, path, lat_a, poll, drop, 5)
    tb, mb = quotes(rng, moves, path, lat_b, poll, drop, 4 if drop > 0.2 else 5)
    got = lead_lag("a", ta, ma, "b", tb, mb)
    assert got is not None
    signed = got.lead_ms if got.leader == "a" else -got.lead_ms
    assert abs(signed - (lat_b - lat_a)) <= 15, got
    if lat_a != lat_b:
        assert got.leader == ("a" if lat_a < lat_b else "b") or abs(lat_a - lat_b) <= 15
    assert got.confidence >= 0.5


def test_unrelated_prices_give_a_low_confidence():
    rng = np.random.default_rng(3)
    n = 8000
    ta = np.cumsum(rng.exponential(50, n))
    tb = np.cumsum(rng.exponential(50, n))
    got = lead_lag("a", ta, np.cumsum(rng.choice([-1, 1], n)), "b", tb,
                   np.cumsum(rng.choice([-1, 1], n)))
    assert got is not None and got.confidence < 0.5 and abs(got.correlation) < 0.1


def test_too_few_changes_give_no_estimate():
    assert lead_lag("a", [1.0, 2.0], [1.0, 1.1], "b", [1.5, 2.5], [1.0, 1.1]) is None
    assert lead_lag("a", [], [], "b", [], []) is None


def test_the_simulators_documented_brokers():
    """collect --source sim --venues icm,pepper,oanda: latencies 15, 140 and 330 ms."""
    names = ("icm", "pepper", "oanda")
    clock = [1_800_000_000_000_000_000]
    sources = [SimSource(["EURUSD"], rate=50, broker=b, started_ns=clock[0],
                         clock_ns=lambda: clock[0], sleep=lambda s: None)
               for b in brokers_for(list(names))]
    for s in sources:
        s.open({})
    series: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in names}
    for _ in range(30_000):  # five minutes, read every 10 ms
        clock[0] += 10_000_000
        for s in sources:
            for tick in s.poll(0):
                series[s.venue][0].append(tick.recv_ns / 1e6)
                series[s.venue][1].append((tick.bid + tick.ask) / 2)
    documented = {"icm": 15, "pepper": 140, "oanda": 330}
    for a, b in (("icm", "pepper"), ("icm", "oanda"), ("pepper", "oanda")):
        got = lead_lag(a, *series[a], b, *series[b])
        assert got is not None and got.leader == a and got.follower == b
        assert got.lead_ms == pytest.approx(documented[b] - documented[a], abs=15), got
        assert got.confidence >= 0.9
