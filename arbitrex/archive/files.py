"""Day files: written under a temporary name, fsynced, checked, renamed into place; read
back in row groups. A file that cannot be read is an ArchiveError naming it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from arbitrex.archive.layout import ARCHIVED_FIELDS, DayKey
from arbitrex.constants import END_OF_TIME
from arbitrex.errors import ArbitrexError, ArchiveError
from arbitrex.formats.parquet import ROW_GROUP, _pyarrow
from arbitrex.model.tick import Tick

__all__ = ["Facts", "count_between", "facts", "place", "read", "seqs", "temporary", "write"]


class Facts(NamedTuple):
    """What verification compares: how many rows, and the lowest and highest seq."""

    rows: int
    first_seq: int | None
    last_seq: int | None


def _schema(pa: Any) -> Any:
    ints = {"seq", "time_msc", "volume", "flags", "recv_ns", "broker_msc"}
    return pa.schema([(f, pa.uint64() if f == "volume" else pa.int64() if f in ints
                       else pa.float64()) for f in ARCHIVED_FIELDS])


def temporary(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def write(path: Path, ticks: Iterable[Tick]) -> Facts:
    """Write ``ticks`` (one stream's day, in (time_msc, seq) order) to ``path``, fsynced."""
    pa = _pyarrow()
    schema = _schema(pa)
    index = [Tick._fields.index(f) for f in ARCHIVED_FIELDS]
    rows, first, last = 0, None, None
    path.parent.mkdir(parents=True, exist_ok=True)

    def group(buffer: list[Tick]) -> Any:
        columns = list(zip(*buffer, strict=True))  # rows to columns, in C
        return pa.table({f: columns[i] for f, i in zip(ARCHIVED_FIELDS, index, strict=True)},
                        schema=schema)

    try:
        with open(path, "wb") as raw:
            with pa.parquet.ParquetWriter(raw, schema) as writer:
                buffer: list[Tick] = []
                for tick in ticks:
                    buffer.append(tick)
                    if len(buffer) == ROW_GROUP:
                        writer.write_table(group(buffer))
                        rows, first, last = _count(buffer, rows, first, last)
                        buffer = []
                if buffer or rows == 0:
                    writer.write_table(group(buffer) if buffer else schema.empty_table())
                    rows, first, last = _count(buffer, rows, first, last)
            raw.flush()
            os.fsync(raw.fileno())
    except Exception as exc:  # OSError, or pyarrow's own for a full disk
        raise ArchiveError(f"cannot write {path}: {exc}") from exc
    return Facts(rows, first, last)


def _count(buffer: list[Tick], rows: int, first: int | None, last: int | None
           ) -> tuple[int, int | None, int | None]:
    if not buffer:
        return rows, first, last
    seqs = [t.seq for t in buffer]
    low, high = min(seqs), max(seqs)
    return (rows + len(buffer), low if first is None else min(first, low),
            high if last is None else max(last, high))


def facts(path: Path) -> Facts:
    """Rows and lowest and highest seq, read back from the file itself."""
    seqs = _column(path, "seq")
    return Facts(len(seqs), min(seqs, default=None), max(seqs, default=None))


def seqs(path: Path) -> list[int]:
    return _column(path, "seq")


def count_between(path: Path, from_msc: int, to_msc: int) -> int:
    times = _column(path, "time_msc")
    return sum(1 for t in times if from_msc <= t < to_msc)


def _column(path: Path, name: str) -> list[int]:
    pa = _pyarrow()
    try:
        return list(pa.parquet.read_table(str(path), columns=[name]).column(name).to_pylist())
    except Exception as exc:
        raise ArchiveError(f"{path}: cannot be read ({exc}); move it aside and restore it "
                           "from a backup, or delete it if the day is still in the store"
                           ) from exc


def place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` over ``path`` and make the rename durable (fsync the folder)."""
    os.replace(tmp, path)
    if hasattr(os, "O_DIRECTORY"):  # POSIX; on Windows the rename is durable by itself
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read(path: Path, key: DayKey, from_msc: int | None = None, to_msc: int | None = None
         ) -> Iterator[Tick]:
    """The ticks of a day file in file ((time_msc, seq)) order; with ``from_msc`` and
    ``to_msc``, only those in [from_msc, to_msc), filtered by pyarrow before Python sees
    them. A row group at a time when unfiltered."""
    pa = _pyarrow()
    try:
        if from_msc is not None or to_msc is not None:
            import pyarrow.compute as pc

            table = pa.parquet.read_table(str(path))
            time = table.column("time_msc")
            mask = pc.and_(pc.greater_equal(time, from_msc or 0),
                           pc.less(time, to_msc if to_msc is not None else END_OF_TIME))
            batches = table.filter(mask).to_batches(max_chunksize=ROW_GROUP)
        else:
            batches = pa.parquet.ParquetFile(str(path)).iter_batches(batch_size=ROW_GROUP)
        for batch in batches:
            columns = [batch.column(f).to_pylist() for f in ARCHIVED_FIELDS]
            for row in zip(*columns, strict=True):
                yield Tick(key.venue, key.symbol, *row)
    except ArbitrexError:
        raise
    except Exception as exc:
        raise ArchiveError(f"{path}: cannot be read ({exc}); move it aside and restore it "
                           "from a backup, or delete it if the day is still in the store"
                           ) from exc
