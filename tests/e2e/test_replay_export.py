"""export and replay: round trips, MT5 exports, speed control, bad files, the replay server."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from arbitrex import formats
from arbitrex.model.tick import to_record
from arbitrex.stores.sqlite import SqliteStore
from tests.conftest import free_port, log_of, port_open, wait_for
from tests.e2e.streams import assert_contiguous, recv_json
from tests.history import T0, fill, ticks_at, write_mt5_export


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
    # the first trip only moved the ticks under venue "replay.sim": every other byte is the same
    assert f1.replace(b'"venue":"sim"', b'"venue":"replay.sim"') == f2


def test_replay_into_store_keeps_every_broker(arbitrex, tmp_path):
    """Three brokers exported to Parquet and replayed into a new store: every tick kept,
    each broker under replay.VENUE with its seq; a rerun adds nothing (exit 0); an input
    whose ticks one stream cannot all keep says so and exits 1."""
    store = SqliteStore(tmp_path / "ticks.db")
    for venue in ("icm", "pepper", "oanda"):
        store.append([t._replace(venue=venue, seq=0) for t in ticks_at(*range(0, 3000, 3))])
    store.close()
    assert arbitrex.run("export", "--out", "e.parquet", "--symbols", "EURUSD").returncode == 0
    arbitrex.env["SQLITE_PATH"] = str(tmp_path / "r.db")
    for _ in range(2):
        result = arbitrex.run("replay", "e.parquet", "--speed", "max", "--into-store")
        assert result.returncode == 0, result.stderr
    replayed = SqliteStore(tmp_path / "r.db")
    for venue in ("icm", "pepper", "oanda"):
        assert [t.seq for t in replayed.read_after(f"replay.{venue}", "EURUSD", 0, 2000)] \
            == list(range(1, 1001))
    assert replayed.count_range() == 3000
    assert "3000 of 3000 ticks" in result.stderr and "3000 already there" in result.stderr
    clash = [to_record(t) for t in ticks_at(0, 5)]
    clash[1]["seq"] = 1  # two ticks of one stream with one seq
    (tmp_path / "clash.ndjson").write_text("".join(json.dumps(r) + "\n" for r in clash))
    result = arbitrex.run("replay", "clash.ndjson", "--speed", "max", "--into-store")
    assert result.returncode == 1
    assert "1 of the 2 ticks read were not stored" in result.stderr


def test_export_filters_and_is_quiet_off_a_terminal(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db").close()
    result = arbitrex.run("export", "--out", "x.csv", "--symbols", "EURUSD", "--from",
                          "2027-01-15T08:00:00Z", "--to", "2027-01-15T08:00:10Z")
    assert result.returncode == 0 and result.stdout == ""
    ticks = list(formats.read(tmp_path / "x.csv"))
    assert ticks and {t.symbol for t in ticks} == {"EURUSD"}
    assert all(T0 + 0 <= t.time_msc < T0 + 10_000 for t in ticks)  # 2027-01-15T08:00:00Z = T0


def test_mt5_export_needs_its_symbol(arbitrex, tmp_path):
    write_mt5_export(tmp_path / "ticks.csv")
    result = arbitrex.run("replay", "ticks.csv", "--into-store", "--speed", "max")
    assert result.returncode == 2 and "--symbols" in result.stderr
    result = arbitrex.run("replay", "ticks.csv", "--into-store", "--speed", "max", "--symbols",
                          "EURUSD")
    assert result.returncode == 0, result.stderr
    store = SqliteStore(tmp_path / "ticks.db")
    assert [t.seq for t in store.read_after("replay", "EURUSD", 0, 100)] == [1, 2, 3, 4]


def test_bad_file_through_the_command_is_one_clear_line(arbitrex, tmp_path):
    (tmp_path / "t.ndjson").write_bytes(b'{"symbol":"EURUSD","time_msc":1,"bid":1}\n')
    result = arbitrex.run("replay", "t.ndjson", "--into-store")
    assert result.returncode == 1
    assert "t.ndjson:1: tick record lacks ask" in result.stderr
    assert "Traceback" not in result.stderr


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
    assert result.returncode == 2 and "--file: the file source needs the file" in result.stderr


def test_export_bars_in_every_format_match_duckdb_over_the_ticks(arbitrex, tmp_path):
    duckdb = __import__("pytest").importorskip("duckdb")
    fill(tmp_path / "ticks.db", 6000).close()
    assert arbitrex.run("export", "--out", "ticks.parquet").returncode == 0
    for out in ("bars.ndjson", "bars.csv", "bars.parquet"):
        result = arbitrex.run("export", "--out", out, "--bars", "5s")
        assert result.returncode == 0, result.stderr
    ndjson = [json.loads(line) for line in (tmp_path / "bars.ndjson").read_text().splitlines()]
    assert ndjson and all(b["type"] == "bar" and b["width_ms"] == 5000 for b in ndjson)
    rows = [tuple(b[k] for k in list(b)[1:]) for b in ndjson]
    con = duckdb.connect()
    assert con.execute(f"SELECT * FROM read_csv_auto('{tmp_path / 'bars.csv'}')").fetchall() \
        == rows
    assert con.execute(f"SELECT * FROM '{tmp_path / 'bars.parquet'}'").fetchall() == rows
    # the same bars computed by DuckDB from the exported ticks
    expected = con.execute(f"""
        SELECT venue, symbol, time_msc - time_msc % 5000 AS start_msc, 5000, count(*),
               arg_min(bid, (time_msc, seq)), max(bid), min(bid), arg_max(bid, (time_msc, seq)),
               arg_min(ask, (time_msc, seq)), max(ask), min(ask), arg_max(ask, (time_msc, seq)),
               min(round(ask - bid, 10)), max(round(ask - bid, 10))
        FROM '{tmp_path / 'ticks.parquet'}' GROUP BY ALL ORDER BY start_msc, venue, symbol
    """).fetchall()
    assert rows == expected
    # bars of a file, and a bad width
    result = arbitrex.run("export", "ticks.parquet", "--out", "again.ndjson", "--bars", "5s")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "again.ndjson").read_text() == (tmp_path / "bars.ndjson").read_text()
    result = arbitrex.run("export", "--out", "x.csv", "--bars", "5 minutes")
    assert result.returncode == 2 and "--bars" in result.stderr
