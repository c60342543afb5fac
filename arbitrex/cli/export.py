"""arbitrex export: stored ticks to a file."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer

from arbitrex.bars import make_bars, parse_width
from arbitrex.cli.common import EnvFile, StoreOpt, friendly, settings_for
from arbitrex.cli.progress import counted, progress
from arbitrex.cli.symbols import missing_note
from arbitrex.cli.timerange import symbol_list, time_range
from arbitrex.errors import ConfigError
from arbitrex.formats import FORMATS, write, write_bars
from arbitrex.history import count, of_file, ordered
from arbitrex.model.tick import Tick
from arbitrex.stores import open_store

__all__ = ["check_out", "export", "out_format"]

log = logging.getLogger("arbitrex.export")
_SUFFIX = {".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".parquet": "parquet"}


@friendly(flags={"file": "FILE", "out": "--out", "width": "--bars"})
def export(
    out: Annotated[Path, typer.Option(help="The file to write.")],
    file: Annotated[Path | None, typer.Argument(
        help="A tick file to read instead of the store (NDJSON, CSV, Parquet, or a "
             "MetaTrader 5 tick export with --symbols).", show_default=False)] = None,
    format: Annotated[str | None, typer.Option(
        "--format", help="ndjson, csv or parquet (default: from --out's extension).",
        show_default=False)] = None,
    symbols: Annotated[str | None, typer.Option(
        help="Only these symbols, comma-separated.", show_default=False)] = None,
    from_: Annotated[str | None, typer.Option(
        "--from", help="From this ISO-8601 UTC time (inclusive).", show_default=False)] = None,
    to: Annotated[str | None, typer.Option(
        help="Up to this ISO-8601 UTC time (exclusive).", show_default=False)] = None,
    bars: Annotated[str | None, typer.Option(
        "--bars", help="Write bars of this width instead of ticks: 30s, 1m, 5m, 15m, 1h, 4h, "
        "1d (any N and s, m, h or d), one per venue, symbol and interval with ticks.",
        show_default=False)] = None,
    store: StoreOpt = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Write stored ticks (or bars of them) to --out as NDJSON, CSV or Parquet; `replay`
    reads ticks back identically.

    Example: arbitrex export --out eurusd.ndjson --symbols EURUSD --from 2026-11-20T00:00:00Z
    Example: arbitrex export --out eurusd-1m.csv --bars 1m --symbols EURUSD
    """
    settings = settings_for(env_file, TICK_QUEUE_BACKEND=store)
    fmt = out_format(out, format)
    chosen = symbol_list(symbols)
    start, end = time_range(from_, to)
    width = parse_width(bars) if bars is not None else None
    if file is not None:
        ticks = of_file(file, symbols=chosen, from_msc=start, to_msc=end,
                        broker_timezone=settings.broker_timezone)
        if not _write(ticks, len(ticks), out, fmt, width):
            log.warning("no ticks matched in %s: check --symbols, --from and --to", file)
        return
    tick_store = open_store(settings)
    archive = Path(settings.archive_dir)
    try:  # in (time_msc, seq) order, archive and store as one history
        ranged = ordered(tick_store, symbols=chosen, from_msc=start, to_msc=end,
                         archive=archive)
        written = _write(ranged, lambda: count(tick_store, symbols=chosen, from_msc=start,
                                               to_msc=end, archive=archive), out, fmt, width)
        if not written:
            note = missing_note(chosen, (s for _, s in tick_store.streams()))
            log.warning("no ticks matched%s", f": {note}" if note else
                        " between --from and --to" if (from_ or to) else " (the store is empty)")
    finally:
        tick_store.close()


def out_format(out: Path, format: str | None) -> str:
    """The format to write ``out`` in (--format, else from its extension), once ``out`` is
    known to be writable (``check_out``)."""
    check_out(out)
    fmt = format or _SUFFIX.get(out.suffix.lower())
    if fmt not in FORMATS:
        raise ConfigError("--format", f"cannot tell the format of {out}" if format is None
                          else f"unknown format {format!r}",
                          f"use --format {' or '.join(FORMATS)}")
    return fmt


def check_out(out: Path) -> None:
    """--out must name a file in a folder that exists and can be written."""
    folder = out.parent
    if out.is_dir():
        raise ConfigError("out", f"{out} is a folder", f"name a file in it, e.g. "
                          f"{out / 'ticks.ndjson'}")
    if not folder.is_dir():
        raise ConfigError("out", f"the folder {folder} does not exist",
                          f"create it first (mkdir {folder}) or write somewhere else")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ConfigError("out", f"{out} cannot be written here (permission denied)",
                          "write somewhere else")


def _write(ticks: Iterable[Tick], total: int | Callable[[], int], out: Path, fmt: str,
           width: int | None) -> int:
    """How many ticks (or bars) were written."""
    with progress("export", total) as advance:
        counted_ticks = counted(ticks, advance)
        if width is None:
            written = write(counted_ticks, out, fmt)
        else:
            written = write_bars(make_bars(counted_ticks, width), out, fmt)
    log.info("exported %d %s to %s (%s)", written, "ticks" if width is None else "bars", out,
             fmt)
    return written
