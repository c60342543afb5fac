"""arbitrex collect: source -> store."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from arbitrex.cli.common import EnvFile, StoreOpt, friendly, settings_for
from arbitrex.collect import Collector, CollectStats
from arbitrex.errors import ArbitrexError, ConfigError
from arbitrex.sources import make_source, require_mt5
from arbitrex.stores import open_store
from arbitrex.supervisor import supervise
from arbitrex.venues import default_venue, load_venues

log = logging.getLogger("arbitrex.collect")


@friendly
def collect(
    source: Annotated[str, typer.Option(help="sim, mt5 or file.")] = "mt5",
    file: Annotated[Path | None, typer.Option(
        help="File: the ticks to collect (NDJSON, CSV, Parquet, or an MT5 tick export, whose "
             "one symbol --symbols names); venue = the file's name; collect ends at its end.",
        show_default=False)] = None,
    symbols: Annotated[str | None, typer.Option(
        help="Comma-separated symbols (env: SYMBOLS).", show_default=False)] = None,
    store: StoreOpt = None,
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds.", min=0, show_default=False)] = None,
    rate: Annotated[float, typer.Option(help="Simulator: ticks per second.", min=0.001)] = 50.0,
    seed: Annotated[int, typer.Option(help="Simulator: random seed (same seed, same prices).")] = 0,
    config: Annotated[Path, typer.Option(
        help="MT5: the venues file ([[venues]], one terminal each); used when it exists.")
    ] = Path("arbitrex.toml"),
    venue: Annotated[str | None, typer.Option(
        help="MT5: run only this venue of --config.", show_default=False)] = None,
    poll_interval: Annotated[float | None, typer.Option(
        help="Seconds between reads of the source: the MT5 terminal (default 0.05) or the "
             "simulator's feed (default 0.01). What one read returns is stored at once: "
             "shorter means lower latency from the event time and more CPU.",
        min=0.001, show_default=False)] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve collect's Prometheus metrics on 127.0.0.1:PORT/metrics.",
        show_default=False)] = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Collect ticks from a source into the store until Ctrl-C, SIGTERM or --duration.

    With --source mt5 and several [[venues]] in --config, one worker process runs per
    terminal; a failing venue does not stop the others.

    Example: arbitrex collect --source sim --symbols EURUSD,USDJPY --duration 60
    """
    settings = settings_for(env_file, SYMBOLS=symbols, TICK_QUEUE_BACKEND=store)
    # Symbols with nothing stored are collected from this instant (a worker gets its parent's)
    started_ns = int(os.environ.get("ARBITREX_STARTED_NS") or time.time_ns())
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    chosen = None
    if source == "mt5":
        venues = (load_venues(config, settings, symbols_flag=symbols is not None)
                  if config.exists() else [default_venue(settings)])
        if venue is not None:
            venues = [v for v in venues if v.name == venue]
            if not venues:
                raise ConfigError("--venue", f"no venue named {venue!r} in {config}",
                                  "use a name from its [[venues]]")
        if len(venues) > 1:
            for v in venues:
                require_mt5(v.mt5_bridge)  # refuse early, with the hint, if no package
            argv = ["collect", "--source", "mt5", "--config", str(config), "--env-file",
                    str(env_file)]
            for flag, value in (("--symbols", symbols), ("--store", store),
                                ("--duration", duration), ("--poll-interval", poll_interval)):
                if value is not None:
                    argv += [flag, str(value)]
            commands = {v.name: [sys.executable, "-m", "arbitrex", *argv, "--venue", v.name]
                        for v in venues}
            env = dict(os.environ, ARBITREX_WORKER="1", ARBITREX_STARTED_NS=str(started_ns))
            log.info("starting one worker per venue: %s", ", ".join(commands))
            raise typer.Exit(supervise(commands, stop=stop, env=env))
        chosen = venues[0]
    tick_source = make_source(source, settings, rate=rate, seed=seed, venue=chosen,
                              poll_interval=poll_interval, started_ns=started_ns, file=file,
                              symbols=settings.symbols if symbols is not None else ())
    tick_store = open_store(settings, role="writer", venue=tick_source.venue)
    sinks = []
    if settings.kafka_enabled:  # otherwise no Kafka client is ever created
        from arbitrex.sinks.kafka import KafkaSink

        assert settings.kafka_bootstrap_servers is not None
        sinks.append(KafkaSink(settings.kafka_bootstrap_servers, settings.kafka_topic))
        log.info("Kafka sink on: topic %s", settings.kafka_topic)
    collector = Collector(tick_source, tick_store, sinks=sinks)
    if metrics_port is not None:
        from arbitrex.collect_metrics import serve_metrics

        try:
            serve_metrics(collector, metrics_port)
        except OSError as exc:
            raise ArbitrexError(f"cannot serve metrics on 127.0.0.1:{metrics_port}: "
                                f"{exc.strerror}") from exc
    log.info("collecting %s from %s into %r", ",".join(chosen.symbols if chosen else
                                                       settings.symbols), source, tick_store)
    reporter = threading.Thread(target=_report, args=(collector, stop), daemon=True)
    reporter.start()
    try:
        collector.run(stop=stop, duration=duration)
    finally:
        stop.set()
        reporter.join(timeout=2)
        for sink in sinks:
            sink.close()
        tick_store.close()
    stats = collector.stats
    log.info("stopped: %d ticks received, %d stored in %d batches%s", stats.received,
             stats.total, stats.batches, f", {stats.rejected} rejected" if stats.rejected else "")


def _rates(stats: CollectStats, before: dict, elapsed: float) -> dict:
    return {key: (n - before.get(key, 0)) / elapsed for key, n in stats.ticks.items()}


def _table(stats: CollectStats, rates: dict, status: str) -> Table:
    table = Table(title=f"arbitrex collect — {status}", title_justify="left")
    for column in ("venue", "symbol", "ticks", "ticks/s", "last seq"):
        table.add_column(column, justify="left" if column in ("venue", "symbol") else "right")
    for key in sorted(stats.ticks):
        table.add_row(key[0], key[1], f"{stats.ticks[key]:,}", f"{rates.get(key, 0):.1f}",
                      str(stats.last_seq.get(key, "")))
    return table


def _report(collector: Collector, stop: threading.Event) -> None:
    """The live status line on a terminal; a log line every 10 s otherwise."""
    stats = collector.stats
    tty = sys.stderr.isatty() and not os.environ.get("ARBITREX_WORKER")
    interval = 1.0 if tty else 10.0
    before: dict = {}
    stamp = time.monotonic()
    console = Console(stderr=True)
    live = Live(_table(stats, {}, "starting"), console=console, refresh_per_second=4,
                transient=False) if tty else None
    if live is not None:
        live.start()
    try:
        while not stop.wait(interval):
            now = time.monotonic()
            snapshot = dict(stats.ticks)
            rates = _rates(stats, before, now - stamp)
            before, stamp = snapshot, now
            status = collector.source.status()
            for part in (collector.store, *collector.sinks):
                part_status = getattr(part, "status", None)
                if part_status is not None:
                    status += f"; {part_status()}"
            if live is not None:
                live.update(_table(stats, rates, status))
            else:
                per_symbol = " ".join(f"{k[1]}={v:.1f}/s" for k, v in sorted(rates.items()))
                log.info("%s: %d ticks stored; %s", status, stats.total, per_symbol or "no ticks")
    finally:
        if live is not None:
            live.stop()
