"""Replay's runners: a schedule (``plan.schedule``) delivered into a store, or to the replay
server's memory store. They wait for each offset on a clock they are given, so speed
control is tested without wall-clock time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from arbitrex.model.tick import UNNAMED_VENUE, Tick, check_symbol
from arbitrex.runtime.stop import StopFlag
from arbitrex.stores.base import TickWriter

__all__ = ["REPLAY_VENUE", "Stored", "into_memory", "into_store", "replay_venue"]

#: Ticks replayed into a store are kept under this venue (or ``replay.VENUE``), never mixed
#: with live ones.
REPLAY_VENUE = "replay"


def replay_venue(venue: str) -> str:
    """Where a replayed venue's ticks are stored: ``replay`` for an input that names no
    venue, ``replay.V`` for venue V, one stream each, so several brokers' seqs never
    collide; a venue already under ``replay`` stays (a store → file → store round trip)."""
    if venue == UNNAMED_VENUE or venue == REPLAY_VENUE or venue.startswith(REPLAY_VENUE + "."):
        return REPLAY_VENUE if venue == UNNAMED_VENUE else venue
    return check_symbol(f"{REPLAY_VENUE}.{venue}")


class Stored(NamedTuple):
    """What ``into_store`` did with the ticks it read."""

    read: int
    stored: int
    held: int  # skipped: the store held that seq before this run (a rerun)

    @property
    def lost(self) -> int:
        """Read, yet neither stored nor held before: two ticks of one stream with one seq
        in the input, or a seq older than one stored before it in this run."""
        return self.read - self.stored - self.held


def into_store(
    plan: Iterable[tuple[float, list[Tick]]],
    store: TickWriter,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int], None] = lambda n: None,
    stop: StopFlag | None = None,
) -> Stored:
    """Append each batch under its replay venue (``replay_venue``) when it is due, keeping
    each tick's seq; what was read, stored and found already held."""
    start = clock()
    read = stored = held = 0
    renamed: dict[str, str] = {}
    before: dict[tuple[str, str], int] = {}  # each target stream's last seq before the run
    for at, batch in plan:
        if stop is not None and stop.is_set():
            break
        wait = start + at - clock()
        if wait > 0:
            sleep(wait)
        moved = []
        for tick in batch:
            venue = renamed.get(tick.venue)
            if venue is None:
                venue = renamed[tick.venue] = replay_venue(tick.venue)
                for symbol, position in store.positions(venue).items():
                    before[venue, symbol] = position.seq
            if tick.seq <= before.get((venue, tick.symbol), 0):
                held += 1
            else:
                moved.append(tick._replace(venue=venue))
        stored += len(store.append_exact(moved))
        read += len(batch)
        progress(len(batch))
    return Stored(read, stored, held)


async def into_memory(
    plan: Iterable[tuple[float, list[Tick]]],
    add: Callable[[list[Tick]], None],
    *,
    backlog: Callable[[], bool],
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Feed the replay server's store on the event loop's clock. ``backlog()`` is true while
    the clients cannot take more: the feed then waits (backpressure, for ``--speed max``)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    for at, batch in plan:
        wait = start + at - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        while backlog():  # noqa: ASYNC110 (socket buffers have no event to wait on)
            await asyncio.sleep(0.002)
        add(batch)
        sent += len(batch)
        progress(len(batch))
        await asyncio.sleep(0)  # let the hub deliver
    return sent
