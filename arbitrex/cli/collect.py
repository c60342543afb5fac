"""arbitrex collect: source -> store. The options make one plan; ``collecting.run`` runs it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from arbitrex.cli.collecting import run
from arbitrex.cli.common import (
    ConfigOpt,
    EnvFile,
    PollIntervalOpt,
    RateOpt,
    SeedOpt,
    SourceOpt,
    StoreOpt,
    SymbolsOpt,
    VenuesOpt,
    friendly,
    sim_venues,
    venues_file,
)
from arbitrex.plans import CollectPlan, from_json

__all__ = ["collect"]


@friendly(flags={"SYMBOLS": "--symbols", "TICK_QUEUE_BACKEND": "--store",
                 "file": "--file", "venue": "--venue", "source": "--source",
                 "symbols": "--symbols", "metrics_port": "--metrics-port",
                 "venues": "--venues", "config": "--config"})
def collect(
    source: SourceOpt = "mt5",
    file: Annotated[Path | None, typer.Option(
        help="File: the ticks to collect (NDJSON, CSV, Parquet, or an MT5 tick export, whose "
             "one symbol --symbols names); venue = the file's name; collect ends at its end.",
        show_default=False)] = None,
    symbols: SymbolsOpt = None,
    store: StoreOpt = None,
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds.", min=0, show_default=False)] = None,
    rate: RateOpt = 50.0,
    seed: SeedOpt = 0,
    config: ConfigOpt = None,
    venues: VenuesOpt = None,
    venue: Annotated[str | None, typer.Option(
        help="Run only this venue (of --config for MT5, of --venues for the simulator).",
        show_default=False)] = None,
    poll_interval: PollIntervalOpt = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve collect's Prometheus metrics on 127.0.0.1:PORT/metrics.",
        show_default=False)] = None,
    env_file: EnvFile = Path(".env"),
    plan: Annotated[str | None, typer.Option(
        hidden=True, help="A whole plan, from a parent process (arbitrex's own use).")] = None,
) -> None:
    """Collect ticks from a source into the store until Ctrl-C, SIGTERM or --duration.

    With --source mt5 and several [[venues]] in --config (or --source sim and several
    --venues), one worker process runs per venue; a failing venue does not stop the others.

    Example: arbitrex collect --source sim --symbols EURUSD,USDJPY --duration 60
    """
    chosen = CollectPlan(
        source=source, symbols=symbols, file=str(file) if file is not None else None,
        rate=rate, seed=seed, config=_config(config), venues=sim_venues(venues, source),
        venue=venue, poll_interval=poll_interval, store=store, env_file=str(env_file),
        duration=duration, metrics_port=metrics_port, started_ns=time.time_ns())
    run(from_json(CollectPlan, plan) if plan is not None else chosen)


def _config(config: Path | None) -> str | None:
    path = venues_file(config)
    return str(path) if path is not None else None
