"""arbitrex export: stored ticks to a file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from arbitrex.cli.common import EnvFile, StoreOpt, friendly, settings_for
from arbitrex.cli.progress import counted, progress
from arbitrex.cli.timerange import symbol_list, time_range
from arbitrex.errors import ConfigError
from arbitrex.formats import FORMATS, write
from arbitrex.stores import open_store

log = logging.getLogger("arbitrex.export")
_SUFFIX = {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".parquet": "parquet"}


@friendly
def export(
    out: Annotated[Path, typer.Option(help="The file to write.")],
    format: Annotated[str | None, typer.Option(
        "--format", help="ndjson, csv or parquet (default: from --out's extension).",
        show_default=False)] = None,
    symbols: Annotated[str | None, typer.Option(
        help="Only these symbols, comma-separated.", show_default=False)] = None,
    from_: Annotated[str | None, typer.Option(
        "--from", help="From this ISO-8601 UTC time (inclusive).", show_default=False)] = None,
    to: Annotated[str | None, typer.Option(
        help="Up to this ISO-8601 UTC time (exclusive).", show_default=False)] = None,
    store: StoreOpt = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Write stored ticks to --out as NDJSON, CSV or Parquet; `replay` reads it back identically.

    Example: arbitrex export --out eurusd.ndjson --symbols EURUSD --from 2026-11-20T00:00:00Z
    """
    settings = settings_for(env_file, TICK_QUEUE_BACKEND=store)
    fmt = format or _SUFFIX.get(out.suffix.lower())
    if fmt not in FORMATS:
        raise ConfigError("--format", f"cannot tell the format of {out}" if format is None
                          else f"unknown format {format!r}",
                          f"use --format {' or '.join(FORMATS)}")
    chosen = symbol_list(symbols)
    start, end = time_range(from_, to)
    tick_store = open_store(settings)
    try:
        ticks = tick_store.iter_range(symbols=chosen, from_msc=start, to_msc=end)
        with progress("export", lambda: tick_store.count_range(
                symbols=chosen, from_msc=start, to_msc=end)) as advance:
            written = write(counted(ticks, advance), out, fmt)
    finally:
        tick_store.close()
    log.info("exported %d ticks to %s (%s)", written, out, fmt)
