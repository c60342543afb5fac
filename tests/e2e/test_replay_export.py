"""export and replay: round trips, MT5 exports, speed control, bad files, the replay server."""

from __future__ import annotations

import codecs
import json
import sys
from datetime import datetime, timezone

import pytest
from websockets.sync.client import connect

from arbitrex import formats
from arbitrex import replay as rp
from arbitrex.clock import BrokerClock
from arbitrex.errors import SourceUnavailable, TickError
from arbitrex.sources.sim import SimModel
from arbitrex.stores.memory import MemoryStore
from arbitrex.stores.sqlite import SqliteStore
from arbitrex.tick import Tick, to_record
from tests.conftest import free_port, log_of, port_open, wait_for
from tests.test_e2e import assert_contiguous, recv_json

T0 = 1_800_000_000_000


def fill(path, n: int = 3000) -> SqliteStore:
    """A store with n simulated ticks over three symbols, bursts included."""
    store = SqliteStore(path)
    model = SimModel(["EURUSD", "USDJPY", "XAUUSD"], seed=5)
    ticks = []
    for i in range(n):
        symbol, bid, ask, flags, burst = next(model)
        ms = T0 + i * 7 - (7 if burst else 0)
        ticks.append(Tick("sim", symbol, 0, ms, bid, ask, 0.0, 2**40 + i, 0.5, flags,
                          ms * 10**6 + 123, ms))
    store.append(ticks)
    return store


def records(ticks) -> list[dict]:
    return [to_record(t) for t in ticks]


@pytest.mark.parametrize("fmt, suffix", [("ndjson", ".ndjson"), ("csv", ".csv"),
                                         ("parquet", ".parquet")])
def test_every_format_reads_back_identically(tmp_path, fmt, suffix):
    store = fill(tmp_path / "a.db")
    path = tmp_path / f"out{suffix}"
    written = formats.write(store.iter_range(chunk=500), path, fmt)
    assert written == 3000
    assert records(formats.read(path)) == records(store.iter_range())


def test_round_trip_through_the_commands_is_byte_identical(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db").close()  # the runner's store
    env = arbitrex.env
    assert arbitrex.run("export", "--out", "f1.ndjson").returncode == 0
    env["SQLITE_PATH"] = str(tmp_path / "b.db")
    result = arbitrex.run("replay", "f1.ndjson", "--speed", "max", "--into-store")
    assert result.returncode == 0, result.stderr
    assert arbitrex.run("export", "--out", "f2.ndjson").returncode == 0
    assert arbitrex.run("replay", "f2.ndjson", "--speed", "max", "--into-store").returncode == 0
    assert arbitrex.run("export", "--out", "f2b.ndjson").returncode == 0  # idempotent
    env["SQLITE_PATH"] = str(tmp_path / "c.db")
    assert arbitrex.run("replay", "f2.ndjson", "--speed", "max", "--into-store").returncode == 0
    assert arbitrex.run("export", "--out", "f3.ndjson").returncode == 0
    f1, f2, f2b, f3 = ((tmp_path / f).read_bytes() for f in ("f1.ndjson", "f2.ndjson",
                                                              "f2b.ndjson", "f3.ndjson"))
    assert f2 == f3 == f2b
    # the first trip only moved the ticks under venue "replay": every other byte is the same
    assert f1.replace(b'"venue":"sim"', b'"venue":"replay"') == f2


def test_export_filters_and_is_quiet_off_a_terminal(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db").close()
    result = arbitrex.run("export", "--out", "x.csv", "--symbols", "EURUSD", "--from",
                          "2027-01-15T08:00:00Z", "--to", "2027-01-15T08:00:10Z")
    assert result.returncode == 0 and result.stdout == ""
    ticks = list(formats.read(tmp_path / "x.csv"))
    assert ticks and {t.symbol for t in ticks} == {"EURUSD"}
    assert all(T0 + 0 <= t.time_msc < T0 + 10_000 for t in ticks)  # 2027-01-15T08:00:00Z = T0


def write_mt5_export(path, encoding: str = "utf-16") -> None:
    lines = ["<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>",
             "2026.11.20\t09:30:00.125\t1.08501\t1.08503\t\t\t6",
             "2026.11.20\t09:30:00.125\t1.08502\t\t\t\t2",   # same ms; ask unchanged
             "2026.11.20\t09:30:01.000\t\t1.08507\t\t\t4",   # bid unchanged
             "2026.11.20\t09:30:02.500\t1.08499\t1.08505\t1.085\t3\t134"]
    text = "\r\n".join(lines) + "\r\n"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le") if encoding == "utf-16"
                     else text.encode())


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_mt5_export_is_read_with_broker_time_and_unchanged_cells(tmp_path, encoding):
    path = tmp_path / "EURUSD_ticks.csv"
    write_mt5_export(path, encoding)
    assert formats.guess_format(path) == "mt5"
    ticks = list(formats.read(path, symbols=("EURUSD",), clock=BrokerClock("+02:00")))
    assert [(t.seq, t.bid, t.ask, t.last, t.volume, t.flags) for t in ticks] == [
        (1, 1.08501, 1.08503, 0.0, 0, 6), (2, 1.08502, 1.08503, 0.0, 0, 2),
        (3, 1.08502, 1.08507, 0.0, 0, 4), (4, 1.08499, 1.08505, 1.085, 3, 134)]
    wall = int(datetime(2026, 11, 20, 9, 30, 0, 125000, tzinfo=timezone.utc).timestamp() * 1000)
    assert ticks[0].broker_msc == wall and ticks[0].time_msc == wall - 7_200_000
    assert ticks[0].time_msc == ticks[1].time_msc


def test_mt5_export_needs_its_symbol(arbitrex, tmp_path):
    write_mt5_export(tmp_path / "ticks.csv")
    result = arbitrex.run("replay", "ticks.csv", "--into-store", "--speed", "max")
    assert result.returncode == 2 and "--symbols" in result.stderr
    result = arbitrex.run("replay", "ticks.csv", "--into-store", "--speed", "max", "--symbols",
                          "EURUSD")
    assert result.returncode == 0, result.stderr
    store = SqliteStore(tmp_path / "ticks.db")
    assert [t.seq for t in store.read_after("replay", "EURUSD", 0, 100)] == [1, 2, 3, 4]


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


def test_bad_file_through_the_command_is_one_clear_line(arbitrex, tmp_path):
    (tmp_path / "t.ndjson").write_bytes(b'{"symbol":"EURUSD","time_msc":1,"bid":1}\n')
    result = arbitrex.run("replay", "t.ndjson", "--into-store")
    assert result.returncode == 1
    assert "t.ndjson:1: tick record lacks ask" in result.stderr
    assert "Traceback" not in result.stderr


def test_parquet_without_pyarrow_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(SourceUnavailable, match=r"pip install 'arbitrex\[parquet\]'"):
        formats.write([], tmp_path / "x.parquet", "parquet")


# Speed control, on an injected clock


def ticks_at(*offsets_ms: int) -> list[Tick]:
    return [Tick("sim", "EURUSD", i + 1, T0 + ms, 1.0, 1.1, 0.0, 0, 0.0, 6, 0, T0 + ms)
            for i, ms in enumerate(offsets_ms)]


def test_schedule_scales_the_original_spacing():
    ticks = ticks_at(0, 0, 1000, 1500, 4000)
    assert [(at, len(b)) for at, b in rp.schedule(ticks, speed=1)] == [
        (0.0, 2), (1.0, 1), (1.5, 1), (4.0, 1)]
    assert [at for at, _ in rp.schedule(ticks, speed=10)] == [0.0, 0.1, 0.15, 0.4]
    assert [len(b) for _, b in rp.schedule(ticks, speed=None, max_batch=2)] == [2, 2, 1]


def test_into_store_waits_on_the_clock_it_is_given(tmp_path):
    class Clock:
        now = 100.0

        def __call__(self) -> float:
            return self.now

        def sleep(self, s: float) -> None:
            self.sleeps.append(round(s, 6))
            self.now += s

    clock = Clock()
    clock.sleeps = []
    store = SqliteStore(tmp_path / "r.db")
    plan = rp.schedule(ticks_at(0, 200, 200, 3000), speed=2)
    assert rp.into_store(plan, store, clock=clock, sleep=clock.sleep) == 4
    assert clock.sleeps == [0.1, 1.4]  # 200 ms and 3000 ms at 2x
    assert [t.venue for t in store.read_after("replay", "EURUSD", 0, 10)] == ["replay"] * 4


def test_merge_is_deterministic_by_time_then_seq(tmp_path):
    store = fill(tmp_path / "a.db", 600)
    merged = list(rp.from_store(store, symbols=(), from_msc=0, to_msc=2**62))
    assert [rp.order_key(t) for t in merged] == sorted(rp.order_key(t) for t in merged)
    assert len(merged) == 600
    memory = MemoryStore()
    memory.add(merged)
    assert memory.read_after("sim", "EURUSD", 3, 2)[0].seq == 4


def test_replay_server_streams_marked_frames_and_keeps_serving(arbitrex, tmp_path):
    store = fill(tmp_path / "a.db", 2000)
    formats.write(store.iter_range(), tmp_path / "day.ndjson", "ndjson")
    port = free_port()
    proc = arbitrex.start("replay", "day.ndjson", "--speed", "max", "--port", str(port))
    wait_for(lambda: port_open(port) or proc.poll() is not None, what="replay to listen")
    wait_for(lambda: "still serving" in log_of(proc), what="the replay to end")
    with connect(f"ws://127.0.0.1:{port}/ws") as ws:  # a late client resumes from the start
        ws.send(json.dumps({"op": "subscribe", "symbols": ["EURUSD", "XAUUSD"], "batch": True,
                            "since": {"EURUSD": 0, "XAUUSD": 0}}))
        assert recv_json(ws)["recovered"] == {"EURUSD": True, "XAUUSD": True}
        got: list[dict] = []
        want = sum(1 for t in store.iter_range() if t.symbol in ("EURUSD", "XAUUSD"))
        while len(got) < want:
            m = recv_json(ws)
            got.extend(m["data"] if m["type"] == "ticks" else [m])
    assert all(t["replay"] is True for t in got)
    assert_contiguous(got)
    original = {(t.symbol, t.seq): to_record(t) for t in store.iter_range()}
    for t in got:
        assert {k: v for k, v in t.items() if k != "replay"} == original[(t["symbol"], t["seq"])]
    assert proc.poll() is None  # still serving after the data ended


def test_replay_at_speed_keeps_the_spacing(arbitrex, tmp_path):
    store = SqliteStore(tmp_path / "ticks.db")
    store.append(ticks_at(0, 500, 1000, 1500, 2000))
    store.close()
    port = free_port()
    arbitrex.start("replay", "--speed", "2", "--port", str(port))
    wait_for(lambda: port_open(port), what="replay to listen")
    with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": ["EURUSD"], "since": {"EURUSD": 0}}))
        recv_json(ws)
        seqs = [recv_json(ws)["seq"] for _ in range(5)]
    assert seqs == [1, 2, 3, 4, 5]


def test_collect_from_a_file_once_under_its_own_venue(arbitrex, tmp_path):
    store = fill(tmp_path / "src.db", 2500)
    formats.write(store.iter_range(), tmp_path / "day-1.ndjson", "ndjson")
    for _ in range(2):  # the second run finds everything stored and adds nothing
        result = arbitrex.run("collect", "--source", "file", "--file", "day-1.ndjson")
        assert result.returncode == 0, result.stderr
    target = SqliteStore(tmp_path / "ticks.db")
    for symbol in ("EURUSD", "USDJPY", "XAUUSD"):
        got = target.read_after("day-1", symbol, 0, 10**6)
        want = [t for t in store.iter_range() if t.symbol == symbol]
        assert [t.seq for t in got] == list(range(1, len(want) + 1))
        assert [(t.time_msc, t.bid, t.ask) for t in got] == [(t.time_msc, t.bid, t.ask)
                                                             for t in want]
    write_mt5_export(tmp_path / "EURUSD.tsv")
    result = arbitrex.run("collect", "--source", "file", "--file", "EURUSD.tsv", "--symbols",
                          "EURUSD")
    assert result.returncode == 0, result.stderr
    assert len(target.read_after("EURUSD", "EURUSD", 0, 100)) == 4
    result = arbitrex.run("collect", "--source", "file")
    assert result.returncode == 2 and "--file PATH" in result.stderr
