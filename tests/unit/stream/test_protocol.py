import orjson
import pytest

from arbitrex.errors import ProtocolError
from arbitrex.model import Gap
from arbitrex.stream.protocol import (
    Ping,
    Subscribe,
    Unsubscribe,
    gap_frame,
    parse_client_frame,
)


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
