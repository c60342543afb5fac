"""export and replay: round trips, MT5 exports, speed control, bad files, the replay server."""

from __future__ import annotations

from arbitrex.history import order_key, ordered
from arbitrex.replay import feed, plan
from arbitrex.stores.memory import MemoryStore
from arbitrex.stores.sqlite import SqliteStore
from tests.history import fill, ticks_at


def test_schedule_scales_the_original_spacing():
    ticks = ticks_at(0, 0, 1000, 1500, 4000)
    assert [(at, len(b)) for at, b in plan.schedule(ticks, speed=1)] == [
        (0.0, 2), (1.0, 1), (1.5, 1), (4.0, 1)]
    assert [at for at, _ in plan.schedule(ticks, speed=10)] == [0.0, 0.1, 0.15, 0.4]
    assert [len(b) for _, b in plan.schedule(ticks, speed=None, max_batch=2)] == [2, 2, 1]


def test_into_store_waits_on_the_clock_it_is_given(tmp_path):
    class Clock:
        now = 100.0
        sleeps: list[float]

        def __call__(self) -> float:
            return self.now

        def sleep(self, s: float) -> None:
            self.sleeps.append(round(s, 6))
            self.now += s

    clock = Clock()
    clock.sleeps = []
    store = SqliteStore(tmp_path / "r.db")
    schedule = plan.schedule(ticks_at(0, 200, 200, 3000), speed=2)
    assert feed.into_store(schedule, store, clock=clock, sleep=clock.sleep).stored == 4
    assert clock.sleeps == [0.1, 1.4]  # 200 ms and 3000 ms at 2x
    assert len(store.read_after("replay.sim", "EURUSD", 0, 10)) == 4


def test_into_store_keeps_each_venue_apart_and_a_rerun_adds_nothing(tmp_path):
    """Several brokers' seqs collide: each venue V goes under replay.V, an input that names
    no venue under replay, a venue already under replay stays where it is."""
    ticks = [t._replace(venue=v) for v in ("icm", "pepper", "file", "replay.oanda")
             for t in ticks_at(0, 5, 9)]
    store = SqliteStore(tmp_path / "r.db")
    done = feed.into_store(plan.schedule(ticks, speed=None), store)
    assert done == feed.Stored(read=12, stored=12, held=0) and done.lost == 0
    assert store.streams() == [("replay", "EURUSD"), ("replay.icm", "EURUSD"),
                               ("replay.oanda", "EURUSD"), ("replay.pepper", "EURUSD")]
    assert [t.seq for t in store.read_after("replay.icm", "EURUSD", 0, 10)] == [1, 2, 3]
    again = feed.into_store(plan.schedule(ticks, speed=None), store)
    assert again == feed.Stored(read=12, stored=0, held=12) and again.lost == 0


def test_into_store_counts_what_one_stream_cannot_keep(tmp_path):
    """Two ticks of one venue and symbol with one seq: one is stored, the other is lost
    and counted, never silently dropped."""
    ticks = ticks_at(0, 5) + [t._replace(time_msc=t.time_msc + 1) for t in ticks_at(0)]
    done = feed.into_store(plan.schedule(ticks, speed=None), SqliteStore(tmp_path / "r.db"))
    assert (done.read, done.stored, done.held, done.lost) == (3, 2, 0, 1)


def test_merge_is_deterministic_by_time_then_seq(tmp_path):
    store = fill(tmp_path / "a.db", 600)
    merged = list(ordered(store))
    assert [order_key(t) for t in merged] == sorted(order_key(t) for t in merged)
    assert len(merged) == 600
    memory = MemoryStore()
    memory.add(merged)
    assert memory.read_after("sim", "EURUSD", 3, 2)[0].seq == 4


