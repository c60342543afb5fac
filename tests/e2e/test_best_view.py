"""The cross-venue view end to end: three simulated brokers collected, served, followed by
`tail --best --url`, and `replay --port` serving the same view from the replayed ticks."""

from __future__ import annotations

import json
import subprocess
import urllib.request

from websockets.sync.client import connect

from arbitrex.model.tick import Tick, from_record
from arbitrex.stores.sqlite import SqliteStore
from arbitrex.stream.best import consolidate
from tests.conftest import free_port, log_of, port_open, wait_for
from tests.e2e.streams import last_seq, recv_json

VENUES = ("icm", "oanda", "pepper")


def stored(runner, venue: str, symbol: str = "EURUSD") -> int:
    return last_seq(runner.workdir / "ticks.db", venue, symbol)


def collect_three(arbitrex, *, rate: int = 100, at_least: int = 3, timeout: float = 30):
    """collect of three simulated brokers, once each has stored more than ``at_least``."""
    proc = arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD,GBPUSD",
                          "--venues", ",".join(VENUES), "--rate", str(rate))
    wait_for(lambda: all(stored(arbitrex, v) > at_least for v in VENUES)
             or proc.poll() is not None, what="ticks of three venues", timeout=timeout)
    assert proc.poll() is None, log_of(proc)
    return proc


def follow_both(ws, frames: int | None) -> tuple[list[dict], int]:
    """Frames of a connection holding both views (``frames`` of them, or until none comes
    for a second); each best frame is checked against the ticks received before it.
    Returns (frames, views checked)."""
    latest: dict[str, dict[str, Tick]] = {}
    got: list[dict] = []
    checked = 0
    while frames is None or len(got) < frames:
        try:
            frame = recv_json(ws, timeout=10 if frames else 1)
        except TimeoutError:
            break
        got.append(frame)
        if frame["type"] == "tick":
            tick = from_record(frame)
            latest.setdefault(tick.symbol, {})[tick.venue] = tick
        elif frame["type"] == "best":
            expected = consolidate(frame["symbol"], latest[frame["symbol"]])
            extra = {"snapshot": True} if frame.get("snapshot") else {}
            assert frame == json.loads(expected.encode(**extra))
            checked += 1
    return got, checked


def test_three_brokers_served_and_tailed(arbitrex):
    collect = collect_three(arbitrex)
    port = arbitrex.serve()
    with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": ["EURUSD"]}))
        ws.send(json.dumps({"op": "subscribe", "symbols": ["EURUSD"], "view": "best"}))
        got, checked = follow_both(ws, 400)
    assert checked > 10
    assert {v for f in got if f["type"] == "best" for v in f["venues"]} == set(VENUES)
    tail = arbitrex.start("tail", "EURUSD", "--best", "--json", "--count", "3", "--url",
                          f"ws://127.0.0.1:{port}/ws", stdout=subprocess.PIPE)
    out, _ = tail.communicate(timeout=30)
    assert tail.returncode == 0, log_of(tail)
    views = [json.loads(line) for line in out.splitlines()]
    assert len(views) == 3 and views[0]["snapshot"] is True
    assert all(v["type"] == "best" and set(v["venues"]) == set(VENUES) for v in views)
    collect.terminate()
    collect.wait(30)


def test_replay_serves_the_same_view_from_replayed_ticks(arbitrex):
    collect = collect_three(arbitrex)
    wait_for(lambda: all(stored(arbitrex, v) > 60 for v in VENUES), what="a minute of ticks",
             timeout=60)
    collect.terminate()
    assert collect.wait(30) == 0
    store = SqliteStore(arbitrex.workdir / "ticks.db")
    final = {v: store.last(v, "EURUSD") for v in VENUES}
    total = sum(t.seq for t in final.values() if t is not None)
    store.close()
    port = free_port()
    replay = arbitrex.start("replay", "--speed", "max", "--port", str(port),
                            "--symbols", "EURUSD")
    wait_for(lambda: port_open(port) or replay.poll() is not None, what="replay to listen")
    with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": ["EURUSD"], "since": {"EURUSD": 0}}))
        ws.send(json.dumps({"op": "subscribe", "symbols": ["EURUSD"], "view": "best"}))
        got, checked = follow_both(ws, None)
    ticks = [f for f in got if f["type"] == "tick"]
    assert len(ticks) == total and checked >= 1
    last = [f for f in got if f["type"] == "best"][-1]
    live = consolidate("EURUSD", {v: t for v, t in final.items() if t is not None})
    # the replay's view of the last ticks is the live one (the lag kept: recv_ns replayed)
    assert {k: v for k, v in last.items() if k != "snapshot"} == json.loads(live.encode())
    # and its episodes: the replayed ticks opened and ended some, counted on /metrics; a
    # client asking now gets those still open as a snapshot
    with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": ["EURUSD"], "view": "episodes"}))
        assert recv_json(ws) == {"type": "subscribed", "symbols": ["EURUSD"],
                                 "view": "episodes"}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        metrics = reply.read().decode()
    ended = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
             if line.startswith('arbitrex_episodes_total{') and 'symbol="EURUSD"' in line]
    assert sum(ended) > 0, metrics
