"""Drives the MT5 source against the test double on a simulated clock (no sleeping)."""

from __future__ import annotations

from pathlib import Path

from arbitrex.clock import BrokerClock
from arbitrex.sources.mt5.source import Mt5Source
from arbitrex.sources.mt5.terminal import Terminal
from arbitrex.stores.sqlite import SqliteStore
from arbitrex.testing.mt5 import FakeTerminal, Scenario


class SimClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)

    def ns(self) -> int:
        return int(self.t * 1e9)


def make_source(fake: FakeTerminal, clock: SimClock, symbols: list[str], *,
                tz: str = "UTC", aliases: dict[str, str] | None = None, venue: str = "icm",
                **terminal_kwargs: object) -> Mt5Source:
    return Mt5Source(Terminal(fake, **terminal_kwargs), venue=venue, symbols=symbols,  # type: ignore[arg-type]
                     aliases=aliases, clock=BrokerClock(tz), sleep=clock.sleep,
                     monotonic=clock, time_ns=clock.ns, jitter=lambda: 0.5, backoff_max=2.0,
                     batch=50)


def collect(scenario: Scenario, store_path: Path, *, start: float, end: float, step_ms: list[int],
            restarts: set[int] = frozenset(), tz: str = "UTC") -> SqliteStore:  # type: ignore[assignment]
    """Poll from ``start`` to ``end`` (UTC seconds) with the given steps (cycled), restarting
    the collector (a new source resuming from the store) at the given step numbers."""
    clock = SimClock(start)
    fake = FakeTerminal(scenario, clock=clock)
    store = SqliteStore(store_path)
    symbols = sorted(scenario.ticks)
    source = make_source(fake, clock, symbols, tz=tz)
    source.open(store.positions("icm"))
    store.mark_start("icm", source.fresh_starts)
    i = 0
    while clock.t < end:
        clock.t += step_ms[i % len(step_ms)] / 1000
        if i in restarts:
            source.close()
            source = make_source(fake, clock, symbols, tz=tz)
            source.open(store.positions("icm"))
            store.mark_start("icm", source.fresh_starts)
        store.append(source.poll(0.0))
        i += 1
    source.close()
    return store
