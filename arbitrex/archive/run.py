"""One run of the archive over the settings' store: every whole UTC day older than ``days``
moved into ARCHIVE_DIR. ``arbitrex archive`` calls it with a progress bar; collect's daily
archiving in a child process (``python -m arbitrex.archive``) calls it too."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from arbitrex.archive.layout import cutoff_msc, date_text
from arbitrex.archive.mover import Moved, archive
from arbitrex.config import Settings
from arbitrex.constants import DAY_MS
from arbitrex.errors import ConfigError
from arbitrex.formats.parquet import _pyarrow
from arbitrex.stores import open_store
from arbitrex.stores.base import Archivable

__all__ = ["Watch", "archive_older_than", "writable"]

log = logging.getLogger("arbitrex.archive")

#: Given how many ticks are due, a block that is told each step's count (a progress bar).
Watch = Callable[[int], AbstractContextManager[Callable[[int], None]]]


@contextmanager
def _unwatched(total: int) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


def archive_older_than(settings: Settings, days: int, *, watch: Watch = _unwatched) -> Moved:
    """Archive what is older than ``days`` whole UTC days."""
    _pyarrow()  # MissingPackage (exit 2) now, rather than after reading the store
    root = Path(settings.archive_dir)
    writable(root)
    cutoff = cutoff_msc(int(time.time() * 1000), days)
    tick_store = open_store(settings)
    try:
        if not isinstance(tick_store, Archivable):
            raise ConfigError("TICK_QUEUE_BACKEND", f"{tick_store!r} cannot be archived",
                              "archive a SQLite or Redis store")
        due = tick_store.stored_days(cutoff)
        with watch(sum(d.rows for d in due)) as advance:
            moved = archive(tick_store, root, due, progress=advance)
    finally:
        tick_store.close()
    log.info("archived %d days (%d ticks) before %s into %s", moved.days, moved.ticks,
             date_text(cutoff // DAY_MS), root)
    return moved


def writable(root: Path) -> None:
    """ARCHIVE_DIR can hold files (else a ConfigError, before the store is touched)."""
    probe = root / f".probe-{uuid.uuid4().hex}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError("ARCHIVE_DIR", f"cannot write to {root}: {exc.strerror or exc}",
                          "set ARCHIVE_DIR to a folder this user can write") from None
