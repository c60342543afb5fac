"""What a subscription sends, decided without I/O: snapshots, resumes, trimmed history."""

from __future__ import annotations

from arbitrex.model import Gap
from arbitrex.stream.session import Bounds, Session, resume_point, since_of

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
