"""collect, run: the plan of a collect process carried out. A main process with several
venues supervises one worker process per venue (each given its own plan) and, on a
terminal, draws their table; a process with one venue collects it. Both run the daily
archiving (RETAIN_DAYS) unless they are a venue's worker."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from arbitrex.cli.common import settings_for, tag_logs
from arbitrex.collect.archiving import run_daily
from arbitrex.collect.board import Board, Row
from arbitrex.collect.lease import describe
from arbitrex.collect.loop import Collector, CollectStats
from arbitrex.collect.supervisor import supervise
from arbitrex.config import Settings
from arbitrex.errors import (
    ArbitrexError,
    ConfigError,
    ListenError,
    SourceUnavailable,
    VenueHeld,
)
from arbitrex.plans import ArchivePlan, CollectPlan
from arbitrex.runtime.stop import Stop, StopFlag
from arbitrex.sinks.base import Sink
from arbitrex.sources import make_source, require_mt5
from arbitrex.sources.mt5.venues import Venue, declares_venues, default_venue, load_venues
from arbitrex.stores import Leases, Reports, open_store, open_writer

__all__ = ["Rates", "run"]

log = logging.getLogger("arbitrex.collect")


def run(plan: CollectPlan) -> None:
    """Carry out ``plan`` until stopped, its duration is over or its source ends."""
    settings = settings_for(Path(plan.env_file), **plan.flags())
    with Stop.on_signals() as stop:
        if plan.archives:
            _archive_daily(settings, plan, stop)
        chosen = None
        if plan.source == "mt5":
            config = Path(plan.config) if plan.config is not None else None
            mt5_venues = _venues(settings, config, plan.venue,
                                 symbols_flag=plan.symbols is not None)
            if len(mt5_venues) > 1:
                for v in mt5_venues:
                    require_mt5(v.mt5_bridge)  # refuse early, with the hint, if no package
                raise typer.Exit(_supervise(plan, [v.name for v in mt5_venues], stop,
                                            settings))
            chosen = mt5_venues[0]
        if len(plan.venues) > 1 and plan.venue is None:
            raise typer.Exit(_supervise(plan, list(plan.venues), stop, settings))
        _collect_one(plan, settings, chosen, stop)


def _collect_one(plan: CollectPlan, settings: Settings, chosen: Venue | None, stop: Stop
                 ) -> None:
    try:
        tick_source = make_source(
            plan.source, settings, rate=plan.rate, seed=plan.seed, venue=chosen,
            poll_interval=plan.poll_interval, started_ns=plan.started_ns,
            file=Path(plan.file) if plan.file is not None else None,
            symbols=settings.symbols if plan.symbols is not None else (),
            brokers=plan.venues, broker=plan.venue)
    except SourceUnavailable as exc:
        raise SourceUnavailable(f"{exc}; to try arbitrex without a terminal: "
                                "--source sim") from None
    tag_logs(tick_source.venue)
    tick_store = open_writer(settings, venue=tick_source.venue)
    collector = Collector(tick_source, tick_store, sinks=_sinks(settings))
    if plan.metrics_port is not None:
        _serve_metrics(collector, plan.metrics_port)
    log.info("collecting %s from %s into %r", ",".join(
        chosen.symbols if chosen else settings.symbols), plan.source, tick_store)
    _run(collector, stop, plan)


def _venues(settings: Settings, config: Path | None, only: str | None, *, symbols_flag: bool
            ) -> list[Venue]:
    """The MT5 venues to collect: those of ``config`` when there is one (only ``only`` when
    given), else one from the settings."""
    venues = (load_venues(config, settings, symbols_flag=symbols_flag)
              if config is not None and declares_venues(config) else [default_venue(settings)])
    if only is not None:
        venues = [v for v in venues if v.name == only]
        if not venues:
            raise ConfigError("venue", f"no venue named {only!r} in {config}",
                              "use a name from its [[venues]]")
    return venues


def _supervise(plan: CollectPlan, names: list[str], stop: Stop, settings: Settings) -> int:
    """One worker process per venue (the MetaTrader5 package is a per-process singleton;
    each simulated broker is a process too, like a terminal), each given its plan. On a
    terminal, a live table of every venue and symbol, the workers' log lines above it."""
    board = _draws_table(plan)
    commands = {f"venue {name}": plan.worker(name, board=board).command() for name in names}
    log.info("starting one worker per venue: %s", ", ".join(commands))
    if not board:
        return supervise(commands, stop=stop)
    states: dict[str, str] = {}
    console = Console(stderr=True)
    done = Stop()
    drawing = threading.Thread(target=_draw_board, args=(names, states, settings, console,
                                                         done), name="board", daemon=True)
    drawing.start()
    try:
        return supervise(commands, stop=stop, states=states,
                         output=lambda line: console.print(line, markup=False,
                                                           highlight=False))
    finally:
        done.set("stopped")
        drawing.join(timeout=5)


def _draws_table(plan: CollectPlan) -> bool:
    """Whether this process draws a live table: one a user started, on a terminal (workers
    and up's children log lines)."""
    return plan.role == "main" and sys.stderr.isatty()


def _draw_board(venues: list[str], workers: dict[str, str], settings: Settings,
                console: Console, done: StopFlag) -> None:
    """Every second: the last stored tick of each venue's streams, the venues' leases (their
    sources' state) and the workers' state, as a table."""
    board = Board(venues)
    store = None
    with Live(Table(title="arbitrex collect — starting"), console=console,
              refresh_per_second=4) as live:
        while not done.wait(1.0):
            try:
                store = store or open_store(settings)
                lasts = {(v, s): tick for v, s in store.streams() if v in venues
                         if (tick := store.last(v, s)) is not None}
                leases = store.leases() if isinstance(store, Leases) else []
                title = f"arbitrex collect — {len(venues)} venues into {store!r}"
            except ArbitrexError as exc:
                lasts, leases, title = {}, [], f"arbitrex collect — store unreadable: {exc}"
            states = {name.removeprefix("venue "): state for name, state in workers.items()}
            rows = board.rows(lasts, leases, states, now_s=time.monotonic(),
                              now_ms=time.time_ns() // 1_000_000)
            live.update(_board_table(rows, title))
    if store is not None:
        store.close()


def _board_table(rows: list[Row], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("venue", "symbol", "ticks/s", "last tick", "stored", "source"):
        table.add_column(column, justify="left" if column in ("venue", "symbol", "source")
                         else "right")
    for row in rows:
        age = "" if row.age_s is None else (f"{row.age_s:.1f} s ago" if row.age_s < 120
                                            else f"{row.age_s / 60:.0f} min ago")
        table.add_row(row.venue, row.symbol, f"{row.rate:.1f}", age, f"{row.stored:,}",
                      row.state, style=None if row.state.startswith(("running", "simulating",
                                                                      "connected"))
                      else "yellow")
    return table


def _archive_daily(settings: Settings, plan: CollectPlan, stop: StopFlag) -> None:
    """With RETAIN_DAYS, archive old days in a child process daily."""
    if settings.retain_days is None:
        return
    archiving = ArchivePlan(settings.retain_days, store=plan.store, env_file=plan.env_file)
    threading.Thread(target=run_daily, args=(archiving, stop), name="archive",
                     daemon=True).start()


def _sinks(settings: Settings) -> list[Sink]:
    if not settings.kafka_enabled:  # then no Kafka client is ever created
        return []
    from arbitrex.sinks.kafka import KafkaSink

    assert settings.kafka_bootstrap_servers is not None
    log.info("Kafka sink on: topic %s", settings.kafka_topic)
    return [KafkaSink(settings.kafka_bootstrap_servers, settings.kafka_topic)]


def _serve_metrics(collector: Collector, port: int) -> None:
    from arbitrex.collect.metrics import serve_metrics

    try:
        serve_metrics(collector, port)
    except OSError as exc:
        raise ListenError("metrics_port", f"cannot serve metrics on 127.0.0.1:{port}: "
                          f"{exc.strerror}") from exc


def _run(collector: Collector, stop: Stop, plan: CollectPlan) -> None:
    """Collect until stopped, with the status reporter beside; close everything after."""
    reporter = threading.Thread(target=_report, args=(collector, stop, plan), daemon=True)
    reporter.start()
    try:
        collector.run(stop=stop, duration=plan.duration)
    finally:
        stop.set("done")
        reporter.join(timeout=2)
        for sink in collector.sinks:
            sink.close()
        collector.store.close()
    stats = collector.stats
    log.info("stopped: %d ticks received, %d stored in %d batches%s", stats.received,
             stats.total, stats.batches, f", {stats.rejected} rejected" if stats.rejected else "")
    if collector.lost is not None:
        raise VenueHeld(collector.source.venue, f"venue {collector.source.venue} was taken "
                        f"over by {describe(collector.lost)} while this collector was "
                        "frozen or cut off; it stopped so as not to mix two feeds in one "
                        "stream")


Rates = dict[tuple[str, str], float]


def _rates(stats: CollectStats, before: dict[tuple[str, str], int], elapsed: float) -> Rates:
    return {key: (n - before.get(key, 0)) / elapsed for key, n in stats.ticks.items()}


def _table(stats: CollectStats, rates: Rates, status: str) -> Table:
    table = Table(title=f"arbitrex collect — {status}", title_justify="left")
    for column in ("venue", "symbol", "ticks", "ticks/s", "last seq"):
        table.add_column(column, justify="left" if column in ("venue", "symbol") else "right")
    for key in sorted(stats.ticks):
        table.add_row(key[0], key[1], f"{stats.ticks[key]:,}", f"{rates.get(key, 0):.1f}",
                      str(stats.last_seq.get(key, "")))
    return table


def _report(collector: Collector, stop: StopFlag, plan: CollectPlan) -> None:
    """The live status line on a terminal; a log line every 10 s otherwise."""
    stats = collector.stats
    tty = _draws_table(plan)
    interval = 1.0 if tty else 10.0
    before: dict[tuple[str, str], int] = {}
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
            status = "; ".join([collector.source.status(), *(
                part.status() for part in (collector.store, *collector.sinks)
                if isinstance(part, Reports))])
            if live is not None:
                live.update(_table(stats, rates, status))
            elif plan.board:  # the parent's table says it
                continue
            else:
                per_symbol = " ".join(f"{k[1]}={v:.1f}/s" for k, v in sorted(rates.items()))
                log.info("%s: %d ticks stored; %s", status, stats.total, per_symbol or "no ticks")
    finally:
        if live is not None:
            live.stop()
