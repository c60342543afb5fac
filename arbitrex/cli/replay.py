"""arbitrex replay: stored or file ticks re-streamed at a chosen speed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer

from arbitrex.cli.common import (
    ConfigOpt,
    EnvFile,
    LoopOpt,
    StaleAfterOpt,
    StoreOpt,
    friendly,
    settings_for,
    venues_file,
)
from arbitrex.cli.progress import progress
from arbitrex.cli.timerange import symbol_list, time_range
from arbitrex.config import Settings, load_costs
from arbitrex.errors import ConfigError, StoreError
from arbitrex.history import count, of_file, ordered
from arbitrex.model.costs import Costs
from arbitrex.model.tick import Tick
from arbitrex.replay import feed, plan
from arbitrex.runtime import loops
from arbitrex.runtime.stop import Stop
from arbitrex.stores import open_store, open_writer
from arbitrex.stores.memory import MemoryStore
from arbitrex.stream.hub import Hub
from arbitrex.stream.server import ServerOptions, StreamServer, serve_until

__all__ = ["Plan", "parse_speed", "replay"]

Plan = Iterable[tuple[float, list[Tick]]]

log = logging.getLogger("arbitrex.replay")


def parse_speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise ConfigError("--speed", f"{text!r} is not a speed", "use a factor > 0 (1, 10) or max")
    return speed


@friendly(flags={"file": "FILE", "symbols": "--symbols", "WS_PORT": "--port",
                 "TICK_QUEUE_BACKEND": "--store", "STALE_AFTER_MS": "--stale-after-ms",
                 "config": "--config", "EVENT_LOOP": "--loop"})
def replay(
    file: Annotated[Path | None, typer.Argument(
        help="An NDJSON, CSV or Parquet export, or a MetaTrader 5 tick export; "
             "the store when omitted.", show_default=False)] = None,
    speed: Annotated[str, typer.Option(help="1 (original spacing), 10 (ten times faster), "
                                       "... or max.")] = "1",
    from_: Annotated[str | None, typer.Option(
        "--from", help="From this ISO-8601 UTC time (inclusive).", show_default=False)] = None,
    to: Annotated[str | None, typer.Option(
        help="Up to this ISO-8601 UTC time (exclusive).", show_default=False)] = None,
    symbols: Annotated[str | None, typer.Option(
        help="Only these symbols (an MT5 export needs exactly one: its symbol).",
        show_default=False)] = None,
    port: Annotated[int | None, typer.Option(
        help="Serve the replay over the WebSocket protocol here (env: WS_PORT).",
        show_default=False)] = None,
    into_store: Annotated[bool, typer.Option(
        "--into-store", help="Append into the store instead: venue V under `replay.V` "
        "(`replay` for an input that names no venue), seq kept; a rerun adds nothing.")
    ] = False,
    store: StoreOpt = None,
    stale_after_ms: StaleAfterOpt = None,
    loop: LoopOpt = None,
    config: ConfigOpt = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Re-stream history with its original spacing scaled by --speed: over WebSocket (frames
    marked "replay": true; it keeps serving after the end until stopped) or --into-store.

    Example: arbitrex replay ticks.ndjson --speed 10 --port 8001
    """
    settings = settings_for(env_file, TICK_QUEUE_BACKEND=store, WS_PORT=port,
                            STALE_AFTER_MS=stale_after_ms, EVENT_LOOP=loop)
    pace = parse_speed(speed)
    chosen = symbol_list(symbols)
    start, end = time_range(from_, to)
    source_store = None
    if file is not None:
        ticks: Iterable[Tick] = of_file(file, symbols=chosen, from_msc=start, to_msc=end,
                                        broker_timezone=settings.broker_timezone)
        total = len(ticks)  # type: ignore[arg-type]
    else:
        source_store = open_store(settings)
        archive = Path(settings.archive_dir)
        ticks = ordered(source_store, symbols=chosen, from_msc=start, to_msc=end,
                        archive=archive)
        total = count(source_store, symbols=chosen, from_msc=start, to_msc=end,
                      archive=archive)
    schedule = plan.schedule(ticks, speed=pace)
    try:
        with Stop.on_signals() as stop, progress("replay", total) as advance:
            if into_store:
                _into_store(schedule, settings, stop, advance, total)
            else:
                loops.run(_serve(schedule, settings, load_costs(venues_file(config)), stop,
                                 advance, total), settings.event_loop)
    finally:
        if source_store is not None:
            source_store.close()


def _into_store(schedule: Plan, settings: Settings, stop: Stop, advance: Callable[[int], None],
                total: int) -> None:
    target = open_writer(settings, venue=feed.REPLAY_VENUE)
    try:
        done = feed.into_store(schedule, target, progress=advance, stop=stop)
    finally:
        target.close()
    log.info("replayed %d of %d ticks into %r (%d stored, %d already there), each venue V "
             "under replay.V", done.read, total, target, done.stored, done.held)
    if done.lost:
        raise StoreError(
            f"{done.lost} of the {done.read} ticks read were not stored: the input holds "
            "several ticks of one venue and symbol with the same seq (or a seq older than "
            "one already stored), which one stream cannot keep; give each its own venue, or "
            "drop the seq column so that replay numbers them")


def _report_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("replay failed: %s", task.exception())


async def _serve(schedule: Plan, settings: Settings, costs: Costs, stop: Stop,
                 advance: Callable[[int], None], total: int) -> None:
    memory = MemoryStore()
    hub = Hub(memory, memory, replay=True, stale_after_ms=settings.stale_after_ms, costs=costs)
    options = ServerOptions.from_settings(settings)
    server = StreamServer(hub, options)
    blocked_since: list[float] = []

    def backlog(limit: float = 2.0) -> bool:
        """True while a reading client is behind; a client stuck for `limit` s is left to
        the slow-client policy (gap frames) instead of holding everyone back."""
        if not hub.reader_behind():
            blocked_since.clear()
            return False
        if not blocked_since:
            blocked_since.append(time.monotonic())
        return time.monotonic() - blocked_since[0] < limit

    async def deliver() -> None:
        sent = await feed.into_memory(schedule, memory.add, backlog=backlog, progress=advance)
        log.info("replayed %d ticks; still serving (clients may resume with since) until "
                 "stopped", sent)

    def ready(port: int) -> None:
        log.info("replaying %d ticks on ws://%s:%d/ws (page: http://%s:%d/)", total,
                 options.host, port, options.host, port)
        task = asyncio.ensure_future(deliver())
        task.add_done_callback(_report_failure)

    await serve_until(server, stop, ready)
