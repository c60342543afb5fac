"""A file as a source: ticks of an NDJSON/CSV/Parquet export or an MT5 tick export, fed
through the normal collect path as fast as the store takes them.

The venue is the file's name (``eurusd-2026-11-20.ndjson`` -> ``eurusd-2026-11-20``), so
file ticks never mix with live ones; the store assigns seq. A restart resumes after the
ticks of each symbol already stored, so collecting the same file twice stores nothing
twice. At the end of the file the source is ``exhausted`` and collect stops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from arbitrex import formats
from arbitrex.clock import BrokerClock
from arbitrex.model.tick import Tick
from arbitrex.sources.base import Position

__all__ = ["FileSource", "venue_of"]


def venue_of(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9._#-]", "_", path.name.split(".")[0])[:32]
    return name or "file"


class FileSource:
    """Implements ``TickSource`` over one file."""

    def __init__(self, path: Path, *, symbols: tuple[str, ...] = (),
                 clock: BrokerClock | None = None, batch: int = 1000) -> None:
        self.path = path
        self.venue = venue_of(path)
        self.symbols = symbols
        self.clock = clock
        self.batch = batch
        self.exhausted = False
        self.fresh_starts: dict[str, int] = {}
        self._ticks: Iterator[Tick] = iter(())
        self._skip: dict[str, int] = {}
        self.read = 0

    def open(self, positions: Mapping[str, Position]) -> None:
        self._skip = {symbol: pos.seq for symbol, pos in positions.items()}
        mt5 = formats.guess_format(self.path) == "mt5"
        self._ticks = formats.read(self.path, symbols=self.symbols, clock=self.clock)
        self._wanted = set() if mt5 else set(self.symbols)

    def poll(self, timeout: float) -> list[Tick]:
        out: list[Tick] = []
        for tick in self._ticks:
            if self._wanted and tick.symbol not in self._wanted:
                continue
            self.read += 1
            if self._skip.get(tick.symbol, 0) > 0:
                self._skip[tick.symbol] -= 1  # stored by an earlier run
                continue
            out.append(tick._replace(venue=self.venue, seq=0))
            if len(out) >= self.batch:
                return out
        self.exhausted = True
        return out

    def status(self) -> str:
        return f"file {self.path.name}: {self.read:,} ticks read" + (
            " (done)" if self.exhausted else "")

    def close(self) -> None:
        self._ticks = iter(())
