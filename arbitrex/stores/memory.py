"""An in-memory store of ticks that keep their own seq: what ``replay --port`` serves from.

It holds the whole replayed history (so a late client can resume with ``since``) and lets
the hub follow it like any store: a ``StreamReader`` and ``Follower`` (and ``NonBlocking``).
The replay feed calls ``add``; ``follow`` wakes on a condition.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from arbitrex.model.tick import Tick

__all__ = ["MemoryStore"]


class MemoryStore:
    name = "memory"
    poll_interval = 0.001  # the hub polls it on the event loop (follow never blocks then)

    def __init__(self) -> None:
        self._log: list[Tick] = []  # in arrival order; the follow cursor is an index
        self._streams: dict[tuple[str, str], list[Tick]] = {}
        self._cond = threading.Condition()

    def add(self, ticks: Iterable[Tick]) -> None:
        with self._cond:
            for tick in ticks:
                stream = self._streams.setdefault(tick.key, [])
                if stream and tick.seq <= stream[-1].seq:
                    continue  # never twice, never backwards
                stream.append(tick)
                self._log.append(tick)
            self._cond.notify_all()

    def last(self, venue: str, symbol: str) -> Tick | None:
        stream = self._streams.get((venue, symbol))
        return stream[-1] if stream else None

    def streams(self) -> list[tuple[str, str]]:
        return sorted(self._streams)

    def first_seq(self, venue: str, symbol: str) -> int | None:
        stream = self._streams.get((venue, symbol))
        return stream[0].seq if stream else None

    def read_after(self, venue: str, symbol: str, after_seq: int, limit: int) -> list[Tick]:
        stream = self._streams.get((venue, symbol), [])
        start = _bisect_seq(stream, after_seq)
        return stream[start:start + limit]

    def head(self) -> int:
        return len(self._log)

    def follow(self, cursor: int, *, timeout: float, limit: int) -> tuple[list[Tick], int]:
        with self._cond:
            if len(self._log) <= cursor and timeout > 0:
                self._cond.wait(timeout)
            ticks = self._log[cursor:cursor + limit]
        return ticks, cursor + len(ticks)

    def close(self) -> None:
        pass


def _bisect_seq(stream: list[Tick], after_seq: int) -> int:
    lo, hi = 0, len(stream)
    while lo < hi:
        mid = (lo + hi) // 2
        if stream[mid].seq <= after_seq:
            lo = mid + 1
        else:
            hi = mid
    return lo
