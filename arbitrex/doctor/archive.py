"""The archive's check: its day files readable, and no day both archived and in the store
(which a run of ``arbitrex archive`` stopped halfway leaves, and the next run finishes)."""

from __future__ import annotations

from pathlib import Path

from arbitrex.archive import files
from arbitrex.archive.layout import date_text, days_in
from arbitrex.constants import END_OF_TIME
from arbitrex.doctor.report import Check
from arbitrex.errors import ArbitrexError, MissingPackage
from arbitrex.stores.base import Archivable

__all__ = ["archive_check"]


def archive_check(root: Path, store: Archivable | None) -> Check:
    name = f"archive {root}"
    if not root.is_dir():
        return Check(name, "pass", "none yet (arbitrex archive, or RETAIN_DAYS, makes it)")
    days = days_in(root)
    try:
        for _, path in days:
            files.facts(path)
    except MissingPackage as exc:
        return Check(name, "warn", str(exc), "pip install 'arbitrex[parquet]'")
    except ArbitrexError as exc:
        return Check(name, "fail", str(exc), "move the file aside: a reader would stop at it")
    if store is not None and days:
        both = {(d.venue, d.symbol, d.day) for d in store.stored_days(END_OF_TIME)} \
            & {(k.venue, k.symbol, k.day) for k, _ in days}
        if both:
            venue, symbol, day = sorted(both)[0]
            return Check(name, "warn", f"{len(both)} days both archived and in the store "
                         f"(e.g. {venue}:{symbol} {date_text(day)}): an archive run stopped "
                         "halfway", "run `arbitrex archive` again: it finishes the work")
    return Check(name, "pass", f"{len(days)} day files, all readable")
