"""export and replay: round trips, MT5 exports, speed control, bad files, the replay server."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbitrex import formats
from arbitrex.clock import BrokerClock
from arbitrex.errors import MissingPackage, TickError
from tests.history import fill, records, write_mt5_export


@pytest.mark.parametrize("fmt, suffix", [("ndjson", ".ndjson"), ("csv", ".csv"),
                                         ("parquet", ".parquet")])
def test_every_format_reads_back_identically(tmp_path, fmt, suffix):
    store = fill(tmp_path / "a.db")
    path = tmp_path / f"out{suffix}"
    written = formats.write(store.iter_range(chunk=500), path, fmt)
    assert written == 3000
    assert records(formats.read(path)) == records(store.iter_range())


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
@pytest.mark.parametrize("zone", ["+02:00", "America/New_York+07:00"])  # 2026-11-20: both +2
def test_mt5_export_is_read_with_broker_time_and_unchanged_cells(tmp_path, encoding, zone):
    path = tmp_path / "EURUSD_ticks.csv"
    write_mt5_export(path, encoding)
    assert formats.guess_format(path) == "mt5"
    ticks = list(formats.read(path, symbols=("EURUSD",), clock=BrokerClock(zone)))
    assert [(t.seq, t.bid, t.ask, t.last, t.volume, t.flags) for t in ticks] == [
        (1, 1.08501, 1.08503, 0.0, 0, 6), (2, 1.08502, 1.08503, 0.0, 0, 2),
        (3, 1.08502, 1.08507, 0.0, 0, 4), (4, 1.08499, 1.08505, 1.085, 3, 134)]
    wall = int(datetime(2026, 11, 20, 9, 30, 0, 125000, tzinfo=timezone.utc).timestamp() * 1000)
    assert ticks[0].broker_msc == wall and ticks[0].time_msc == wall - 7_200_000
    assert ticks[0].time_msc == ticks[1].time_msc


@pytest.mark.parametrize("name, content, words", [
    ("t.ndjson", b'{"type":"tick","symbol":"EURUSD","time_msc":1,"bid":1,"ask":1}\n{"type":"ti',
     "t.ndjson:2: not valid JSON"),
    ("t.csv", b"symbol,time_msc,bid,ask,colour\nEURUSD,1,1,1,red\n", "t.csv:1: unknown column"),
    ("t.csv", b"symbol,time_msc,bid,ask\nEURUSD,1,1,1\nEURUSD,2,1\n", "t.csv:3: 3 cells"),
    ("t.csv", b"symbol,time_msc,bid,ask\nEUR\xe9USD,1,1,1\n", "t.csv:2: not UTF-8"),
    ("m.txt", "<DATE>\t<TIME>\t<BID>\t<PRICE>\n".encode("utf-16"), "m.txt:1: unknown column"),
    ("m.txt", b"<DATE>\t<TIME>\t<BID>\t<ASK>\n2026.13.01\t00:00:00\t1\t1\n",
     "m.txt:2:"),
])
def test_bad_files_name_the_line(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TickError, match=words.replace(".", r"\.")):
        list(formats.read(path, symbols=("EURUSD",)))


def test_parquet_without_pyarrow_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingPackage, match=r"pip install 'arbitrex\[parquet\]'") as caught:
        formats.write([], tmp_path / "x.parquet", "parquet")
    assert caught.value.exit_code == 2 and caught.value.package == "pyarrow"


# Speed control, on an injected clock




@given(st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_csv_writes_plain_decimals_that_read_back_exactly(value):
    from arbitrex.formats.csvfile import plain

    text = plain(value)
    assert "e" not in text.lower() and float(text) == value


def test_csv_bars_and_ticks_have_no_exponent(tmp_path):
    from arbitrex.bars import make_bars
    from arbitrex.model.tick import Tick

    ticks = [Tick("icm", "EURUSD", i + 1, 1_800_000_000_000 + i, 1.08501, 1.08503, 0.0, 0,
                  0.0, 6, 0, 0) for i in range(3)]
    formats.write(ticks, tmp_path / "t.csv", "csv")
    formats.write_bars(make_bars(ticks, 60_000), tmp_path / "b.csv", "csv")
    for name in ("t.csv", "b.csv"):
        text = (tmp_path / name).read_text()
        assert "e-" not in text, text
    assert ",0.00002" in (tmp_path / "b.csv").read_text()
