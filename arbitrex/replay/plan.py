"""Replay's plan: history merged into one deterministic order and re-timed at a speed.

Ticks are ordered by (time_msc, seq, venue, symbol) (``history.order_key``; the store's
are merged in that order by ``history.ordered``). ``schedule`` is pure:
it turns that order into (offset in seconds from the start, batch) pairs, the original
spacing divided by ``speed`` (None = as fast as the consumer takes it). The runners in
``feed.py`` wait for each offset on a clock they are given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from arbitrex.model.tick import Tick

__all__ = ["schedule"]


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
