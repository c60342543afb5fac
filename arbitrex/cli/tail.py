"""arbitrex tail: a live view of symbols in the terminal, or NDJSON."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, TypeVar

import orjson
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from arbitrex.cli.common import ConfigOpt, EnvFile, StoreOpt, friendly, settings_for, venues_file
from arbitrex.cli.symbols import missing_note
from arbitrex.cli.tailing import (
    BestEvent,
    TailEvent,
    best_views,
    from_server,
    from_store,
    server_views,
)
from arbitrex.client import ws_url
from arbitrex.config import load_costs
from arbitrex.errors import ConfigError, TickError
from arbitrex.model import Best
from arbitrex.model.tick import Tick, check_symbol, digits_of, to_record
from arbitrex.runtime.stop import Stop
from arbitrex.stores import TickStore, open_store

__all__ = ["tail"]

E = TypeVar("E")


class _Row:
    __slots__ = ("tick", "stamps", "gaps", "digits")

    def __init__(self, tick: Tick) -> None:
        self.tick = tick
        self.stamps: deque[float] = deque(maxlen=10_000)
        self.gaps = 0
        self.digits = 0  # the most decimals seen: 1.0850 is a 5-digit quote ending in 0

    def update(self, tick: Tick) -> None:
        self.tick = tick
        self.digits = max(self.digits, digits_of(tick.bid), digits_of(tick.ask))


def _table(rows: dict[tuple[str, str], _Row], source: str) -> Table:
    """A row per venue and symbol. Prices and spreads of a symbol are in one point across its
    venues (the most decimals any of them quotes), so that spreads compare: a broker quoting
    fewer digits does not look ten times tighter."""
    table = Table(title=f"arbitrex tail — {source}", title_justify="left")
    for name in ("symbol", "venue", "bid", "ask", "spread (pts)", "ticks/s", "age", "seq"):
        table.add_column(name, justify="left" if name in ("symbol", "venue") else "right")
    now = time.monotonic()
    point: dict[str, int] = {}
    for (_, symbol), row in rows.items():
        point[symbol] = max(point.get(symbol, 0), row.digits)
    for key in sorted(rows, key=lambda k: (k[1], k[0])):
        row = rows[key]
        t = row.tick
        while row.stamps and now - row.stamps[0] > 5.0:
            row.stamps.popleft()
        digits = point[t.symbol]
        spread = round((t.ask - t.bid) * 10**digits)
        age = max(0.0, time.time() - t.time_msc / 1000)
        table.add_row(t.symbol, t.venue, f"{t.bid:.{digits}f}", f"{t.ask:.{digits}f}",
                      str(spread), f"{len(row.stamps) / 5:.1f}",
                      f"{age:.1f}s" if age < 120 else f"{age / 60:.0f}m",
                      f"{t.seq}" + (f" ({row.gaps} gaps)" if row.gaps else ""))
    return table


@friendly(flags={"url": "--url", "TICK_QUEUE_BACKEND": "--store", "best": "--best",
                 "config": "--config"})
def tail(
    symbols: Annotated[list[str], typer.Argument(help="Symbols to follow, e.g. EURUSD GBPUSD.")],
    url: Annotated[str | None, typer.Option(
        help="Follow a server (ws://HOST:PORT/ws) instead of reading the store.",
        show_default=False)] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON tick per line.")] = False,
    count: Annotated[int | None, typer.Option(
        help="Exit after this many ticks (with --best: views).", min=1,
        show_default=False)] = None,
    best: Annotated[bool, typer.Option(
        "--best", help="The cross-venue view: each venue's quote, the best bid and ask, the "
        "edges between venues (with --json: best frames); with --url, as the server sends "
        "it.")] = False,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Follow live ticks of SYMBOLS: a table on a terminal, or NDJSON with --json.

    Example: arbitrex tail EURUSD --json --count 10
    """
    settings = settings_for(env_file, TICK_QUEUE_BACKEND=store)
    wanted = [s for arg in symbols for s in arg.split(",") if s]
    for symbol in wanted:
        try:
            check_symbol(symbol)
        except TickError as exc:
            raise ConfigError("SYMBOL", str(exc), "pass symbols like EURUSD") from None
    token = settings.ws_token.reveal() if settings.ws_token else None
    if url:
        ws_url(url, token)  # a bad URL is bad usage: refused before anything starts
    with Stop.on_signals() as stop:
        tick_store: TickStore | None = None
        if url:
            events = from_server(url, wanted, stop=stop, token=token,
                                 view="best" if best else "ticks")
            source = url
        else:
            tick_store = open_store(settings)
            note = missing_note(wanted, (s for _, s in tick_store.streams()))
            if note is not None:
                typer.echo(f"arbitrex tail: {note}; waiting for them (Ctrl-C to stop)",
                           err=True)
            events = from_store(tick_store, tick_store, wanted, stop=stop)
            source = repr(tick_store)
        try:
            if best:
                views = (server_views(events) if url else
                         best_views(events, stale_after_ms=settings.stale_after_ms,
                                    costs=load_costs(venues_file(config))))
                if json or not sys.stdout.isatty():
                    _print_views(views, count, stop)
                else:
                    _show_views(views, count, stop, source)
            elif json or not sys.stdout.isatty():
                _print_json(events, count, stop)
            else:
                _show_table(events, count, stop, source)
        except BrokenPipeError:  # the reader went away (`| head -1`): done, not an error
            stop.set("output closed")
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        finally:
            if tick_store is not None:
                tick_store.close()


def _marks(event: TailEvent | BestEvent) -> dict[str, bool]:
    """The marks a record is printed with, as the server sent them."""
    return {**({"replay": True} if event.replay else {}),
            **({"snapshot": True} if event.snapshot else {})}


def _print_json(events: Iterable[TailEvent], count: int | None, stop: Stop) -> None:
    out = sys.stdout.buffer
    seen = 0
    for event in events:
        if event.kind == "idle":
            continue
        if event.tick is None:
            out.write(orjson.dumps(event.gap) + b"\n")
        else:
            out.write(orjson.dumps(to_record(event.tick, **_marks(event))) + b"\n")
            seen += 1
        out.flush()
        if count is not None and seen >= count:
            stop.set("count reached")
            break


def _show_table(events: Iterable[TailEvent], count: int | None, stop: Stop, source: str
                ) -> None:
    rows: dict[tuple[str, str], _Row] = {}

    def take(event: TailEvent) -> bool:
        if event.tick is not None:
            row = rows.get(event.tick.key)
            if row is None:
                row = rows[event.tick.key] = _Row(event.tick)
            row.update(event.tick)
            if not event.snapshot:
                row.stamps.append(time.monotonic())
            return True
        if event.gap is not None:
            for key, row in rows.items():
                if key[1] == event.gap.get("symbol"):
                    row.gaps += 1
        return False

    _live(events, take, lambda: _table(rows, source), count, stop)


def _live(events: Iterable[E], take: Callable[[E], bool], render: Callable[[], Table],
          count: int | None, stop: Stop) -> None:
    """Redraw ``render()`` at most ten times a second while ``take`` applies each event
    (true when it counts towards ``count``); stop after ``count``."""
    seen = 0
    with Live(render(), console=Console(), refresh_per_second=4) as live:
        last_draw = 0.0
        for event in events:
            seen += take(event)
            now = time.monotonic()
            if now - last_draw > 0.1:
                live.update(render())
                last_draw = now
            if count is not None and seen >= count:
                stop.set("count reached")
                break
        live.update(render())


def _print_views(views: Iterable[BestEvent], count: int | None, stop: Stop) -> None:
    out = sys.stdout.buffer
    seen = 0
    for event in views:
        if event.view is None:
            continue
        out.write(event.view.encode(**_marks(event)) + b"\n")
        out.flush()
        seen += 1
        if count is not None and seen >= count:
            stop.set("count reached")
            break


def _view_table(views: dict[str, Best], source: str) -> Table:
    """A row per venue of each symbol: the best bid and ask highlighted, stale rows dimmed,
    the top edges below (positive ones green)."""
    table = Table(title=f"arbitrex tail --best — {source}", title_justify="left")
    for name in ("symbol", "venue", "bid", "ask", "spread (pts)", "edge (pts)", "age", "lag",
                 ""):
        table.add_column(name, justify="left" if name in ("symbol", "venue", "") else "right")
    for symbol in sorted(views):
        view = views[symbol]
        digits = max((max(digits_of(q.bid), digits_of(q.ask)) for q in view.venues.values()),
                     default=0)
        for venue, q in sorted(view.venues.items()):
            bid = f"{q.bid:.{digits}f}"
            ask = f"{q.ask:.{digits}f}"
            if venue == view.bid_venue:
                bid = f"[bold green]{bid}[/]"
            if venue == view.ask_venue:
                ask = f"[bold cyan]{ask}[/]"
            age = (view.time_msc - q.time_msc) / 1000
            table.add_row(symbol, venue, bid, ask, str(round((q.ask - q.bid) * 10**digits)),
                          "", f"{age:.1f}s", f"{q.lag_ms:.0f}ms", "stale" if q.stale else "",
                          style="dim" if q.stale else None)
        for edge in view.edges[:3]:  # sorted by net: after both venues' costs
            colour = "green" if edge.net > 0 else "red"
            shown = f"{edge.edge * 10**digits:+.1f}"
            if edge.net != edge.edge:
                shown += f" (net {edge.net * 10**digits:+.1f})"
            table.add_row("", f"sell {edge.sell} / buy {edge.buy}", "", "", "",
                          f"[{colour}]{shown}[/]", "", "", "edge")
    return table


def _show_views(views: Iterable[BestEvent], count: int | None, stop: Stop, source: str
                ) -> None:
    shown: dict[str, Best] = {}

    def take(event: BestEvent) -> bool:
        if event.view is None:
            return False
        shown[event.view.symbol] = event.view
        return True

    _live(views, take, lambda: _view_table(shown, source), count, stop)
