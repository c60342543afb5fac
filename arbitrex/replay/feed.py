"""Replay's runners: a schedule (``plan.schedule``) delivered into a store, or to the replay
server's memory store. They wait for each offset on a clock they are given, so speed
control is tested without wall-clock time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator

from arbitrex.runtime.stop import StopFlag
from arbitrex.stores.base import TickWriter
from arbitrex.tick import Tick

#: Ticks replayed into a store are kept under this venue, never mixed with live ones.
REPLAY_VENUE = "replay"


def as_replay_venue(ticks: Iterable[Tick]) -> Iterator[Tick]:
    for tick in ticks:
        yield tick._replace(venue=REPLAY_VENUE)


def into_store(
    plan: Iterable[tuple[float, list[Tick]]],
    store: TickWriter,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int], None] = lambda n: None,
    stop: StopFlag | None = None,
) -> int:
    """Append each batch under venue ``replay`` when it is due; the number stored."""
    start = clock()
    stored = 0
    for at, batch in plan:
        if stop is not None and stop.is_set():
            break
        wait = start + at - clock()
        if wait > 0:
            sleep(wait)
        stored += len(store.append_exact(list(as_replay_venue(batch))))
        progress(len(batch))
    return stored


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
