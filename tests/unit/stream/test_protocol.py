import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from arbitrex.errors import ProtocolError
from arbitrex.model import Gap
from arbitrex.model.tick import Tick
from arbitrex.stream.protocol import (
    Ping,
    Subscribe,
    Unsubscribe,
    gap_frame,
    parse_client_frame,
)
from arbitrex.stream.session import Decision, Session


def test_ops_parse():
    assert parse_client_frame('{"op":"ping"}') == Ping()
    assert parse_client_frame('{"op":"subscribe","symbols":["EURUSD","EURUSD"]}') == Subscribe(
        ("EURUSD",))
    op = parse_client_frame('{"op":"subscribe","symbols":["EURUSD"],"since":{"EURUSD":41,'
                            '"icm:GBPUSD":3}}')
    assert isinstance(op, Subscribe) and op.since == {"EURUSD": 41, "icm:GBPUSD": 3}
    assert parse_client_frame('{"op":"unsubscribe","symbols":[]}') == Unsubscribe(())
    assert parse_client_frame('{"op":"subscribe","symbols":["A"],"view":"best"}') == Subscribe(
        ("A",), view="best")
    assert parse_client_frame('{"op":"unsubscribe","symbols":["A"],"view":"best"}'
                              ) == Unsubscribe(("A",), "best")


@pytest.mark.parametrize("frame, code", [
    ("not json", "bad_request"),
    ("[1,2]", "bad_request"),
    ('{"op":"subscribe","symbols":"EURUSD"}', "bad_request"),
    ('{"op":"subscribe","symbols":[1]}', "bad_request"),
    ('{"op":"subscribe"}', "bad_request"),
    ('{"op":"subscribe","symbols":["EUR/USD"]}', "bad_symbol"),
    ('{"op":"subscribe","symbols":["EURUSD"],"since":{"EURUSD":-1}}', "bad_request"),
    ('{"op":"subscribe","symbols":["EURUSD"],"since":{"EURUSD":"4"}}', "bad_request"),
    ('{"op":"subscribe","symbols":["EURUSD"],"since":[1]}', "bad_request"),
    ('{"op":"subscribe","symbols":["EURUSD"],"view":"bbo"}', "bad_request"),
    ('{"op":"subscribe","symbols":["EURUSD"],"view":["best"]}', "bad_request"),
    ('{"op":"unsubscribe","symbols":["EURUSD"],"view":1}', "bad_request"),
    ('{"op":"dance"}', "unknown_op"),
    ('{"op":7}', "bad_request"),
    ('{}', "bad_request"),
    (b'{"op":"ping"}', "bad_request"),
])
def test_malformed_frames_get_the_right_code(frame, code):
    with pytest.raises(ProtocolError) as info:
        parse_client_frame(frame)
    assert info.value.code == code


def test_gap_frame_shape_and_back():
    gap = Gap("sim", "EURUSD", 3, 9, "slow_consumer")
    record = orjson.loads(gap_frame(gap))
    assert record == {"type": "gap", "symbol": "EURUSD", "venue": "sim", "from_seq": 3,
                      "to_seq": 9, "reason": "slow_consumer"}
    assert Gap.from_record(record) == gap


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


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_a_tick_framed_once_is_what_websockets_would_send(size):
    from websockets.frames import Frame, Opcode

    from arbitrex.stream.wire import text_frame

    payload = b"x" * size
    assert text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)


def test_the_latency_histogram_counts_each_tick_in_its_bucket():
    from arbitrex.stream.metrics import ServerMetrics

    m = ServerMetrics()
    now = 1_800_000_000_000_000_000
    m.observe(now // 10**6 - 3, now - 3_000_000, now)  # 3 ms
    m.observe(now // 10**6, now - 1_000_000, now)  # exactly 1 ms: in le="0.001"
    text = m.render().decode()
    assert 'arbitrex_tick_latency_seconds_bucket{le="0.0005",since="receive"} 0.0' in text
    assert 'arbitrex_tick_latency_seconds_bucket{le="0.001",since="receive"} 1.0' in text
    assert 'arbitrex_tick_latency_seconds_bucket{le="0.005",since="receive"} 2.0' in text
    assert 'arbitrex_tick_latency_seconds_bucket{le="1.0",since="receive"} 2.0' in text
    assert 'arbitrex_tick_latency_seconds_count{since="receive"} 2.0' in text
    assert 'arbitrex_tick_latency_seconds_sum{since="receive"} 0.004' in text
