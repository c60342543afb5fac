import math

import numpy as np
import orjson
import pytest

from arbitrex.errors import TickError
from arbitrex.model.tick import (
    MT5_TICK_DTYPE,
    RECORD_FIELDS,
    STORED_FIELDS,
    Tick,
    decode,
    digits_of,
    encode,
    from_mt5_rows,
    from_record,
    latest_run,
    to_record,
    validate,
)


def mt5_rows(n: int = 3) -> np.ndarray:
    rows = np.zeros(n, dtype=MT5_TICK_DTYPE)
    for i in range(n):
        rows[i] = (1763900000, 1.08501 + i * 1e-5, 1.08503 + i * 1e-5, 0.0, 2**40 + i,
                   1763900000123 + i // 2, 134, 1.5)
    return rows


def test_numpy_rows_become_plain_python_values():
    ticks = from_mt5_rows(mt5_rows(), venue="icm", symbol="EURUSD", recv_ns=5)
    assert len(ticks) == 3
    for tick in ticks:
        for value in tick:
            assert type(value) in (str, int, float), (value, type(value))
    # uint64 volume and undocumented flag bits survive, and JSON encodes without numpy help
    record = orjson.loads(encode(ticks[0]))
    assert record["volume"] == 2**40 and record["flags"] == 134


def test_record_has_the_spec_fields_in_order():
    tick = Tick("sim", "EURUSD", 42, 1763900000123, 1.08501, 1.08503, 0.0, 0, 0.0, 6,
                1763900000125400000, 1763900000123)
    assert list(to_record(tick)) == ["type", "symbol", "venue", "seq", "time_msc", "bid", "ask",
                                     "last", "volume", "volume_real", "flags", "recv_ns"]
    assert orjson.loads(encode(tick, snapshot=True))["snapshot"] is True
    assert decode(encode(tick)) == tick


def test_broker_time_is_converted_and_kept():
    ticks = from_mt5_rows(mt5_rows(1), venue="v", symbol="EURUSD", recv_ns=1,
                          to_utc_msc=lambda ms: ms - 7_200_000)
    assert ticks[0].time_msc == 1763900000123 - 7_200_000
    assert ticks[0].broker_msc == 1763900000123


def test_numpy_scalars_in_records_become_python_numbers():
    record = {"symbol": "EURUSD", "time_msc": np.int64(5), "bid": np.float64(1.1),
              "ask": np.float32(1.25), "volume": np.uint64(2**63 - 1), "flags": np.uint32(134)}
    tick = from_record(record)
    assert type(tick.time_msc) is int and type(tick.volume) is int and type(tick.ask) is float
    assert orjson.loads(encode(tick))["volume"] == 2**63 - 1


@pytest.mark.parametrize("change, message", [
    ({"symbol": "EUR/USD"}, "invalid symbol"),
    ({"symbol": ""}, "invalid symbol"),
    ({"bid": math.nan}, "bid"),
    ({"ask": -1.0}, "ask"),
    ({"time_msc": 0}, "time_msc"),
    ({"volume": 2**64 - 1}, "volume"),
])
def test_validation_names_the_problem(change, message):
    tick = Tick("sim", "EURUSD", 1, 1, 1.0, 1.0, 0.0, 0, 0.0, 6, 1, 1)._replace(**change)
    with pytest.raises(TickError, match=message):
        validate(tick)


def test_decode_reports_bad_json_and_missing_fields():
    with pytest.raises(TickError, match="not valid JSON"):
        decode(b"{nope")
    with pytest.raises(TickError, match="lacks"):
        decode(b'{"symbol": "EURUSD"}')
    with pytest.raises(TickError, match="must be a number"):
        decode(b'{"symbol":"EURUSD","time_msc":"1","bid":1,"ask":1}')


@pytest.mark.parametrize("price, digits", [(1.08501, 5), (150.123, 3), (2000.5, 1), (2000.0, 0),
                                           (1.1, 1)])
def test_digits_of(price, digits):
    assert digits_of(price) == digits


def test_the_wire_record_has_the_spec_fields_in_order():
    tick = Tick("sim", "EURUSD", 3, 1, 1.1, 1.2, 0.0, 0, 0.0, 6, 9, 1)
    assert list(to_record(tick)) == ["type", *RECORD_FIELDS]
    assert list(to_record(tick, snapshot=True))[-1] == "snapshot"


def test_latest_run_counts_the_ticks_sharing_the_newest_millisecond():
    assert latest_run([]) == (0, 0)
    assert latest_run([5]) == (5, 1)
    assert latest_run([9, 9, 9, 8, 9]) == (9, 3)  # newest first: only the leading run counts
    assert latest_run(iter([7, 6])) == (7, 1)


def test_the_stored_row_is_the_tick_and_the_redis_entry_the_record_plus_broker_clock():
    from arbitrex.stores.redis import FIELDS
    from arbitrex.stores.sqlite import COLUMNS

    assert STORED_FIELDS == Tick._fields and COLUMNS == ", ".join(Tick._fields)
    assert FIELDS == (*RECORD_FIELDS, "broker_msc")
    assert set(RECORD_FIELDS) | {"broker_msc"} == set(STORED_FIELDS)
