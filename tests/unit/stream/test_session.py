"""What a subscription sends, decided without I/O: snapshots, resumes, trimmed history."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from arbitrex.errors import ProtocolError
from arbitrex.model import Gap
from arbitrex.model.tick import Tick
from arbitrex.stream.session import (
    Bounds,
    Decision,
    Session,
    resume_point,
    runs_of,
    since_of,
    whole_of,
)

E, G = ("icm", "EURUSD"), ("icm", "GBPUSD")
E2 = ("pepper", "EURUSD")


def test_without_since_every_stream_gets_its_snapshot_once() -> None:
    session = Session()
    session.subscribe(("EURUSD",))
    plan = session.plan_subscribe(["EURUSD"], [E, E2], None, {})
    assert plan.recovered is None and plan.snapshots == [E, E2] and not plan.resumes
    session.sent[E] = 7  # already delivering: no second snapshot
    assert session.plan_subscribe(["EURUSD"], [E, E2], None, {}).snapshots == [E2]


def test_since_resumes_after_it_per_venue_or_for_all_venues() -> None:
    plan = Session().plan_subscribe(
        ["EURUSD", "GBPUSD"], [E, E2, G], {"EURUSD": 5, "icm:GBPUSD": 2},
        {E: Bounds(1, 10), E2: Bounds(1, 3), G: Bounds(1, 2)})
    assert plan.resumes == [(E, 5), (G, 2)]
    assert plan.snapshots == [E2]  # the client is ahead of this stream: a snapshot instead
    assert plan.recovered == {"EURUSD": False, "GBPUSD": True}
    assert plan.gaps == []


def test_history_trimmed_is_a_gap_then_a_resume_from_the_oldest_held() -> None:
    plan = Session().plan_subscribe(["EURUSD"], [E], {"EURUSD": 3}, {E: Bounds(100, 250)})
    assert plan.gaps == [Gap(*E, 4, 99, "history_trimmed")]
    assert plan.resumes == [(E, 99)] and plan.recovered == {"EURUSD": False}


def test_a_symbol_with_nothing_stored_is_recovered_only_from_zero() -> None:
    session = Session()
    assert session.plan_subscribe(["EURUSD"], [], {"EURUSD": 0}, {}).recovered == {
        "EURUSD": True}
    assert session.plan_subscribe(["EURUSD"], [], {"EURUSD": 9}, {}).recovered == {
        "EURUSD": False}


def test_resume_point_covers_every_case() -> None:
    assert resume_point(0, Bounds(None, None)) == (True, None, None)
    assert resume_point(4, Bounds(None, None)) == (False, None, None)
    assert resume_point(11, Bounds(1, 10)) == (False, None, None)
    assert resume_point(10, Bounds(1, 10)) == (True, 10, None)
    assert resume_point(0, Bounds(1, 10)) == (True, 0, None)
    assert resume_point(0, Bounds(5, 10)) == (False, 4, Gap("", "", 1, 4, "history_trimmed"))


def test_since_of_prefers_the_venue_key() -> None:
    since = {"EURUSD": 1, "icm:EURUSD": 2}
    assert since_of(since, E) == 2 and since_of(since, E2) == 1
    assert since_of(None, E) is None and since_of({"GBPUSD": 1}, E) is None


def t(seq: int, symbol: str = "EURUSD") -> Tick:
    return Tick("sim", symbol, seq, 1, 1.0, 1.0, 0.0, 0, 0.0, 6, 1, 1)


def test_session_decisions():
    s = Session()
    assert s.decide(t(1)) is Decision.SKIP  # not subscribed
    s.subscribe(("EURUSD",))
    assert s.decide(t(5)) is Decision.SEND  # first tick of a stream
    s.mark_sent(t(5))
    assert s.decide(t(5)) is Decision.SKIP  # duplicate
    assert s.decide(t(6)) is Decision.SEND
    assert s.decide(t(8)) is Decision.CATCH_UP  # a hole: read it from the store
    s.catching_up.add(("sim", "EURUSD"))
    assert s.decide(t(9)) is Decision.SKIP
    assert s.decide(t(1, "GBPUSD")) is Decision.SKIP


def test_slow_session_keeps_only_the_latest_and_reports_the_gap():
    s = Session()
    s.subscribe(("EURUSD",))
    s.mark_sent(t(10))
    for seq in (11, 12, 13):
        s.defer(t(seq))
        assert s.decide(t(seq + 1)) is Decision.DEFER
    [(skipped, latest)] = s.take_pending()
    assert skipped == (11, 12) and latest.seq == 13
    assert s.decide(t(14)) is Decision.SEND


def test_subscription_cap():
    s = Session(max_symbols=2)
    s.subscribe(("A", "B"))
    s.subscribe(("A",))  # already held: no change
    with pytest.raises(ProtocolError) as info:
        s.subscribe(("C",))
    assert info.value.code == "too_many_symbols"
    s.unsubscribe(("A",))
    s.subscribe(("C",))
    s.subscribe(("B",), "best")  # a symbol held in both views counts once
    with pytest.raises(ProtocolError):
        s.subscribe(("D",), "best")


def test_a_session_holding_both_views_keeps_the_ticks_it_was_sent():
    s = Session()
    s.subscribe(("EURUSD", "GBPUSD"))
    s.subscribe(("EURUSD",), "best")
    assert s.both("EURUSD") and not s.both("GBPUSD")
    ticks = [t(1), t(2), t(1, "GBPUSD"), t(3)]
    s.plan(ticks)
    assert s.book.latest == {"EURUSD": {"sim": t(3)}}  # GBPUSD's view is not held
    s.defer(t(4))
    assert s.book.latest["EURUSD"]["sim"] == t(3)  # held back is not sent
    s.unsubscribe(("EURUSD",), "best")
    assert s.book.latest == {} and s.symbols == {"EURUSD", "GBPUSD"}


def test_a_dispatch_is_planned_at_once():
    s = Session()
    s.subscribe(("EURUSD",))
    s.mark_sent(t(4))
    ticks = [t(5), t(1, "GBPUSD"), t(6), t(9), t(10)]
    send, behind, held = s.plan(ticks)
    assert send == [0, 2] and s.sent[("sim", "EURUSD")] == 6
    assert behind == [("sim", "EURUSD")] and held == 0  # 7-8 missing: 9 and 10 come from the store
    assert s.plan([t(11)]) == ([], [], 0)  # still catching up


def test_a_client_over_its_bound_has_its_ticks_held():
    s = Session()
    s.subscribe(("EURUSD",))
    s.mark_sent(t(4))
    assert s.plan([t(5), t(6)], hold=True) == ([], [], 2)
    [(skipped, latest)] = s.take_pending()
    assert skipped == (5, 5) and latest.seq == 6


def _plan_tick_by_tick(s: Session, ticks, hold):
    """The reference: every tick decided on its own, in store order."""
    send, behind, held = [], [], 0
    for i, tick in enumerate(ticks):
        decision = s.decide(tick)
        if decision is Decision.SEND and not hold:
            s.mark_sent(tick)
            send.append(i)
        elif decision is Decision.CATCH_UP:
            behind.append(tick.key)
            s.catching_up.add(tick.key)
        elif decision is not Decision.SKIP:
            s.defer(tick)
            held += 1
    return send, behind, held


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(1, 5)),
                         max_size=12), min_size=1, max_size=4),
       st.lists(st.booleans(), min_size=4, max_size=4),
       st.dictionaries(st.sampled_from(["A", "B"]), st.integers(0, 3)))
@example([[("A", 1), ("B", 1), ("A", 2)]], [False] * 4, {})  # streams interleaved
def test_planning_run_by_run_decides_as_tick_by_tick(dispatches, holds, sent):
    """Runs of consecutive seqs are a shortcut: whatever the ticks (gaps, repeats,
    streams interleaved, a client held), the plan and the session's state are those of
    deciding every tick on its own."""
    fast, slow = Session(), Session()
    for s in (fast, slow):
        s.subscribe(("A", "B"))
        for symbol, seq in sent.items():
            s.sent[("sim", symbol)] = seq
    for dispatch, hold in zip(dispatches, holds[:len(dispatches)], strict=True):
        ticks = [t(seq, symbol) for symbol, seq in dispatch]
        assert fast.plan(ticks, hold=hold) == _plan_tick_by_tick(slow, ticks, hold)
        assert (fast.sent, fast.pending, fast.catching_up) == \
            (slow.sent, slow.pending, slow.catching_up)



@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(1, 5)),
                         max_size=12), min_size=1, max_size=4),
       st.lists(st.booleans(), min_size=4, max_size=4),
       st.dictionaries(st.sampled_from(["A", "B"]), st.integers(0, 3)),
       st.sampled_from([("A", "B"), ("A", "B", "C")]),
       st.sampled_from([(), ("A",), ("A", "B")]))
@example([[("A", 1), ("B", 1), ("A", 2)]], [False] * 4, {}, ("A", "B", "C"), ())
@example([[("A", 1), ("A", 2)], [("A", 3), ("B", 1)]], [False] * 4, {}, ("A", "B"), ("A",))
def test_a_whole_dispatch_taken_at_once_is_what_deciding_each_tick_gives(
        dispatches, holds, sent, symbols, both):
    """The in-step shortcut (``take_whole``): taken, the session sends every tick and ends
    as deciding every tick would leave it (the book of the symbols held in both views
    too); refused, the session is unchanged."""
    fast, slow = Session(), Session()
    for s in (fast, slow):
        s.subscribe(symbols)
        s.subscribe(both, "best")
        for symbol, seq in sent.items():
            s.sent[("sim", symbol)] = seq
    for dispatch, hold in zip(dispatches, holds[:len(dispatches)], strict=True):
        ticks = [t(seq, symbol) for symbol, seq in dispatch]
        expected = _plan_tick_by_tick(slow, ticks, hold)
        whole = whole_of(runs_of(ticks), ticks)
        before = (dict(fast.sent), dict(fast.pending), set(fast.catching_up))
        if whole is not None and not hold and fast.take_whole(whole):
            assert expected == (list(range(len(ticks))), [], 0)
        else:
            assert (fast.sent, fast.pending, fast.catching_up) == before
            assert fast.plan(ticks, hold=hold) == expected
        assert (fast.sent, fast.pending, fast.catching_up, fast.book.latest) == \
            (slow.sent, slow.pending, slow.catching_up, slow.book.latest)


def test_a_session_in_step_takes_each_dispatch_whole():
    s = Session()
    s.subscribe(("A", "B"))
    first = [t(1, "A"), t(1, "B"), t(2, "A")]
    whole = whole_of(runs_of(first), first)
    assert whole is not None and s.take_whole(whole)  # nothing sent yet: all of it is next
    assert s.sent == {("sim", "A"): 2, ("sim", "B"): 1}
    second = [t(3, "A"), t(2, "B")]
    later = whole_of(runs_of(second), second)
    assert later is not None and s.take_whole(later)
    ahead = [t(5, "A")]
    gap = whole_of(runs_of(ahead), ahead)  # seq 4 missing: plan it (a catch-up)
    assert gap is not None and not s.take_whole(gap)
    s.best.add("A")  # both views of a symbol: its book gets the newest tick sent
    next_one = [t(4, "A")]
    again = whole_of(runs_of(next_one), next_one)
    assert again is not None and s.take_whole(again)
    assert s.book.latest["A"]["sim"] is next_one[0]
