"""What a multi-venue ``collect`` shows on a terminal: a row per venue and symbol, read from
the store (the last stored tick of each stream), the venues' leases (each worker writes its
source's state there with every heartbeat) and the supervisor's view of its workers. Pure:
the CLI reads the store and draws."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from arbitrex.model.tick import Tick
from arbitrex.stores.base import Lease

__all__ = ["Board", "Row"]


class Row(NamedTuple):
    venue: str
    symbol: str
    stored: int  # the stream's last seq
    rate: float  # ticks/s since the last look
    age_s: float | None  # now - the last tick's event time
    state: str


class Board:
    """Rows from successive looks at the store; ``rate`` is the seq's growth between two."""

    def __init__(self, venues: Sequence[str]) -> None:
        self.venues = tuple(venues)
        self._before: dict[tuple[str, str], tuple[int, float]] = {}

    def rows(self, lasts: Mapping[tuple[str, str], Tick], leases: Sequence[Lease],
             workers: Mapping[str, str], *, now_s: float, now_ms: int) -> list[Row]:
        held = {lease.venue: lease for lease in leases}
        out = []
        for venue in self.venues:
            state = _state(workers.get(venue, "starting"), held.get(venue))
            symbols = sorted(s for v, s in lasts if v == venue)
            if not symbols:
                out.append(Row(venue, "", 0, 0.0, None, state))
            for symbol in symbols:
                tick = lasts[venue, symbol]
                seq, then = self._before.get((venue, symbol), (tick.seq, now_s))
                rate = (tick.seq - seq) / (now_s - then) if now_s > then else 0.0
                self._before[venue, symbol] = (tick.seq, now_s)
                out.append(Row(venue, symbol, tick.seq, rate,
                               max(0.0, (now_ms - tick.time_msc) / 1000), state))
        return out


def _state(worker: str, lease: Lease | None) -> str:
    """The worker's state and, while it runs, its source's (from its lease)."""
    if worker != "running":
        return worker
    if lease is None:
        return "starting"
    return lease.state or "running"
