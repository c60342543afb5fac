"""CSV: a header of the record's fields, then one row per tick."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from arbitrex.bars import BAR_FIELDS, Bar
from arbitrex.errors import TickError
from arbitrex.model.episode import EPISODE_FIELDS, Episode
from arbitrex.model.tick import RECORD_FIELDS, Tick, from_record

__all__ = ["plain", "read", "write", "write_bars", "write_episodes"]

_INT = {"seq", "time_msc", "volume", "flags", "recv_ns"}
_REQUIRED = {"symbol", "time_msc", "bid", "ask"}


def write(ticks: Iterable[Tick], path: Path) -> int:
    return _write(RECORD_FIELDS, ([getattr(t, f) for f in RECORD_FIELDS] for t in ticks),
                  path)


def write_bars(bars: Iterable[Bar], path: Path) -> int:
    return _write(BAR_FIELDS, bars, path)


def write_episodes(episodes: Iterable[Episode], path: Path) -> int:
    return _write(EPISODE_FIELDS, episodes, path)


def plain(value: float) -> str:
    """A float as the shortest decimal that reads back exactly, never in exponent form
    (``2e-05`` is written ``0.00002``: spreadsheets and people read it as a price)."""
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


def _write(header: Iterable[str], rows: Iterable[Iterable[object]], path: Path) -> int:
    """A header, then a row per item; floats as ``plain`` decimals that read back exactly."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([plain(v) if isinstance(v, float) else v for v in row])
            n += 1
    return n


def _decoded(lines: Iterable[bytes], path: Path) -> Iterator[str]:
    """Decode line by line, so that an encoding error names its line."""
    for number, raw in enumerate(lines, 1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise TickError(f"{path}:{number}: not UTF-8 text ({exc.reason})") from None


def read(path: Path) -> Iterator[Tick]:
    try:
        f = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise TickError(f"{path}: cannot read ({exc.strerror})") from exc
    with f:
        reader = csv.reader(_decoded(f, path))
        header = next(reader, None)
        if header is None:
            return
        unknown = [c for c in header if c not in RECORD_FIELDS and c != "type"]
        if unknown:
            raise TickError(f"{path}:1: unknown column {unknown[0]!r}; expected "
                            f"{', '.join(RECORD_FIELDS)}")
        missing = _REQUIRED - set(header)
        if missing:
            raise TickError(f"{path}:1: missing column {sorted(missing)[0]!r}")
        for row in reader:
            if not row:
                continue
            try:
                if len(row) != len(header):
                    raise TickError(f"{len(row)} cells where the header has {len(header)}")
                record: dict[str, object] = {}
                for name, cell in zip(header, row, strict=True):
                    if name in ("symbol", "venue", "type"):
                        record[name] = cell
                    else:
                        record[name] = int(cell) if name in _INT else float(cell)
                tick = from_record(record)
            except (TickError, ValueError) as exc:
                raise TickError(f"{path}:{reader.line_num}: {exc}") from None
            yield tick
