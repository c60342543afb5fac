"""Replay's plan: history merged into one deterministic order and re-timed at a speed.

Ticks are ordered by (time_msc, seq, venue, symbol) (``order_key``). ``schedule`` is pure:
it turns that order into (offset in seconds from the start, batch) pairs, the original
spacing divided by ``speed`` (None = as fast as the consumer takes it). The runners in
``feed.py`` wait for each offset on a clock they are given.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator

from arbitrex.stores.base import RangeReader
from arbitrex.tick import Tick


def order_key(tick: Tick) -> tuple[int, int, str, str]:
    return (tick.time_msc, tick.seq, tick.venue, tick.symbol)


def numbered(ticks: Iterable[Tick]) -> Iterator[Tick]:
    """Give seq 1..N per (venue, symbol), in input order, to ticks that have none."""
    counters: dict[tuple[str, str], int] = {}
    for tick in ticks:
        if tick.seq == 0:
            n = counters.get(tick.key, 0) + 1
            counters[tick.key] = n
            tick = tick.with_seq(n)
        yield tick


def from_file(ticks: Iterable[Tick], *, symbols: tuple[str, ...], from_msc: int, to_msc: int
              ) -> list[Tick]:
    """A file's ticks, filtered and merged (held in memory: a file is sorted once)."""
    chosen = [t for t in numbered(ticks) if (not symbols or t.symbol in symbols)
              and from_msc <= t.time_msc < to_msc]
    chosen.sort(key=order_key)
    return chosen


def from_store(store: RangeReader, *, symbols: tuple[str, ...], from_msc: int, to_msc: int
               ) -> Iterator[Tick]:
    """The store's ticks merged across streams in constant memory (one cursor per stream)."""
    streams = [(v, s) for v, s in store.streams() if not symbols or s in symbols]
    cursors = [store.iter_range(symbols=[s], venues=[v], from_msc=from_msc, to_msc=to_msc,
                                chunk=2000) for v, s in streams]
    return heapq.merge(*cursors, key=order_key)


def schedule(ticks: Iterable[Tick], *, speed: float | None, max_batch: int = 1000
             ) -> Iterator[tuple[float, list[Tick]]]:
    """(seconds after the start, ticks due then): ticks due at the same moment together."""
    first: int | None = None
    batch: list[Tick] = []
    batch_at = 0.0
    for tick in ticks:
        if first is None:
            first = tick.time_msc
        at = 0.0 if speed is None else max(0.0, (tick.time_msc - first) / 1000 / speed)
        if batch and (at != batch_at or len(batch) >= max_batch):
            yield batch_at, batch
            batch = []
        if not batch:
            batch_at = at
        batch.append(tick)
    if batch:
        yield batch_at, batch
