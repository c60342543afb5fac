"""The bar engine against a brute-force reference (hypothesis), and bar widths."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbitrex.bars import Bar, make_bars, parse_width
from arbitrex.errors import ConfigError, TickError
from arbitrex.history import order_key
from arbitrex.model.tick import Tick

T0 = 1_800_000_000_000


def reference(ticks: list[Tick], width: int) -> list[Bar]:
    """Group everything, then compute each bar from its ticks sorted by (time_msc, seq)."""
    groups: dict[tuple[int, str, str], list[Tick]] = defaultdict(list)
    for t in ticks:
        groups[(t.time_msc - t.time_msc % width, t.venue, t.symbol)].append(t)
    out = []
    for (start, venue, symbol), group in sorted(groups.items()):
        group.sort(key=lambda t: (t.time_msc, t.seq))
        spreads = [round(t.ask - t.bid, 10) for t in group]
        out.append(Bar(venue, symbol, start, width, len(group),
                       group[0].bid, max(t.bid for t in group), min(t.bid for t in group),
                       group[-1].bid, group[0].ask, max(t.ask for t in group),
                       min(t.ask for t in group), group[-1].ask, min(spreads), max(spreads)))
    return out


@st.composite
def histories(draw: st.DrawFn) -> list[Tick]:
    """Ticks of a few streams, each with its own rising seq, at times that repeat and jump."""
    n = draw(st.integers(0, 60))
    seqs: dict[tuple[str, str], int] = {}
    ticks = []
    for _ in range(n):
        venue = draw(st.sampled_from(["icm", "oanda", "pepper"]))
        symbol = draw(st.sampled_from(["EURUSD", "XAUUSD"]))
        seqs[(venue, symbol)] = seqs.get((venue, symbol), 0) + 1
        ms = T0 + draw(st.integers(0, 200_000))
        bid = draw(st.integers(100_000, 100_050)) / 1e5
        ask = bid + draw(st.integers(0, 5)) / 1e5
        ticks.append(Tick(venue, symbol, seqs[(venue, symbol)], ms, bid, ask, 0.0, 0, 0.0, 6,
                          0, ms))
    ticks.sort(key=order_key)  # the order history.read gives
    return ticks


@settings(max_examples=300, deadline=None)
@given(histories(), st.sampled_from([1, 1000, 30_000, 60_000, 3_600_000, 86_400_000]))
def test_bars_match_the_brute_force_reference(ticks: list[Tick], width: int) -> None:
    assert list(make_bars(ticks, width)) == reference(ticks, width)


def test_open_and_close_by_time_then_seq_and_empty_bars_omitted() -> None:
    def t(seq: int, ms: int, bid: float) -> Tick:
        return Tick("icm", "EURUSD", seq, T0 + ms, bid, bid + 0.00002, 0.0, 0, 0.0, 6, 0, 0)

    bars = list(make_bars([t(1, 0, 1.1), t(2, 0, 1.3), t(3, 59_999, 1.2),
                           t(4, 180_000, 1.0)], 60_000))
    assert [(b.start_msc - T0, b.ticks) for b in bars] == [(0, 3), (180_000, 1)]
    first = bars[0]
    assert (first.bid_open, first.bid_high, first.bid_low, first.bid_close) == (
        1.1, 1.3, 1.1, 1.2)
    assert first.spread_min == first.spread_max == 0.00002


def test_ticks_out_of_time_order_are_refused() -> None:
    late = [Tick("icm", "EURUSD", 1, T0 + 120_000, 1.1, 1.2, 0, 0, 0, 6, 0, 0),
            Tick("icm", "EURUSD", 2, T0, 1.1, 1.2, 0, 0, 0, 6, 0, 0)]
    with pytest.raises(TickError, match="out of time order"):
        list(make_bars(late, 60_000))


@pytest.mark.parametrize("text, ms", [("30s", 30_000), ("1m", 60_000), ("5m", 300_000),
                                      ("15m", 900_000), ("1h", 3_600_000), ("4h", 14_400_000),
                                      ("1d", 86_400_000), (" 2D ", 172_800_000)])
def test_widths(text: str, ms: int) -> None:
    assert parse_width(text) == ms


@pytest.mark.parametrize("text", ["", "0m", "1w", "m", "1.5h", "-1m", "1000000s"])
def test_bad_widths_name_the_flag(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_width(text)
    assert caught.value.setting == "width" and caught.value.exit_code == 2
