"""source -> store: the collection loop, with batching and counters.

``Collector.run`` first takes the venue's lease where the store keeps leases (one writer per
venue: ``collect.lease``; another collector's is ``VenueHeld``) and asks the store where each
stream left off (waiting while a store server is unreachable: the source resumes from
there), then polls the source and stores
what one poll returns (with what else the source holds at once, up to ``max_batch``
ticks) in one atomic store append: the source sets the pace (a terminal or the simulator
is read every ``poll_interval``), and a tick waits for nothing once read. It hands the
stored ticks to the sinks and counts. It stops when ``stop`` is set, ``duration`` has
passed, the source is exhausted, or the lease is lost (``lost``); every tick received before
that is stored before it returns. It never prints: the CLI reads ``stats``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from arbitrex.collect.lease import Held, hold
from arbitrex.errors import StoreUnavailable
from arbitrex.model.tick import Position, Tick, validate
from arbitrex.runtime.backoff import Backoff
from arbitrex.runtime.stop import StopFlag
from arbitrex.sinks.base import Sink
from arbitrex.sources.base import TickSource
from arbitrex.stores.base import Lease, Leases, TickWriter

__all__ = ["CollectStats", "Collector"]

log = logging.getLogger(__name__)


@dataclass
class CollectStats:
    """Counters the collector keeps; read by the status line and logs."""

    started: float = field(default_factory=time.monotonic)
    ticks: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_seq: dict[tuple[str, str], int] = field(default_factory=dict)
    batches: int = 0
    received: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        return sum(self.ticks.values())


class Collector:
    def __init__(
        self,
        source: TickSource,
        store: TickWriter,
        *,
        sinks: Sequence[Sink] = (),
        # Batching
        max_batch: int = 5_000,
        # Polling
        poll_timeout: float = 0.05,
        # Retries
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
    ) -> None:
        self.source = source
        self.store = store
        self.sinks = tuple(sinks)
        self.max_batch = max_batch
        self.poll_timeout = poll_timeout
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.stats = CollectStats()
        self.held: Held | None = None

    @property
    def lost(self) -> Lease | None:
        """Who took the venue over while this collector ran (it then stopped)."""
        return self.held.lost if self.held is not None else None

    def _valid(self, ticks: list[Tick]) -> list[Tick]:
        good = []
        for tick in ticks:
            try:
                good.append(validate(tick))
            except Exception as exc:  # a bad tick is counted and named, never silently dropped
                self.stats.rejected += 1
                log.warning("rejected a tick from %s: %s", self.source.venue, exc)
        return good

    def _store(self, batch: list[Tick]) -> None:
        self.stats.received += len(batch)
        stored = self.store.append(batch)
        stats = self.stats
        stats.batches += bool(batch)
        stats.ticks.update(t[:2] for t in stored)  # per (venue, symbol)
        stats.last_seq.update({t[:2]: t.seq for t in stored})
        if stored:
            for sink in self.sinks:
                sink(stored)

    def _positions(self, stop: StopFlag, deadline: float | None
                   ) -> Mapping[str, Position] | None:
        """Where each stream left off, so that the source resumes there. A store that
        cannot say yet (Redis down at start) is asked again, with a growing pause, until
        it answers: starting from now instead would leave a hole that a terminal's history
        could have filled. None when stopped (or out of time) meanwhile."""
        backoff = Backoff(initial=self.retry_initial, cap=self.retry_max)
        waited = False
        while True:
            try:
                if isinstance(self.store, Leases) and self.held is None:
                    self.held = hold(self.store, self.source.venue, where=repr(self.store))
                positions = self.store.positions(self.source.venue)
                if waited:
                    log.info("the store answers: collecting from where each symbol left off")
                return positions
            except StoreUnavailable as exc:
                if not waited:
                    log.warning("%s: waiting for it before reading the source, which then "
                                "resumes where each symbol left off", exc)
                waited = True
            pause = backoff.next()
            if deadline is not None:
                pause = min(pause, max(0.0, deadline - time.monotonic()))
            if stop.wait(pause) or (deadline is not None and time.monotonic() >= deadline):
                return None

    def run(self, *, stop: StopFlag, duration: float | None = None) -> CollectStats:
        source = self.source
        deadline = None if duration is None else time.monotonic() + duration
        try:
            positions = self._positions(stop, deadline)
            if positions is None:  # stopped while waiting for the store
                return self.stats
            if self.held is not None:
                self.held.state = source.status
                self.held.start()
            source.open(positions)
            self.store.mark_start(source.venue, source.fresh_starts)
            while not stop.is_set() and self.lost is None:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                timeout = self.poll_timeout if deadline is None else min(
                    self.poll_timeout, max(0.0, deadline - now))
                batch = self._valid(source.poll(timeout))
                if not batch:
                    self._store([])  # lets a spooling store drain while the source is quiet
                    if source.exhausted:
                        break
                    continue
                try:
                    # What the source holds beyond one poll (a backlog) joins the batch.
                    while len(batch) < self.max_batch and not stop.is_set():
                        more = source.poll(0)
                        if not more:
                            break
                        batch.extend(self._valid(more))
                finally:
                    self._store(batch)  # what was received is stored, even if the source fails
        finally:
            self._release()
            source.close()
        return self.stats

    def _release(self) -> None:
        if self.held is not None:
            self.held.release()

