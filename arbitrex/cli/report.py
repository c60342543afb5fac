"""arbitrex report: who leads whom, whose clock is wrong, whose feed freezes, from history."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from arbitrex.cli.common import (
    ConfigOpt,
    EnvFile,
    FromOpt,
    OnlySymbolsOpt,
    OnlyVenuesOpt,
    StoreOpt,
    ToOpt,
    friendly,
    settings_for,
    venues_file,
)
from arbitrex.cli.export import check_out
from arbitrex.cli.timerange import symbol_list, time_range
from arbitrex.config import load_costs
from arbitrex.constants import END_OF_TIME
from arbitrex.errors import ConfigError
from arbitrex.history import History
from arbitrex.report.figures import figures, total, zones_of
from arbitrex.report.page import render
from arbitrex.report.study import FREEZE_MS

__all__ = ["report"]


@friendly(flags={"TICK_QUEUE_BACKEND": "--store", "config": "--config", "out": "--out",
                 "freeze_ms": "--freeze-ms"})
def report(
    from_: FromOpt = None,
    to: ToOpt = None,
    symbols: OnlySymbolsOpt = None,
    venues: OnlyVenuesOpt = None,
    freeze_ms: Annotated[int, typer.Option(
        "--freeze-ms", help="A venue silent this long on a symbol (receive clock) while the "
        "others sent at least 10 ticks of it is frozen.")] = FREEZE_MS,
    out: Annotated[Path, typer.Option(
        help="Write the report here: one HTML file that opens offline.")] = Path("report.html"),
    json: Annotated[bool, typer.Option(
        "--json", help="Print the figures as one JSON object instead of writing the page.")
    ] = False,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """The broker report over the history (store and archive): per venue a scorecard
    (spread, lag, stale time, freezes, outages, best bid and ask, episodes), who leads whom
    by how many ms, whose clock is off (and the BROKER_TIMEZONE to set), the episodes per
    pair; as one self-contained HTML page with pictures, or --json.

    Example: arbitrex report --from 2026-11-20T00:00:00Z --out report.html
    """
    settings = settings_for(env_file, TICK_QUEUE_BACKEND=store)
    if freeze_ms <= 0:
        raise ConfigError("freeze_ms", f"{freeze_ms} is not above 0", "e.g. --freeze-ms 5000")
    start, end = time_range(from_, to)
    if not json:
        check_out(out)
    path = venues_file(config)
    costs = load_costs(path)
    zones = zones_of(settings, path)
    wanted, chosen = list(symbol_list(symbols)), list(symbol_list(venues))
    when = (start or None, end if end != END_OF_TIME else None)
    with History.of(settings) as history:
        with _progress(history, wanted, when) as advance:
            found = figures(wanted or None, chosen or None, *when, history=history,
                            freeze_ms=freeze_ms, stale_after_ms=settings.stale_after_ms,
                            costs=costs, zones=zones, default_zone=settings.broker_timezone,
                            progress=advance)
    if not found["range"]["ticks"]:
        typer.echo("arbitrex: no ticks in the range (check --from, --to, --symbols and "
                   "--venues): the report is empty", err=True)
    if json:
        sys.stdout.buffer.write(orjson.dumps(found, option=orjson.OPT_NON_STR_KEYS) + b"\n")
        return
    out.write_text(render(found), encoding="utf-8")
    typer.echo(f"wrote the report of {found['range']['ticks']:,} ticks to {out}", err=True)


@contextmanager
def _progress(history: History, symbols: list[str], when: tuple[int | None, int | None]
              ) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal (stderr): yields the function that advances it; None
    off a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    with Progress(TextColumn("reading ticks"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("ticks", total=total(history, symbols, *when))
        yield lambda n: bar.advance(task, n)
