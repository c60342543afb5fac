"""The episodes as served (docs/PROTOCOL.md: Episodes, Served), through a real server and a
real WebSocket client: the open ones as a snapshot, then each frame right after the tick
that made it (exactly the episodes of the states of the ticks sent before it, batching or
not), the metrics, bad input, and a slow client's frames held and bounded."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest
from websockets.sync.client import connect

from arbitrex.episodes.engine import EpisodeEngine
from arbitrex.model.episode import Episode
from arbitrex.model.tick import Tick, from_record, in_receipt_order, receipt_key
from arbitrex.stores.memory import MemoryStore
from arbitrex.stream.session import MAX_OWED_EPISODES, Session
from tests.unit.stream.servers import Server
from tests.unit.stream.test_views import VENUES, Feed, frames, send

pytestmark = pytest.mark.unit


class Mirror:
    """A client's own engine, fed the ticks as they arrive: each episode frame must be the
    next episode it made, and none may be missing when a later tick arrives."""

    def __init__(self) -> None:
        self.engine = EpisodeEngine()
        self.owed: deque[Episode] = deque()
        self.checked = 0
        self.closed = 0
        self.ticks = 0

    def take(self, frame: dict[str, Any]) -> None:
        if frame["type"] in ("tick", "ticks"):
            records = frame["data"] if frame["type"] == "ticks" else [frame]
            for record in records:
                assert not self.owed, f"a tick came before the episodes {list(self.owed)}"
                self.owed.extend(self.engine.feed(from_record(record)))
                self.ticks += 1
        elif frame["type"] == "episode":
            assert "snapshot" not in frame
            assert self.owed, f"an episode no tick sent before it made: {frame}"
            assert Episode.from_record(frame) == self.owed.popleft()
            self.checked += 1
            self.closed += frame["state"] == "closed"


def test_the_open_episodes_are_the_snapshot() -> None:
    store = MemoryStore()
    ms = 1_800_000_000_000
    store.add([Tick("icm", "EURUSD", 1, ms, 1.1002, 1.1003, 0.0, 0, 0.0, 6,
                    ms * 1_000_000 + 10_000_000, ms),
               Tick("pepper", "EURUSD", 1, ms, 1.0998, 1.1000, 0.0, 0, 0.0, 6,
                    ms * 1_000_000 + 20_000_000, ms)])
    server = Server(store)
    try:
        with connect(server.url) as ws:
            send(ws, op="subscribe", symbols=["EURUSD", "GBPUSD"], view="episodes")
            got = list(frames(ws, until=0.3))
    finally:
        server.close()
    assert got[0] == {"type": "subscribed", "symbols": ["EURUSD", "GBPUSD"],
                      "view": "episodes"}
    assert len(got) == 2, got
    assert got[1]["snapshot"] is True and got[1]["state"] == "open"
    assert (got[1]["sell"], got[1]["buy"]) == ("icm", "pepper")
    assert got[1]["start_ns"] == 1_800_000_000_020_000_000  # the state pepper's tick made
    assert got[1]["open_net"] == pytest.approx(0.0002)


@pytest.mark.parametrize("batch", [False, True])
def test_each_episode_frame_follows_the_tick_that_made_it(batch: bool) -> None:
    store = MemoryStore()
    server = Server(store)
    feed = Feed(seed=11)
    mirror = Mirror()
    try:
        with connect(server.url) as ws:
            send(ws, op="subscribe", symbols=["EURUSD"], batch=batch)
            send(ws, op="subscribe", symbols=["EURUSD"], view="episodes")
            assert [f["type"] for f in frames(ws, until=0.3)] == ["subscribed", "subscribed"]
            for i in range(80):  # bounded: 80 bursts of up to 30 ticks
                burst = feed.burst(feed.rng.randint(1, 30), ("EURUSD", "GBPUSD"))
                if i % 20 == 19:  # a venue far ahead: the others go stale
                    burst.append(feed.tick("oanda", ms=feed.ms + 11_000))
                store.add(burst)
                if feed.rng.random() < 0.3:
                    for frame in frames(ws, until=0.01):
                        mirror.take(frame)
            for frame in frames(ws, until=0.5):
                mirror.take(frame)
        served = server.hub.metrics
    finally:
        server.close()
    assert not mirror.owed
    assert mirror.ticks == sum(feed.seqs[(v, "EURUSD")] for v in VENUES)
    assert mirror.checked > 30, mirror.checked
    closed = sum(served.episodes_ended[key] for key in served.episodes_ended
                 if key[0] == "EURUSD")
    assert closed == mirror.closed > 10
    assert served.episode_duration["EURUSD"].counts
    text = served.render().decode()
    assert 'arbitrex_episodes_total{buy="' in text
    assert 'arbitrex_episodes_open{symbol="EURUSD"}' in text
    assert 'arbitrex_episode_duration_seconds_bucket{le="0.01",symbol="EURUSD"}' in text
    # the server's share of the latency: one observation per client write of a read
    writes = sum(served.written["receive"].counts)
    assert writes >= 10  # the feed stamps its own recv_ns: not timed
    assert sum(served.written["dispatch"].counts) == writes  # each write in both stages
    assert 'arbitrex_write_latency_seconds_count{since="dispatch"}' in text


def test_a_view_other_than_ticks_best_or_episodes_is_refused() -> None:
    server = Server(MemoryStore())
    try:
        with connect(server.url) as ws:
            send(ws, op="subscribe", symbols=["EURUSD"], view="episode")
            reply = json.loads(ws.recv(timeout=5))
    finally:
        server.close()
    assert reply["type"] == "error" and reply["code"] == "bad_request"
    assert "episodes" in reply["message"]


def test_ticks_are_put_in_receipt_order_each_stream_kept_whole() -> None:
    def tick(venue: str, seq: int, recv_ns: int) -> Tick:
        return Tick(venue, "EURUSD", seq, 0, 1.0, 1.0, 0.0, 0, 0.0, 6, recv_ns, 0)

    stored = [tick("b", 1, 30), tick("b", 2, 10), tick("a", 1, 20), tick("a", 2, 40)]
    ordered = in_receipt_order(stored)
    # b's clock stepped back between its two ticks: b 2 still follows b 1
    assert [(t.venue, t.seq) for t in ordered] == [("a", 1), ("b", 1), ("b", 2), ("a", 2)]
    monotonic = [tick("b", 1, 30), tick("a", 1, 20), tick("a", 2, 40), tick("b", 2, 35)]
    assert in_receipt_order(monotonic) == sorted(monotonic, key=receipt_key)


def test_a_slow_client_is_owed_its_episode_frames_within_a_bound() -> None:
    session = Session()
    for i in range(MAX_OWED_EPISODES + 5):
        session.owe_episode(b"%d" % i)
    assert session.owes()
    owed, dropped = session.take_owed_episodes()
    assert dropped == 5 and len(owed) == MAX_OWED_EPISODES
    assert owed[0] == b"5" and owed[-1] == b"%d" % (MAX_OWED_EPISODES + 4)  # oldest went
    assert not session.owes()
