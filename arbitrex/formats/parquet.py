"""Parquet: the record's fields as typed columns, written and read in row groups."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from arbitrex.bars import BAR_FIELDS, Bar
from arbitrex.errors import MissingPackage, TickError
from arbitrex.model.episode import EPISODE_FIELDS, Episode
from arbitrex.model.tick import RECORD_FIELDS, Tick, from_record

__all__ = ["ROW_GROUP", "as_table", "read", "write", "write_bars", "write_episodes"]

ROW_GROUP = 65_536


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise MissingPackage("pyarrow", "Parquet", "parquet", "or use NDJSON or CSV") from exc
    return pyarrow


def _schema(pa: Any) -> Any:
    types = {"symbol": pa.string(), "venue": pa.string(), "seq": pa.int64(),
             "time_msc": pa.int64(), "volume": pa.uint64(), "flags": pa.int64(),
             "recv_ns": pa.int64()}
    return pa.schema([(f, types.get(f, pa.float64())) for f in RECORD_FIELDS])


def write(ticks: Iterable[Tick], path: Path) -> int:
    pa = _pyarrow()
    return _write(([getattr(t, f) for f in RECORD_FIELDS] for t in ticks), path,
                  _schema(pa))


def write_bars(bars: Iterable[Bar], path: Path) -> int:
    pa = _pyarrow()
    ints = {"start_msc", "width_ms", "ticks"}
    schema = pa.schema([(f, pa.string() if f in ("venue", "symbol") else
                         pa.int64() if f in ints else pa.float64()) for f in BAR_FIELDS])
    return _write(bars, path, schema)


def write_episodes(episodes: Iterable[Episode], path: Path) -> int:
    pa = _pyarrow()
    texts = {"symbol", "sell", "buy", "state", "closed_by", "reason"}
    ints = {"start_ns", "end_ns", "start_msc", "end_msc", "states"}
    schema = pa.schema([(f, pa.string() if f in texts else pa.int64() if f in ints
                         else pa.float64()) for f in EPISODE_FIELDS])
    return _write(episodes, path, schema)


def as_table(rows: Iterable[Iterable[Any]], fields: Sequence[str]) -> Any:
    """Rows (values in ``fields``' order) as a ``pyarrow.Table`` of those columns."""
    pa = _pyarrow()
    columns: dict[str, list[Any]] = {f: [] for f in fields}
    lists = list(columns.values())
    for row in rows:
        for values, value in zip(lists, row, strict=True):
            values.append(value)
    return pa.table(columns)


def _write(rows: Iterable[Iterable[Any]], path: Path, schema: Any) -> int:
    """Rows (values in the schema's column order), written in row groups of ROW_GROUP."""
    pa = _pyarrow()
    names = schema.names
    n = 0
    columns: list[list[Any]] = [[] for _ in names]

    def flush(writer: Any) -> None:
        writer.write_table(pa.table(dict(zip(names, columns, strict=True)), schema=schema))
        for values in columns:
            values.clear()

    with pa.parquet.ParquetWriter(str(path), schema) as writer:
        for row in rows:
            for values, value in zip(columns, row, strict=True):
                values.append(value)
            n += 1
            if n % ROW_GROUP == 0:
                flush(writer)
        if columns[0] or n == 0:
            flush(writer)
    return n


def read(path: Path) -> Iterator[Tick]:
    pa = _pyarrow()
    try:
        table_file = pa.parquet.ParquetFile(str(path))
    except Exception as exc:
        raise TickError(f"{path}: not a Parquet file ({exc})") from exc
    unknown = [c for c in table_file.schema_arrow.names if c not in RECORD_FIELDS]
    if unknown:
        raise TickError(f"{path}: unknown column {unknown[0]!r}")
    row = 0
    for batch in table_file.iter_batches(batch_size=ROW_GROUP):
        for record in batch.to_pylist():
            row += 1
            try:
                yield from_record(record)
            except TickError as exc:
                raise TickError(f"{path}: row {row}: {exc}") from None
