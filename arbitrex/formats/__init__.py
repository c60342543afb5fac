"""Tick files: one module per format, each with ``write(ticks, path) -> count`` and
``read(path) -> Iterator[Tick]``. What ``write`` writes, ``read`` gives back identically.

    ndjson   one tick record per line (.ndjson, .jsonl)
    csv      a header of the record's fields, then one row per tick (.csv)
    parquet  the record's fields as typed columns (.parquet; needs pyarrow)
    mt5      MetaTrader 5's own tick export, read only (tab-separated <DATE> <TIME> ...)
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

from arbitrex.bars import Bar
from arbitrex.clock import BrokerClock
from arbitrex.errors import ConfigError, TickError
from arbitrex.model.episode import Episode
from arbitrex.model.tick import Tick

__all__ = ["FORMATS", "guess_format", "read", "write", "write_bars", "write_episodes"]

FORMATS = ("ndjson", "csv", "parquet")
_MODULES = {"ndjson": "ndjson", "csv": "csvfile", "parquet": "parquet"}


def guess_format(path: Path) -> str:
    """The format of ``path`` from its name, or for text files from its first line."""
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    if suffix == ".parquet":
        return "parquet"
    try:
        head = path.read_bytes()[:4096]
    except OSError as exc:
        raise TickError(f"{path}: cannot read ({exc.strerror})") from exc
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"<DATE>" in head.replace(b"\x00", b""):
        return "mt5"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if head.lstrip().startswith(b"{"):
        return "ndjson"
    raise TickError(f"{path}: unknown file format; use .ndjson, .csv, .parquet or an MT5 export")


def _writer(fmt: str) -> ModuleType:
    """The module of a format that can be written."""
    if fmt not in FORMATS:
        raise ConfigError("format", f"unknown format {fmt!r}",
                          f"use one of {', '.join(FORMATS)}")
    return importlib.import_module(f"arbitrex.formats.{_MODULES[fmt]}")


def write(ticks: Iterable[Tick], path: Path, fmt: str) -> int:
    return int(_writer(fmt).write(ticks, path))


def write_bars(bars: Iterable[Bar], path: Path, fmt: str) -> int:
    """Bars (``arbitrex.bars``) in the same formats: NDJSON bar records, CSV with a header
    of the bar's fields, Parquet with typed columns."""
    return int(_writer(fmt).write_bars(bars, path))


def write_episodes(episodes: Iterable[Episode], path: Path, fmt: str) -> int:
    """Episode records in the same formats: NDJSON, CSV with a header of their fields,
    Parquet with typed columns (empty where an open episode has no end)."""
    return int(_writer(fmt).write_episodes(episodes, path))


def read(path: Path, *, symbols: tuple[str, ...] = (), clock: BrokerClock | None = None
         ) -> Iterator[Tick]:
    """Ticks of a file in file order. ``symbols`` names the symbol of an MT5 export, and
    ``clock`` converts its broker times to UTC."""
    fmt = guess_format(path)
    if fmt == "ndjson":
        from arbitrex.formats import ndjson

        return ndjson.read(path)
    if fmt == "csv":
        from arbitrex.formats import csvfile

        return csvfile.read(path)
    if fmt == "parquet":
        from arbitrex.formats import parquet

        return parquet.read(path)
    from arbitrex.formats import mt5export

    if len(symbols) != 1:
        raise ConfigError("symbols", f"{path} is a MetaTrader 5 tick export, which names no "
                          "symbol", "give exactly one, e.g. EURUSD")
    return mt5export.read(path, symbol=symbols[0], clock=clock)
