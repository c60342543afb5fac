"""arbitrex serve: store -> WebSocket clients, the demo page and HTTP probes."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
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
from arbitrex.config import Settings, load_costs
from arbitrex.model.costs import Costs
from arbitrex.plans import ServePlan, from_json
from arbitrex.runtime import loops, memtrace
from arbitrex.runtime.stop import Stop
from arbitrex.stores import open_store
from arbitrex.stream.hub import Hub
from arbitrex.stream.server import ServerOptions, StreamServer, serve_until

__all__ = ["serve"]

log = logging.getLogger("arbitrex.serve")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@friendly(flags={"WS_HOST": "--host", "WS_PORT": "--port", "TICK_QUEUE_BACKEND": "--store",
                 "STALE_AFTER_MS": "--stale-after-ms", "config": "--config",
                 "EVENT_LOOP": "--loop"})
def serve(
    host: Annotated[str | None, typer.Option(
        help="Address to listen on (env: WS_HOST; default 127.0.0.1).", show_default=False)] = None,
    port: Annotated[int | None, typer.Option(
        help="Port to listen on, 0 for any free one (env: WS_PORT; default 8000).",
        show_default=False)] = None,
    store: StoreOpt = None,
    slow_client: Annotated[str, typer.Option(
        help="What to do with a client that cannot keep up: gap (skip to the latest, with a "
             "gap frame) or close (1008; it may resume with since).")] = "gap",
    stale_after_ms: StaleAfterOpt = None,
    loop: LoopOpt = None,
    config: ConfigOpt = None,
    env_file: EnvFile = Path(".env"),
    plan: Annotated[str | None, typer.Option(
        hidden=True, help="A whole plan, from a parent process (arbitrex's own use).")] = None,
) -> None:
    """Stream stored ticks to WebSocket clients at ws://HOST:PORT/ws, with the demo page at /.

    Example: arbitrex serve --port 8000   (then open http://127.0.0.1:8000/)
    """
    if plan is not None:  # up's child
        given = from_json(ServePlan, plan)
        host, port, store, env_file = given.host, given.port, given.store, Path(given.env_file)
        config = Path(given.config) if given.config is not None else None
    settings = settings_for(env_file, WS_HOST=host, WS_PORT=port, TICK_QUEUE_BACKEND=store,
                            STALE_AFTER_MS=stale_after_ms, EVENT_LOOP=loop)
    if slow_client not in ("gap", "close"):
        raise typer.BadParameter("use gap or close", param_hint="--slow-client")
    if not _is_loopback(settings.ws_host) and settings.ws_token is None:
        log.warning("listening on %s without WS_TOKEN: anyone who can reach this address can "
                    "read the stream; set WS_TOKEN", settings.ws_host)
    costs = load_costs(venues_file(config))
    with Stop.on_signals() as stop:
        loops.run(_serve(settings, ServerOptions.from_settings(settings), slow_client, costs,
                         stop), settings.event_loop)


async def _serve(settings: Settings, options: ServerOptions, slow_client: str, costs: Costs,
                 stop: Stop) -> None:
    reader = open_store(settings)
    follower = open_store(settings)
    hub = Hub(reader, follower, slow_client=slow_client,
              stale_after_ms=settings.stale_after_ms, costs=costs)
    server = StreamServer(hub, options)

    def ready(port: int) -> None:
        log.info("serving on http://%s:%d/ (WebSocket ws://%s:%d/ws; event loop %s)",
                 options.host, port, options.host, port, loops.which(settings.event_loop))

    trace = memtrace.wanted()  # ARBITREX_TRACEMALLOC: what grows (scripts/memory_probe.py)
    tracer = asyncio.ensure_future(memtrace.trace_memory(trace)) if trace else None
    try:
        await serve_until(server, stop, ready)
    finally:
        if tracer is not None:
            tracer.cancel()
        reader.close()
        follower.close()
    log.info("stopped")
