"""The move of old days from the store to the archive, safe against a crash at any step.

Day by day, for each stream's day that ended before the cutoff:
1. its ticks are written to ``date=....parquet.tmp-PID`` and fsynced (``written``);
2. the file is read back and checked against the store: rows, lowest and highest seq
   (``verified``);
3. it is renamed into place and the folder fsynced (``renamed``);
4. once every stream's file of the day is in place, those ticks are deleted from the store
   (``dropped``), in rowid order, a few thousand per transaction.
A crash before 3 leaves the store whole and a temporary file, removed by the next run. A
crash between 3 and 4 leaves the day in both places: readers of the history take each seq
once, and the next run, finding the file, deletes what the file holds (after writing the
union first, if the store gained ticks of that day since). Nothing is lost or doubled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from arbitrex.archive import files
from arbitrex.archive.files import Facts
from arbitrex.archive.layout import DayKey, date_text, path_of
from arbitrex.errors import ArchiveError
from arbitrex.model.tick import Tick
from arbitrex.runtime.faults import crash_point
from arbitrex.stores.base import Archivable, Dropped, StoredDay

__all__ = ["Moved", "archive", "archive_stream_day"]

log = logging.getLogger(__name__)


class Moved(NamedTuple):
    days: int
    ticks: int


def archive(store: Archivable, root: Path, due: Sequence[StoredDay], *,
            progress: Callable[[int], None] = lambda n: None) -> Moved:
    """Move the stream days ``due`` (``store.stored_days(cutoff)``, read once by the
    caller) into ``root``, a day at a time: every stream's file of the day first, then the
    day's ticks out of the store."""
    days = ticks = 0
    for day in sorted({d.day for d in due}):
        streams = [d for d in due if d.day == day]
        ranges = [archive_stream_day(store, root, stored) for stored in streams]
        dropped = store.drop(ranges)
        crash_point("archive:dropped")
        log.info("archived %s: %d ticks of %d streams", date_text(day), dropped,
                 len(streams))
        days += len(streams)
        ticks += dropped
        progress(sum(s.rows for s in streams))
    return Moved(days, ticks)


def archive_stream_day(store: Archivable, root: Path, stored: StoredDay) -> Dropped:
    """Write (or complete) one stream's day file; what may then leave the store."""
    key = DayKey(stored.venue, stored.symbol, stored.day)
    path = path_of(root, key)
    for stale in path.parent.glob(path.name + ".tmp-*"):  # left by a crashed run
        stale.unlink()
    expected = Facts(stored.rows, stored.first_seq, stored.last_seq)
    ticks: Iterable[Tick] = store.iter_stream(key.venue, key.symbol, key.start_msc,
                                              key.end_msc)
    if path.exists():  # archived before, and the store still holds (some of) the day
        in_store = list(ticks)  # a rare case (a run stopped halfway): read the day once
        if set(files.seqs(path)).issuperset(t.seq for t in in_store):
            return Dropped(key.venue, key.symbol, key.start_msc, key.end_msc, stored.last_seq)
        union = _union(files.read(path, key), in_store)
        seqs = [t.seq for t in union]
        expected = Facts(len(union), min(seqs), max(seqs))
        ticks = iter(union)
    tmp = files.temporary(path)
    try:
        written = files.write(tmp, ticks)
        crash_point("archive:written")
        if written != expected or files.facts(tmp) != expected:
            raise ArchiveError(f"{tmp}: holds {files.facts(tmp)}, the store {expected}; "
                               "the store is untouched")
        crash_point("archive:verified")
        files.place(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    crash_point("archive:renamed")
    return Dropped(key.venue, key.symbol, key.start_msc, key.end_msc, expected.last_seq or 0)


def _union(*sources: Iterable[Tick]) -> list[Tick]:
    """Ticks of several sources of one stream, each seq once, in (time_msc, seq) order."""
    by_seq: dict[int, Tick] = {}
    for source in sources:
        for tick in source:
            by_seq.setdefault(tick.seq, tick)
    return sorted(by_seq.values(), key=lambda t: (t.time_msc, t.seq))
