"""NDJSON: one tick record per line."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from arbitrex.bars import Bar, bar_record
from arbitrex.errors import TickError
from arbitrex.model.episode import Episode
from arbitrex.model.tick import Tick, from_record, to_record

__all__ = ["read", "write", "write_bars", "write_episodes"]


def write(ticks: Iterable[Tick], path: Path) -> int:
    return _write(map(to_record, ticks), path)


def write_bars(bars: Iterable[Bar], path: Path) -> int:
    return _write(map(bar_record, bars), path)


def write_episodes(episodes: Iterable[Episode], path: Path) -> int:
    return _write((e.record() for e in episodes), path)


def _write(records: Iterable[dict[str, Any]], path: Path) -> int:
    n = 0
    with open(path, "wb") as out:
        for record in records:
            out.write(orjson.dumps(record) + b"\n")
            n += 1
    return n


def read(path: Path) -> Iterator[Tick]:
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise TickError(f"{path}:{number}: not valid JSON ({exc}); a truncated "
                                "line?") from None
            try:
                tick = from_record(record)
            except TickError as exc:
                raise TickError(f"{path}:{number}: {exc}") from None
            yield tick
