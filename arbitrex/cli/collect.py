"""arbitrex collect: source -> store."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

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
    settings_for,
    tag_logs,
    venues_file,
)
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
    TickError,
    VenueHeld,
)
from arbitrex.model.tick import check_symbol
from arbitrex.runtime.stop import Stop, StopFlag
from arbitrex.sinks.base import Sink
from arbitrex.sources import make_source, require_mt5
from arbitrex.sources.mt5.venues import Venue, default_venue, load_venues
from arbitrex.stores import Leases, Reports, open_store, open_writer

__all__ = ["Rates", "collect"]

log = logging.getLogger("arbitrex.collect")


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
) -> None:
    """Collect ticks from a source into the store until Ctrl-C, SIGTERM or --duration.

    With --source mt5 and several [[venues]] in --config (or --source sim and several
    --venues), one worker process runs per venue; a failing venue does not stop the others.

    Example: arbitrex collect --source sim --symbols EURUSD,USDJPY --duration 60
    """
    settings = settings_for(env_file, SYMBOLS=symbols, TICK_QUEUE_BACKEND=store)
    venues_path = venues_file(config)
    # Symbols with nothing stored are collected from this instant (a worker gets its parent's)
    started_ns = int(os.environ.get("ARBITREX_STARTED_NS") or time.time_ns())
    brokers = _sim_venues(venues, source)
    # the options an archive run (RETAIN_DAYS) is given
    archive_options = ["--env-file", str(env_file), *(["--store", store] if store else [])]
    argv = ["collect", "--source", source, "--env-file", str(env_file)]
    for flag, value in (("--symbols", symbols), ("--store", store), ("--duration", duration),
                        ("--poll-interval", poll_interval)):
        if value is not None:
            argv += [flag, str(value)]
    with Stop.on_signals() as stop:
        chosen = None
        if source == "mt5":
            mt5_venues = _venues(settings, venues_path, venue, symbols_flag=symbols is not None)
            if len(mt5_venues) > 1:
                for v in mt5_venues:
                    require_mt5(v.mt5_bridge)  # refuse early, with the hint, if no package
                _archive_daily(settings, archive_options, stop)
                raise typer.Exit(_supervise([v.name for v in mt5_venues],
                                            [*argv, "--config", str(venues_path)], stop,
                                            started_ns, settings))
            chosen = mt5_venues[0]
        if len(brokers) > 1 and venue is None:
            _archive_daily(settings, archive_options, stop)
            raise typer.Exit(_supervise(list(brokers), [
                *argv, "--venues", ",".join(brokers), "--rate", str(rate), "--seed", str(seed)],
                stop, started_ns, settings))
        try:
            tick_source = make_source(source, settings, rate=rate, seed=seed, venue=chosen,
                                      poll_interval=poll_interval, started_ns=started_ns,
                                      file=file,
                                      symbols=settings.symbols if symbols is not None else (),
                                      brokers=brokers, broker=venue)
        except SourceUnavailable as exc:
            raise SourceUnavailable(f"{exc}; to try arbitrex without a terminal: "
                                    "--source sim") from None
        tag_logs(tick_source.venue)
        tick_store = open_writer(settings, venue=tick_source.venue)
        sinks = _sinks(settings)
        collector = Collector(tick_source, tick_store, sinks=sinks)
        if metrics_port is not None:
            _serve_metrics(collector, metrics_port)
        log.info("collecting %s from %s into %r", ",".join(
            chosen.symbols if chosen else settings.symbols), source, tick_store)
        _archive_daily(settings, archive_options, stop)
        _run(collector, stop, duration)


def _venues(settings: Settings, config: Path | None, only: str | None, *, symbols_flag: bool
            ) -> list[Venue]:
    """The MT5 venues to collect: those of ``config`` when there is one (only ``only`` when
    given), else one from the settings."""
    venues = (load_venues(config, settings, symbols_flag=symbols_flag)
              if config is not None else [default_venue(settings)])
    if only is not None:
        venues = [v for v in venues if v.name == only]
        if not venues:
            raise ConfigError("venue", f"no venue named {only!r} in {config}",
                              "use a name from its [[venues]]")
    return venues


def _sim_venues(text: str | None, source: str) -> tuple[str, ...]:
    """The simulated brokers --venues names (none: the simulator's one, sim)."""
    if text is None:
        return ()
    if source != "sim":
        raise ConfigError("venues", "only the simulator takes venue names here",
                          "for MT5 terminals, give each a [[venues]] table in arbitrex.toml")
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    for name in names or ("",):
        try:
            check_symbol(name)
        except TickError:
            raise ConfigError("venues", f"{name!r} is not a valid venue name",
                              "use letters, digits and . _ # -, e.g. icm,pepper,oanda") from None
    return names


def _supervise(names: list[str], argv: list[str], stop: Stop, started_ns: int,
               settings: Settings) -> int:
    """One worker process per venue (the MetaTrader5 package is a per-process singleton;
    each simulated broker is a process too, like a terminal). On a terminal, a live table
    of every venue and symbol, the workers' log lines printed above it."""
    commands = {f"venue {name}": [sys.executable, "-m", "arbitrex", *argv, "--venue", name]
                for name in names}
    env = dict(os.environ, ARBITREX_WORKER="1", ARBITREX_STARTED_NS=str(started_ns))
    log.info("starting one worker per venue: %s", ", ".join(commands))
    if not _on_terminal():
        return supervise(commands, stop=stop, env=env)
    env[_BOARD] = "1"  # the table shows what the workers' status lines would say
    states: dict[str, str] = {}
    console = Console(stderr=True)
    done = Stop()
    board = threading.Thread(target=_draw_board, args=(names, states, settings, console, done),
                             name="board", daemon=True)
    board.start()
    try:
        return supervise(commands, stop=stop, env=env, states=states,
                         output=lambda line: console.print(line, markup=False,
                                                           highlight=False))
    finally:
        done.set("stopped")
        board.join(timeout=5)


#: Set for workers whose parent draws the table: they log no status line every 10 s.
_BOARD = "ARBITREX_BOARD"


def _on_terminal() -> bool:
    """Whether this collect draws a live table (workers and up's children log lines)."""
    return sys.stderr.isatty() and not os.environ.get("ARBITREX_WORKER")


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


def _archive_daily(settings: Settings, options: list[str], stop: StopFlag) -> None:
    """With RETAIN_DAYS, archive old days in a child process daily (in the parent only:
    venue workers leave it to their supervisor); ``options``: the archive command's."""
    if settings.retain_days is None or os.environ.get("ARBITREX_WORKER"):
        return
    threading.Thread(target=run_daily, args=(settings.retain_days, options, stop),
                     name="archive", daemon=True).start()


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


def _run(collector: Collector, stop: Stop, duration: float | None) -> None:
    """Collect until stopped, with the status reporter beside; close everything after."""
    reporter = threading.Thread(target=_report, args=(collector, stop), daemon=True)
    reporter.start()
    try:
        collector.run(stop=stop, duration=duration)
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


def _report(collector: Collector, stop: StopFlag) -> None:
    """The live status line on a terminal; a log line every 10 s otherwise."""
    stats = collector.stats
    tty = _on_terminal()
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
            elif os.environ.get(_BOARD):
                continue
            else:
                per_symbol = " ".join(f"{k[1]}={v:.1f}/s" for k, v in sorted(rates.items()))
                log.info("%s: %d ticks stored; %s", status, stats.total, per_symbol or "no ticks")
    finally:
        if live is not None:
            live.stop()
