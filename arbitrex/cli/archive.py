"""arbitrex archive: move whole old UTC days out of the store into Parquet day files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arbitrex.archive.run import archive_older_than
from arbitrex.cli.common import EnvFile, StoreOpt, friendly, settings_for
from arbitrex.cli.progress import progress
from arbitrex.errors import ConfigError

__all__ = ["archive"]



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
    archive_older_than(settings, days, watch=lambda total: progress("archive", total))
