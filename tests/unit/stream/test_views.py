"""The cross-venue view as served (docs/PROTOCOL.md: The cross-venue view), through a real
server and a real WebSocket client: the snapshot, a frame after stored ticks, both views on
one connection cut from one state (batching or not), a slow client given the latest state,
bad input."""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from arbitrex.model.tick import Tick, from_record
from arbitrex.stores.memory import MemoryStore
from arbitrex.stream.best import consolidate
from tests.conftest import must
from tests.unit.stream.servers import Server

T0 = 1_800_000_000_000
VENUES = ("icm", "oanda", "pepper")


class Feed:
    """Ticks of several venues with their own seqs, prices wandering around one path."""

    def __init__(self, seed: int = 1, venues: tuple[str, ...] = VENUES) -> None:
        self.rng = random.Random(seed)
        self.venues = venues
        self.seqs: dict[tuple[str, str], int] = {}
        self.ms = T0

    def tick(self, venue: str, symbol: str = "EURUSD", *, ms: int | None = None) -> Tick:
        key = (venue, symbol)
        self.seqs[key] = self.seqs.get(key, 0) + 1
        self.ms = ms if ms is not None else self.ms + self.rng.randint(0, 40)
        bid = round(1.085 + self.rng.randint(-30, 30) * 1e-5, 5)
        ask = round(bid + self.rng.randint(0, 4) * 1e-5, 5)
        return Tick(venue, symbol, self.seqs[key], self.ms, bid, ask, 0.0, 0, 0.0, 6,
                    self.ms * 1_000_000 + self.rng.randint(0, 50_000_000), self.ms)

    def burst(self, n: int, symbols: tuple[str, ...] = ("EURUSD",)) -> list[Tick]:
        return [self.tick(self.rng.choice(self.venues), self.rng.choice(symbols))
                for _ in range(n)]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def server(store: MemoryStore) -> Iterator[Server]:
    running = Server(store)
    yield running
    running.close()


def frames(ws: ClientConnection, *, until: float = 1.0) -> Iterator[dict[str, Any]]:
    """Frames until none comes for ``until`` seconds."""
    while True:
        try:
            yield json.loads(ws.recv(timeout=until))
        except TimeoutError:
            return


def send(ws: ClientConnection, **op: Any) -> None:
    ws.send(json.dumps(op))


class Mirror:
    """What a client holding both views knows from the tick frames it got; each best frame
    must be exactly the view of that."""

    def __init__(self, stale_after_ms: int = 10_000) -> None:
        self.latest: dict[str, dict[str, Tick]] = {}
        self.stale_after_ms = stale_after_ms
        self.checked = 0

    def take(self, frame: dict[str, Any]) -> None:
        records = frame["data"] if frame["type"] == "ticks" else [frame]
        for record in records:
            tick = from_record(record)
            held = self.latest.setdefault(tick.symbol, {}).get(tick.venue)
            assert held is None or tick.seq > held.seq, (tick, held)
            self.latest[tick.symbol][tick.venue] = tick

    def check(self, frame: dict[str, Any]) -> None:
        expected = consolidate(frame["symbol"], self.latest[frame["symbol"]],
                               stale_after_ms=self.stale_after_ms)
        extra = {"snapshot": True} if frame.get("snapshot") else {}
        assert frame == json.loads(expected.encode(**extra))
        self.checked += 1

    def follow(self, messages: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for frame in messages:
            out.append(frame)
            if frame["type"] in ("tick", "ticks"):
                self.take(frame)
            elif frame["type"] == "best":
                self.check(frame)
        return out


def test_a_view_other_than_ticks_or_best_is_a_bad_request(server: Server) -> None:
    with connect(server.url) as ws:
        send(ws, op="subscribe", symbols=["EURUSD"], view="bestest")
        reply = next(frames(ws))
        assert reply["type"] == "error" and reply["code"] == "bad_request"
        assert "view" in reply["message"]
        send(ws, op="unsubscribe", symbols=["EURUSD"], view="best")  # not held: harmless
        assert next(frames(ws)) == {"type": "unsubscribed", "symbols": ["EURUSD"],
                                    "view": "best"}
        send(ws, op="ping")
        assert next(frames(ws)) == {"type": "pong"}


def test_the_snapshot_then_a_frame_after_stored_ticks(store: MemoryStore,
                                                      server: Server) -> None:
    feed = Feed()
    store.add([feed.tick(v) for v in VENUES * 3] + [feed.tick("icm", "GBPUSD")])
    with connect(server.url) as ws:
        send(ws, op="subscribe", symbols=["EURUSD"], view="best")
        got = list(frames(ws, until=0.5))
        assert got[0] == {"type": "subscribed", "symbols": ["EURUSD"], "view": "best"}
        snapshot = got[1]
        assert snapshot["type"] == "best" and snapshot["snapshot"] is True
        assert {v: q["seq"] for v, q in snapshot["venues"].items()} == {v: 3 for v in VENUES}
        assert len(got) == 2  # no tick frames: only the view was asked for
        latest = {v: must(store.last(v, "EURUSD")) for v in VENUES}
        assert snapshot == json.loads(consolidate("EURUSD", latest).encode(snapshot=True))
        store.add([feed.tick("pepper"), feed.tick("icm", "GBPUSD")])
        live = list(frames(ws, until=0.5))
        assert [f["type"] for f in live] == ["best"]  # GBPUSD is not held
        assert live[0]["venues"]["pepper"]["seq"] == 4 and "snapshot" not in live[0]


@pytest.mark.parametrize("batch", [False, True])
def test_both_views_each_frame_is_cut_from_the_ticks_sent_before_it(
        store: MemoryStore, server: Server, batch: bool) -> None:
    feed = Feed(seed=7)
    symbols = ("EURUSD", "GBPUSD")
    store.add(feed.burst(30, symbols))
    mirror = Mirror()
    with connect(server.url) as ws:
        # the view first (the server's state), then the ticks: from then on, each frame
        # is cut from the ticks sent, their snapshot included
        send(ws, op="subscribe", symbols=["EURUSD", "GBPUSD"], view="best")
        assert [f["type"] for f in frames(ws, until=0.3)] == ["subscribed", "best", "best"]
        send(ws, op="subscribe", symbols=["EURUSD", "GBPUSD"], batch=batch)
        got = mirror.follow(frames(ws, until=0.3))
        for _ in range(60):  # bounded: 60 bursts of up to 40 ticks
            store.add(feed.burst(feed.rng.randint(1, 40), symbols))
            if feed.rng.random() < 0.3:
                got += mirror.follow(frames(ws, until=0.01))
        got += mirror.follow(frames(ws, until=0.5))
    kinds = {f["type"] for f in got}
    assert kinds >= {"best", "ticks" if batch else "tick"}, kinds
    assert mirror.checked > 20
    for symbol in symbols:  # in the end the view caught up with everything stored
        last = [f for f in got if f["type"] == "best" and f["symbol"] == symbol][-1]
        assert {v: q["seq"] for v, q in last["venues"].items()} == {
            v: feed.seqs[(v, symbol)] for v in VENUES}


def test_the_view_taken_after_the_ticks_is_cut_from_what_was_sent(
        store: MemoryStore, server: Server) -> None:
    feed = Feed(seed=3)
    store.add(feed.burst(20))
    mirror = Mirror()
    with connect(server.url) as ws:
        send(ws, op="subscribe", symbols=["EURUSD"])
        mirror.follow(frames(ws, until=0.3))
        store.add(feed.burst(20))
        mirror.follow(frames(ws, until=0.3))
        send(ws, op="subscribe", symbols=["EURUSD"], view="best")
        got = mirror.follow(frames(ws, until=0.3))
        assert [f["type"] for f in got] == ["subscribed", "best"]
        assert got[1]["snapshot"] is True and mirror.checked == 1
        send(ws, op="unsubscribe", symbols=["EURUSD"])  # the ticks go; the view stays
        store.add(feed.burst(5))
        got = list(frames(ws, until=0.3))
        assert got[0]["type"] == "unsubscribed" and {f["type"] for f in got[1:]} == {"best"}
        assert {v: q["seq"] for v, q in got[-1]["venues"].items()} == {
            v: feed.seqs[(v, "EURUSD")] for v in VENUES}


def test_resume_with_since_and_the_view(store: MemoryStore, server: Server) -> None:
    feed = Feed(seed=5)
    store.add(feed.burst(3000))
    mirror = Mirror()
    with connect(server.url) as ws:
        send(ws, op="subscribe", symbols=["EURUSD"], view="best")
        assert [f["type"] for f in frames(ws, until=0.3)] == ["subscribed", "best"]
        send(ws, op="subscribe", symbols=["EURUSD"], since={"EURUSD": 0})
        got = mirror.follow(frames(ws, until=0.5))
    ticks = [f for f in got if f["type"] == "tick"]
    assert len(ticks) == 3000 and mirror.checked >= 2
    assert got[-1]["type"] == "best"


def stalled(port: int) -> ClientConnection:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return connect(f"ws://127.0.0.1:{port}/ws", sock=sock, max_queue=1, ping_interval=None)


@pytest.mark.parametrize("both", [False, True])
def test_a_slow_client_gets_the_latest_state_not_a_backlog(store: MemoryStore,
                                                           both: bool) -> None:
    server = Server(store, max_buffer=16 * 1024, max_frames=64, flush_interval=0.01)
    venues = tuple(f"v{i}" for i in range(10))  # a frame of 10 venues and 90 edges: ~7 KB
    feed = Feed(seed=11, venues=venues)
    store.add([feed.tick(v) for v in venues])
    try:
        with stalled(server.port) as ws:
            if both:  # the ticks first: every view is then cut from the ticks sent
                send(ws, op="subscribe", symbols=["EURUSD"])
            send(ws, op="subscribe", symbols=["EURUSD"], view="best")
            time.sleep(0.3)  # the client reads nothing meanwhile
            dispatches = 0
            deadline = time.monotonic() + 10
            while dispatches < 1000 and time.monotonic() < deadline:  # ~7 MB of views
                store.add(feed.burst(10))
                dispatches += 1
                time.sleep(0.002)
            time.sleep(0.3)
            assert server.hub.buffered() < 100 * 1024  # bounded, not a backlog
            mirror = Mirror()
            got = []
            for frame in frames(ws, until=1.0):
                got.append(frame)
                if both and frame["type"] in ("tick", "ticks", "gap"):
                    if frame["type"] != "gap":
                        mirror.take(frame)
                elif both and frame["type"] == "best":
                    mirror.check(frame)
        views = [f for f in got if f["type"] == "best"]
        # states in between were skipped (the kernel's socket buffers hold ~4 MB of them)
        assert len(views) < dispatches * 0.8
        final = {v: feed.seqs[(v, "EURUSD")] for v in venues}
        assert {v: q["seq"] for v, q in views[-1]["venues"].items()} == final
        if both:
            assert any(f["type"] == "gap" for f in got)
    finally:
        server.close()


def icm_lags(port: int) -> int:
    """How many lags of venue icm /metrics has observed."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
        for line in response.read().decode().splitlines():
            if line.startswith('arbitrex_venue_lag_seconds_count{venue="icm"} '):
                return int(float(line.split()[-1]))
    return 0


def test_stale_after_ms_and_the_metrics(store: MemoryStore) -> None:
    import urllib.request

    server = Server(store, stale_after_ms=500)
    feed = Feed(seed=2)
    store.add([feed.tick("icm", ms=T0), feed.tick("pepper", ms=T0 + 600),
               feed.tick("oanda", ms=T0 + 1000)])
    try:
        with connect(server.url) as ws:
            send(ws, op="subscribe", symbols=["EURUSD"], view="best")
            view = list(frames(ws, until=0.3))[1]
            # the first ticks were dispatched or not, by when the server began following
            before = icm_lags(server.port)
            store.add([feed.tick("icm", ms=T0 + 1100)])  # the lag is of ticks fanned out
            assert next(frames(ws))["venues"]["icm"]["stale"] is False
        assert {v: q["stale"] for v, q in view["venues"].items()} == {
            "icm": True, "pepper": False, "oanda": False}
        assert view["edges"] and all("icm" not in (e["sell"], e["buy"])
                                     for e in view["edges"])
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics") as response:
            text = response.read().decode()
        assert 'arbitrex_best_edge{symbol="EURUSD"}' in text
        assert icm_lags(server.port) == before + 1  # every tick fanned out
        assert 'arbitrex_best_out_total{symbol="EURUSD"} 2.0' in text
    finally:
        server.close()


def test_no_view_is_framed_while_nobody_holds_it(store: MemoryStore, server: Server) -> None:
    """Ticks change the server's state of a symbol, but its frame is built only once some
    client holds the view (a server with only tick clients frames nothing, keeps nothing)."""
    feed = Feed(seed=3)
    store.add(feed.burst(3))
    with connect(server.url) as ws:
        send(ws, op="subscribe", symbols=["EURUSD"], batch=True)
        list(frames(ws, until=0.3))
        store.add(feed.burst(30))
        got = sum(len(f["data"]) for f in frames(ws, until=0.3) if f["type"] == "ticks")
        assert got == 30
        assert not server.hub.views._frames
        send(ws, op="subscribe", symbols=["EURUSD"], view="best")
        list(frames(ws, until=0.3))
        store.add(feed.burst(5))
        kinds = [f["type"] for f in frames(ws, until=0.3)]
        assert "best" in kinds
        assert server.hub.views._frames


def test_best_out_counts_every_frame_sent(store: MemoryStore, server: Server) -> None:
    """/metrics' best frames per symbol are the frames the clients got, whichever state
    each was cut from (counted once per dispatch, not per client)."""
    import urllib.request
    from contextlib import ExitStack

    feed = Feed(seed=4)
    store.add(feed.burst(6, ("EURUSD", "GBPUSD")))
    with ExitStack() as stack:
        clients = [stack.enter_context(connect(server.url)) for _ in range(3)]
        for i, ws in enumerate(clients):
            if i:  # the first holds the view alone; the others the ticks too
                send(ws, op="subscribe", symbols=["EURUSD", "GBPUSD"], batch=True)
            send(ws, op="subscribe", symbols=["EURUSD", "GBPUSD"], view="best")
        got: dict[str, int] = {}
        for ws in clients:
            for f in frames(ws, until=0.3):
                if f["type"] == "best":
                    got[f["symbol"]] = got.get(f["symbol"], 0) + 1
        for _ in range(4):
            store.add(feed.burst(5, ("EURUSD", "GBPUSD")))
            for ws in clients:
                for f in frames(ws, until=0.2):
                    if f["type"] == "best":
                        got[f["symbol"]] = got.get(f["symbol"], 0) + 1
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics") as response:
            text = response.read().decode()
        for symbol, n in got.items():
            assert f'arbitrex_best_out_total{{symbol="{symbol}"}} {float(n)}' in text
        assert sum(got.values()) > 2 * 3 * 2  # snapshots, then frames to every client
