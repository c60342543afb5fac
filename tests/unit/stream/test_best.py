"""The cross-venue view, held to a brute-force reference by hypothesis: ties, every venue
stale, one venue, crossed and locked markets, many venues."""

from __future__ import annotations

import json
import math

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from arbitrex.model.best import Best
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.tick import Tick
from arbitrex.stream.best import Book, consolidate, lag_ms, view_record
from tests.history import make_tick

COSTS = Costs({"a": {"*": 0.00001}, "icm": {"EURUSD": 0.00002}, "z": {"*": 1e-6}})
PRICES = st.sampled_from([1.08500, 1.08501, 1.08502, 1.08503, 1.08505, 1.08507])


def tick(venue: str, bid: float, ask: float, time_msc: int, seq: int = 1,
         recv_ms: float | None = None) -> Tick:
    recv_ns = int((time_msc if recv_ms is None else recv_ms) * 1_000_000)
    return make_tick(venue=venue, seq=seq, ms=time_msc, bid=bid, ask=ask, recv_ns=recv_ns)


@st.composite
def books(draw: st.DrawFn) -> tuple[dict[str, Tick], int]:
    names = draw(st.lists(st.sampled_from(["a", "b", "icm", "oanda", "pepper", "z", "ic", "m"]),
                          min_size=1, max_size=8, unique=True))
    latest = {}
    for name in names:
        bid = draw(PRICES)
        ask = draw(PRICES)  # may be below the bid: crossed at one venue, as feeds glitch
        latest[name] = tick(name, bid, ask, draw(st.integers(1_000, 40_000)),
                            draw(st.integers(1, 99)), draw(st.integers(0, 50_000)))
    return latest, draw(st.sampled_from([-1, 0, 5, 10_000, 30_000]))


def reference(latest: dict[str, Tick], stale_after_ms: int, costs: Costs = NO_COSTS) -> dict:
    """The view as docs/PROTOCOL.md defines it, spelled out the slow way."""
    newest = 0
    for t in latest.values():
        if t.time_msc > newest:
            newest = t.time_msc
    live = [v for v, t in latest.items() if not newest - t.time_msc > stale_after_ms]
    best_bid = best_ask = None
    for v in live:
        t = latest[v]
        if best_bid is None or t.bid > latest[best_bid].bid or (
                t.bid == latest[best_bid].bid and v < best_bid):
            best_bid = v
        if best_ask is None or t.ask < latest[best_ask].ask or (
                t.ask == latest[best_ask].ask and v < best_ask):
            best_ask = v
    edges = []
    for sell in live:
        for buy in live:
            if sell != buy:
                edge = round(latest[sell].bid - latest[buy].ask, 10)
                net = round(edge - costs.of(sell, "EURUSD") - costs.of(buy, "EURUSD"), 10)
                edges.append((net, sell, buy, edge))
    edges.sort(key=lambda e: (-e[0], e[1], e[2]))
    return {"time_msc": newest, "bid_venue": best_bid, "ask_venue": best_ask,
            "bid": latest[best_bid].bid if best_bid else None,
            "ask": latest[best_ask].ask if best_ask else None,
            "stale": sorted(set(latest) - set(live)),
            "edges": [(s, b, e) for _, s, b, e in edges],
            "nets": [(s, b, e, n) for n, s, b, e in edges]}


@given(books())
@example(({"b": tick("b", 1.1, 1.2, 5000), "a": tick("a", 1.1, 1.2, 5000)}, 10_000))  # ties
@example(({"a": tick("a", 1.1, 1.2, 5000)}, -1))  # every venue stale
@example(({"a": tick("a", 1.3, 1.31, 5000), "b": tick("b", 1.28, 1.29, 5000)}, 0))  # crossed
def test_the_view_is_the_reference(book: tuple[dict[str, Tick], int]) -> None:
    latest, stale_after_ms = book
    best = consolidate("EURUSD", latest, stale_after_ms=stale_after_ms)
    want = reference(latest, stale_after_ms)
    assert (best.time_msc, best.bid_venue, best.ask_venue, best.bid, best.ask) == (
        want["time_msc"], want["bid_venue"], want["ask_venue"], want["bid"], want["ask"])
    assert sorted(v for v, q in best.venues.items() if q.stale) == want["stale"]
    assert [(e.sell, e.buy, e.edge) for e in best.edges] == want["edges"]
    record = json.loads(best.encode())  # the frame of docs/PROTOCOL.md, plain JSON numbers
    assert record["type"] == "best" and set(record["venues"]) == set(latest)
    if best.bid_venue is None:
        assert record["bid"] is record["ask"] is record["ask_venue"] is None
    # serve encodes the record as built; a client reads it back and re-encodes it (tail):
    # the same bytes both ways, costs or none
    for costs in (NO_COSTS, COSTS):
        built = view_record("EURUSD", latest, stale_after_ms=stale_after_ms, costs=costs)
        assert orjson.dumps(built) == Best.from_record(built).encode()
        nets = reference(latest, stale_after_ms, costs)["nets"]
        assert [(e["sell"], e["buy"], e["edge"], e["net"]) for e in built["edges"]] == nets
        assert all(math.copysign(1, e[k]) == 1 for e in built["edges"] for k in ("edge", "net")
                   if e[k] == 0)  # 0.0, never -0.0
        assert {v: q["lag_ms"] for v, q in built["venues"].items()} == {
            v: lag_ms(t) for v, t in latest.items()}


def test_the_spec_example() -> None:
    latest = {"icm": tick("icm", 1.08505, 1.08507, 1763900000123, 42, 1763900000135.5),
              "pepper": tick("pepper", 1.08501, 1.08503, 1763900000101, 17, 1763900000109.1)}
    record = consolidate("EURUSD", latest).record()
    assert record["bid"] == 1.08505 and record["bid_venue"] == "icm"
    assert record["ask"] == 1.08503 and record["ask_venue"] == "pepper"
    assert record["time_msc"] == 1763900000123
    assert record["venues"]["icm"] == {"bid": 1.08505, "ask": 1.08507,
                                       "time_msc": 1763900000123, "seq": 42, "lag_ms": 12.5,
                                       "stale": False}
    assert record["edges"] == [{"sell": "icm", "buy": "pepper", "edge": 0.00002, "net": 0.00002},
                               {"sell": "pepper", "buy": "icm", "edge": -0.00006,
                                "net": -0.00006}]


def test_net_edges_are_after_both_venues_costs_and_sort_the_edges():
    """docs/PROTOCOL.md: net = edge - the sell venue's cost - the buy venue's cost; edges
    sorted by net, then sell, then buy."""
    latest = {"icm": tick("icm", 1.08505, 1.08507, 1000), "pepper": tick("pepper", 1.08501,
                                                                         1.08503, 1000),
              "oanda": tick("oanda", 1.08504, 1.08506, 1000)}
    costs = Costs({"icm": {"EURUSD": 0.00001, "*": 0.5}, "oanda": {"*": 0.00003}})
    best = consolidate("EURUSD", latest, costs=costs)
    nets = {(e.sell, e.buy): (e.edge, e.net) for e in best.edges}
    assert nets[("icm", "pepper")] == (0.00002, 0.00001)
    assert nets[("oanda", "pepper")] == (0.00001, -0.00002)
    assert [e.net for e in best.edges] == sorted((e.net for e in best.edges), reverse=True)
    assert best.top_edge == 0.00001
    plain = consolidate("EURUSD", latest)
    assert all(e.net == e.edge for e in plain.edges)


def test_a_stale_venue_leaves_the_best_and_the_edges_but_stays_listed() -> None:
    latest = {"fast": tick("fast", 1.10, 1.11, 100_000), "slow": tick("slow", 1.20, 1.21, 80_000)}
    best = consolidate("EURUSD", latest, stale_after_ms=10_000)
    assert best.venues["slow"].stale and not best.venues["fast"].stale
    assert best.bid_venue == best.ask_venue == "fast" and best.edges == ()


def test_the_book_keeps_the_latest_tick_of_each_venue_by_seq() -> None:
    book = Book(stale_after_ms=10_000)
    assert book.update([tick("a", 1.1, 1.2, 1000, seq=2), tick("a", 1.0, 1.3, 900, seq=1)]) \
        == {"EURUSD"}
    assert book.update([tick("a", 1.0, 1.3, 900, seq=1)]) == set()  # older: no change
    view = book.view("EURUSD")
    assert view is not None and view.venues["a"].seq == 2 and book.view("GBPUSD") is None
    assert lag_ms(tick("a", 1, 1, 1000, recv_ms=1012.25)) == 12.25
