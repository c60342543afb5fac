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
    assert feed.into_store(schedule, store, clock=clock, sleep=clock.sleep) == 4
    assert clock.sleeps == [0.1, 1.4]  # 200 ms and 3000 ms at 2x
    assert [t.venue for t in store.read_after("replay", "EURUSD", 0, 10)] == ["replay"] * 4


def test_merge_is_deterministic_by_time_then_seq(tmp_path):
    store = fill(tmp_path / "a.db", 600)
    merged = list(ordered(store))
    assert [order_key(t) for t in merged] == sorted(order_key(t) for t in merged)
    assert len(merged) == 600
    memory = MemoryStore()
    memory.add(merged)
    assert memory.read_after("sim", "EURUSD", 3, 2)[0].seq == 4


