"""arbitrex archive: move whole old UTC days out of the store into Parquet day files."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer

from arbitrex.archive.layout import cutoff_msc, date_text
from arbitrex.archive.mover import archive as move
from arbitrex.cli.common import EnvFile, StoreOpt, friendly, settings_for
from arbitrex.cli.progress import progress
from arbitrex.config import Settings
from arbitrex.constants import DAY_MS
from arbitrex.errors import ConfigError
from arbitrex.formats.parquet import _pyarrow
from arbitrex.stores import open_store
from arbitrex.stores.base import Archivable

__all__ = ["archive", "run_archive", "writable"]

log = logging.getLogger("arbitrex.archive")


@friendly(flags={"RETAIN_DAYS": "--older-than", "TICK_QUEUE_BACKEND": "--store"})
def archive(
    older_than: Annotated[int | None, typer.Option(
        "--older-than", help="Move every whole UTC day that ended more than this many days "
        "ago (env: RETAIN_DAYS).", show_default=False)] = None,
    store: StoreOpt = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Move old days out of the store into ARCHIVE_DIR (venue=/symbol=/date= Parquet files,
    each written, verified and renamed before its ticks leave the store). export, replay
    and arbitrex.history read archive and store as one history.

    Example: arbitrex archive --older-than 30
    """
    if older_than is not None and older_than <= 0:
        raise ConfigError("--older-than", f"{older_than} is not a number of days",
                          "give 1 or more: days to keep in the store")
    settings = settings_for(env_file, TICK_QUEUE_BACKEND=store)
    days = older_than if older_than is not None else settings.retain_days
    if days is None:
        raise ConfigError("--older-than", "how many days to keep is not set",
                          "pass --older-than DAYS or set RETAIN_DAYS")
    run_archive(settings, days)


def run_archive(settings: Settings, days: int) -> None:
    """Archive what is older than ``days`` (collect calls it once a day with RETAIN_DAYS)."""
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
        with progress("archive", sum(d.rows for d in due)) as advance:
            moved = move(tick_store, root, due, progress=advance)
    finally:
        tick_store.close()
    log.info("archived %d days (%d ticks) before %s into %s", moved.days, moved.ticks,
             date_text(cutoff // DAY_MS), root)


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
