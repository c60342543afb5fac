"""arbitrex episodes: when a cross-venue edge was real money, from history."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

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
from arbitrex.cli.export import out_format
from arbitrex.cli.tailing import from_store
from arbitrex.cli.timerange import symbol_list, time_range
from arbitrex.config import Settings, load_costs
from arbitrex.episodes import EpisodeEngine, from_history, summarize
from arbitrex.episodes.notify import NOTIFY_ON, Notifier
from arbitrex.errors import ConfigError
from arbitrex.formats import write_episodes
from arbitrex.formats.csvfile import plain
from arbitrex.history import History
from arbitrex.model.costs import Costs
from arbitrex.model.episode import Episode
from arbitrex.runtime.stop import Stop
from arbitrex.stores import open_store

__all__ = ["episodes"]

@friendly(flags={"TICK_QUEUE_BACKEND": "--store", "config": "--config", "out": "--out",
                 "STALE_AFTER_MS": "--stale-after-ms", "notify": "--notify",
                 "notify_on": "--notify-on"})
def episodes(
    from_: FromOpt = None,
    to: ToOpt = None,
    symbols: OnlySymbolsOpt = None,
    venues: OnlyVenuesOpt = None,
    json: Annotated[bool, typer.Option("--json", help="Print one episode per line.")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Write the episodes to this file.", show_default=False)] = None,
    format: Annotated[str | None, typer.Option(
        "--format", help="ndjson, csv or parquet (default: from --out's extension).",
        show_default=False)] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", help="Live instead: from the latest stored tick of each venue, each "
        "episode as it opens and as it ends, until Ctrl-C.")] = False,
    notify: Annotated[list[str] | None, typer.Option(
        "--notify", help="With --follow: send a message for each episode to this Apprise URL "
        "(tgram://, slack://, discord://, mailto://, ntfy://, json://host/path, ...; "
        "repeatable; pip install 'arbitrex[notify]').", show_default=False)] = None,
    notify_on: Annotated[str, typer.Option(
        "--notify-on", help="Which episodes --notify sends: open, closed or both.")] = "open",
    store: StoreOpt = None,
    config: ConfigOpt = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Every episode of the history (store and archive): a run of states in which selling at
    one venue and buying at another paid more than both venues' costs; how long it lasted,
    how much it paid, and who closed it. A table and a summary per pair on a terminal,
    NDJSON otherwise (or with --json), or a file with --out.

    Example: arbitrex episodes --symbols EURUSD --from 2026-11-20T00:00:00Z --out e.csv
    """
    settings = settings_for(env_file, TICK_QUEUE_BACKEND=store)
    if notify and not follow:
        raise ConfigError("notify", "sends live episodes", "add --follow")
    if notify_on not in NOTIFY_ON:
        raise ConfigError("notify_on", f"{notify_on!r} is not open, closed or both",
                          "use --notify-on open, closed or both")
    if follow:
        notifier = Notifier(notify, on=NOTIFY_ON[notify_on]) if notify else None
        try:
            _follow(settings, symbol_list(symbols), symbol_list(venues),
                    load_costs(venues_file(config)), json or not sys.stdout.isatty(), notifier)
        finally:
            if notifier is not None:
                notifier.close()
        return
    start, end = time_range(from_, to)
    fmt = out_format(out, format) if out is not None else None
    costs = load_costs(venues_file(config))
    with History.of(settings) as history:
        found = from_history(list(symbol_list(symbols)) or None,
                             list(symbol_list(venues)) or None, start, end, history=history,
                             stale_after_ms=settings.stale_after_ms, costs=costs)
        if out is not None and fmt is not None:
            written = write_episodes(found, out, fmt)
            typer.echo(f"wrote {written} episodes to {out}", err=True)
        elif json or not sys.stdout.isatty():
            for episode in found:
                sys.stdout.buffer.write(orjson.dumps(episode.record()) + b"\n")
        else:
            _show(list(found), bool(costs))


def _follow(settings: Settings, symbols: tuple[str, ...], venues: tuple[str, ...], costs: Costs,
            as_json: bool, notifier: Notifier | None) -> None:
    """Live episodes: the engine fed the stored snapshot, then every tick as it is stored."""
    tick_store = open_store(settings)
    wanted = list(symbols) or sorted({s for _, s in tick_store.streams()} |
                                     set(settings.symbols))
    engine = EpisodeEngine(stale_after_ms=settings.stale_after_ms, costs=costs)
    console = Console()
    try:
        with Stop.on_signals() as stop:
            typer.echo(f"following episodes of {', '.join(wanted)} (Ctrl-C to stop)", err=True)
            for event in from_store(tick_store, tick_store, wanted, stop=stop):
                tick = event.tick
                if tick is None or (venues and tick.venue not in venues):
                    continue
                for episode in engine.feed(tick):
                    if as_json:
                        sys.stdout.buffer.write(orjson.dumps(episode.record()) + b"\n")
                        sys.stdout.buffer.flush()
                    else:
                        console.print(_line(episode), highlight=False)
                    if notifier is not None:
                        notifier(episode)
    except BrokenPipeError:  # the reader went away: done
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        tick_store.close()


def _line(e: Episode) -> str:
    head = f"{_utc(e.start_msc)}  {e.symbol} sell {e.sell} / buy {e.buy}"
    if e.state == "open":
        return f"[green]open  [/] {head}  net {_points(e.open_net)}"
    return (f"[dim]closed[/] {head}  after {e.duration_ms:,.0f} ms, peak {_points(e.peak_net)}, "
            f"{e.reason} ({e.closed_by})")


def _utc(msc: int) -> str:
    return datetime.fromtimestamp(msc / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _points(value: float | None) -> str:
    """A net edge in price units, as a plain decimal (symbols quote different digits)."""
    return "" if value is None else plain(round(value, 10))


def _show(found: list[Episode], with_costs: bool) -> None:
    console = Console()
    what = "net of costs" if with_costs else "before costs (no [costs] in the venues file)"
    table = Table(title=f"episodes — {len(found)} (the last 200 shown), net edges in price "
                  f"units, {what}",
                  title_justify="left")
    for column in ("symbol", "sell", "buy", "start (UTC)", "duration", "open", "peak",
                   "mean", "states", "closed by"):
        table.add_column(column, justify="left" if column in ("symbol", "sell", "buy",
                                                              "closed by") else "right")
    for e in found[-200:]:
        table.add_row(e.symbol, e.sell, e.buy, _utc(e.start_msc),
                      "open" if e.duration_ms is None else f"{e.duration_ms:,.0f} ms",
                      _points(e.open_net), _points(e.peak_net), _points(e.mean_net),
                      str(e.states), f"{e.closed_by} ({e.reason})" if e.closed_by else "")
    console.print(table)
    pairs = Table(title="per pair", title_justify="left")
    for column in ("symbol", "sell", "buy", "episodes", "duration median", "p90", "longest",
                   "peak median", "time open"):
        pairs.add_column(column, justify="left" if column in ("symbol", "sell", "buy")
                         else "right")
    for s in summarize(found):
        pairs.add_row(s.symbol, s.sell, s.buy, str(s.episodes),
                      *(f"{v:,.0f} ms" if v is not None else "" for v in
                        (s.duration_median_ms, s.duration_p90_ms, s.longest_ms)),
                      _points(s.peak_net_median), f"{s.open_ms / 1000:,.1f} s")
    console.print(pairs)
