"""End to end: `arbitrex collect` and `arbitrex serve` as real processes, a real client."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from arbitrex.stores.sqlite import SqliteStore
from tests.conftest import log_of, wait_for
from tests.e2e.streams import (
    SYMBOLS,
    assert_contiguous,
    next_of_type,
    recv_json,
    start_collect,
    stored_count,
)


def test_snapshot_then_live_ticks_in_order_only_subscribed(arbitrex):
    start_collect(arbitrex)
    port = arbitrex.serve()
    with connect(f"ws://127.0.0.1:{port}/ws?symbols=EURUSD,USDJPY") as ws:
        assert recv_json(ws) == {"type": "subscribed", "symbols": ["EURUSD", "USDJPY"]}
        snapshots = [recv_json(ws), recv_json(ws)]
        assert {s["symbol"] for s in snapshots} == {"EURUSD", "USDJPY"}
        assert all(s["snapshot"] is True and s["venue"] == "sim" for s in snapshots)
        live = [recv_json(ws) for _ in range(150)]
    assert all(t["type"] == "tick" and "snapshot" not in t for t in live)
    assert {t["symbol"] for t in live} <= {"EURUSD", "USDJPY"}
    by_symbol = assert_contiguous(snapshots + live)
    assert set(by_symbol) == {"EURUSD", "USDJPY"}
    for t in live:
        assert set(t) == {"type", "symbol", "venue", "seq", "time_msc", "bid", "ask", "last",
                          "volume", "volume_real", "flags", "recv_ns"}
        assert t["ask"] >= t["bid"] > 0 and t["recv_ns"] // 10**6 >= t["time_msc"] - 1


def test_subscribe_op_unsubscribe_and_resume_with_since(arbitrex):
    start_collect(arbitrex)
    port = arbitrex.serve()
    url = f"ws://127.0.0.1:{port}/ws"
    with connect(url) as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": ["GBPUSD"]}))
        assert recv_json(ws)["type"] == "subscribed"
        first = [recv_json(ws) for _ in range(20)]
        ws.send(json.dumps({"op": "unsubscribe", "symbols": ["GBPUSD"]}))
        next_of_type(ws, "unsubscribed")
        ws.send(json.dumps({"op": "ping"}))
        # after the unsubscribe is acknowledged no GBPUSD tick may arrive
        assert next_of_type(ws, "pong") == {"type": "pong"}
    held = first[-1]["seq"]
    wait_for(lambda: stored_count(arbitrex, "GBPUSD") > held + 30, what="more GBPUSD ticks")
    with connect(url) as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": ["GBPUSD"], "since": {"GBPUSD": held}}))
        assert recv_json(ws) == {"type": "subscribed", "symbols": ["GBPUSD"],
                                 "recovered": {"GBPUSD": True}}
        resumed = [recv_json(ws) for _ in range(60)]
    assert resumed[0]["seq"] == held + 1
    assert_contiguous(first + resumed)


def test_malformed_frames_get_errors_and_the_connection_lives(arbitrex):
    start_collect(arbitrex)
    port = arbitrex.serve()
    url = f"ws://127.0.0.1:{port}/ws"
    with connect(url + "?symbols=EURUSD") as watcher, connect(url) as ws:
        bad = ["garbage", "[]", '{"op":"subscribe","symbols":"EURUSD"}', '{"op":"fly"}',
               '{"op":"subscribe","symbols":["../etc"]}', "\u00e9\u4e2d\U0001F600"]
        for frame in bad:
            ws.send(frame)
        ws.send(b"\x00\x01binary")
        codes = [next_of_type(ws, "error")["code"] for _ in range(len(bad) + 1)]
        assert codes == ["bad_request", "bad_request", "bad_request", "unknown_op", "bad_symbol",
                         "bad_request", "bad_request"]
        ws.send('{"op":"ping"}')
        assert recv_json(ws) == {"type": "pong"}
        # the other client kept receiving in order throughout
        ticks = [t for t in (recv_json(watcher) for _ in range(40)) if t["type"] == "tick"]
        assert_contiguous(ticks)
        ws.send("x" * (64 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as info:
            while True:
                ws.recv(timeout=10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        assert recv_json(watcher)["type"] == "tick"


def test_kill_9_of_collect_then_restart_continues_every_seq(arbitrex):
    proc = start_collect(arbitrex, 500)
    port = arbitrex.serve()
    with connect(f"ws://127.0.0.1:{port}/ws?symbols=EURUSD,GBPUSD,USDJPY") as ws:
        received = [recv_json(ws) for _ in range(50)]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        before = stored_count(arbitrex)
        start_collect(arbitrex, 500)
        wait_for(lambda: stored_count(arbitrex) > before + 50, what="ticks after restart")
        target = stored_count(arbitrex)
        while not any(t.get("symbol") == "EURUSD" and t.get("seq", 0) >= target
                      for t in received[-5:]):
            received.append(recv_json(ws))
    ticks = [t for t in received if t["type"] == "tick"]
    assert_contiguous(ticks)
    store = SqliteStore(arbitrex.workdir / "ticks.db")
    for symbol in SYMBOLS.split(","):
        seqs = [t.seq for t in store.read_after("sim", symbol, 0, 10**6)]
        assert seqs == list(range(1, len(seqs) + 1)), symbol
    store.close()


def test_sigterm_stops_collect_and_serve_with_exit_0(arbitrex):
    collect = start_collect(arbitrex)
    arbitrex.serve()
    serve = arbitrex.procs[-1]
    for proc in (collect, serve):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, log_of(proc)
    assert "stopped:" in log_of(collect)


def test_collect_duration_stops_by_itself(arbitrex):
    result = arbitrex.run("collect", "--source", "sim", "--symbols", "EURUSD", "--duration", "1")
    assert result.returncode == 0, result.stderr
    assert stored_count(arbitrex) > 10


def test_tail_json_from_the_store_and_from_the_server(arbitrex):
    start_collect(arbitrex)
    result = arbitrex.run("tail", "EURUSD", "--json", "--count", "5", timeout=30)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5 and lines[0]["snapshot"] is True
    assert_contiguous(lines)
    port = arbitrex.serve()
    result = arbitrex.run("tail", "USDJPY", "--url", f"ws://127.0.0.1:{port}/ws", "--json",
                          "--count", "8", timeout=30)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 8 and {t["symbol"] for t in lines} == {"USDJPY"}
    assert_contiguous(lines)


def http_get(port: int, path: str, headers: dict | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_http_routes(arbitrex):
    start_collect(arbitrex)
    port = arbitrex.serve()
    assert http_get(port, "/healthz")[:3:2] == (200, '{"status":"ok"}')
    status, kind, page = http_get(port, "/")
    assert status == 200 and kind.startswith("text/html") and "arbitrex" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    with connect(f"ws://127.0.0.1:{port}/ws?symbols=EURUSD") as ws:
        [recv_json(ws) for _ in range(5)]
        status, kind, metrics = http_get(port, "/metrics")
    assert status == 200 and kind.startswith("text/plain")
    assert 'arbitrex_ticks_out_total{symbol="EURUSD"}' in metrics
    assert "arbitrex_clients 1.0" in metrics
    assert 'arbitrex_tick_latency_seconds_bucket{le="0.01",since="receive"}' in metrics
    status, _, body = http_get(port, "/symbols")
    assert status == 200 and "EURUSD" in json.loads(body)["symbols"]
    assert http_get(port, "/readyz")[0] == 200
    assert http_get(port, "/nope")[0] == 404


def test_token_and_origin_are_checked_at_the_handshake(arbitrex):
    arbitrex.env["WS_TOKEN"] = "s3cret-token"
    arbitrex.env["WS_ALLOWED_ORIGINS"] = "https://desk.example"
    port = arbitrex.serve()
    url = f"ws://127.0.0.1:{port}/ws"
    attempts: list[dict[str, Any]] = [{}, {"additional_headers": {"Authorization": "Bearer no"}}]
    for kwargs in attempts:
        with pytest.raises(InvalidStatus) as info:
            connect(url, **kwargs)
        assert info.value.response.status_code == 401
    with connect(url + "?token=s3cret-token") as ws:
        ws.send('{"op":"ping"}')
        assert recv_json(ws) == {"type": "pong"}
    with connect(url, additional_headers={"Authorization": "Bearer s3cret-token"}) as ws:
        ws.send('{"op":"ping"}')
        assert recv_json(ws) == {"type": "pong"}
    with pytest.raises(InvalidStatus) as info:
        connect(url + "?token=s3cret-token", origin=Origin("http://evil.example"))
    assert info.value.response.status_code == 403
    for origin in (f"http://127.0.0.1:{port}", "https://desk.example"):
        with connect(url + "?token=s3cret-token", origin=Origin(origin)) as ws:
            ws.send('{"op":"ping"}')
            assert recv_json(ws)["type"] == "pong"


def test_port_in_use_is_a_clear_error(arbitrex):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = arbitrex.run("serve", "--port", str(port), timeout=30)
    assert result.returncode == 2  # a configuration error: no restart can cure it
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_tail_best_shows_the_cross_venue_view_from_the_store(arbitrex):
    from arbitrex.model.tick import Tick

    def quote(venue: str, seq: int, bid: float, ask: float, ms: int) -> Tick:
        return Tick(venue, "EURUSD", seq, ms, bid, ask, 0.0, 0, 0.0, 6, (ms + 12) * 10**6, ms)

    store = SqliteStore(arbitrex.workdir / "ticks.db")
    t0 = 1_800_000_000_000
    store.append([quote("icm", 0, 1.08505, 1.08507, t0), quote("pepper", 0, 1.08501, 1.08503,
                                                                 t0 - 20)])
    tail = arbitrex.start("tail", "EURUSD", "--best", "--json", "--count", "2",
                          stdout=subprocess.PIPE)
    assert tail.stdout is not None
    first = json.loads(tail.stdout.readline())  # the snapshot: tail follows from here on
    store.append([quote("oanda", 0, 1.08490, 1.08499, t0 + 5)])  # a third venue joins
    store.close()
    out, _ = tail.communicate(timeout=30)
    assert tail.returncode == 0, log_of(tail)
    second = json.loads(out)
    assert first["snapshot"] is True and set(first["venues"]) == {"icm", "pepper"}
    assert (first["bid_venue"], first["ask_venue"]) == ("icm", "pepper")
    assert first["edges"][0] == {"sell": "icm", "buy": "pepper", "edge": 0.00002,
                                 "net": 0.00002}
    assert first["venues"]["icm"]["lag_ms"] == 12.0
    assert "snapshot" not in second and set(second["venues"]) == {"icm", "pepper", "oanda"}
    assert second["ask_venue"] == "oanda" and second["edges"][0]["sell"] == "icm"


def test_costs_make_net_edges_in_tail_and_serve(arbitrex):
    """[costs.VENUE] in arbitrex.toml: every edge gains net (edge minus both venues' costs),
    the edges sorted by it, from the store (tail --best) and from serve alike."""
    from arbitrex.model.tick import Tick

    (arbitrex.workdir / "arbitrex.toml").write_text(
        '[costs.icm]\nEURUSD = 0.00001\n[costs.pepper]\n"*" = 0.00002\n')
    store = SqliteStore(arbitrex.workdir / "ticks.db")
    t0 = 1_800_000_000_000
    store.append([Tick("icm", "EURUSD", 0, t0, 1.08506, 1.08507, 0.0, 0, 0.0, 6, t0 * 10**6, t0),
                  Tick("pepper", "EURUSD", 0, t0, 1.08501, 1.08502, 0.0, 0, 0.0, 6, t0 * 10**6,
                       t0)])
    store.close()
    result = arbitrex.run("tail", "EURUSD", "--best", "--json", "--count", "1", timeout=30)
    assert result.returncode == 0, result.stderr
    edges = json.loads(result.stdout)["edges"]
    assert edges[0] == {"sell": "icm", "buy": "pepper", "edge": 0.00004, "net": 0.00001}
    assert edges[1]["net"] == round(edges[1]["edge"] - 0.00003, 10)
    port = arbitrex.serve()
    with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": ["EURUSD"], "view": "best"}))
        assert recv_json(ws)["type"] == "subscribed"
        assert recv_json(ws)["edges"] == edges

