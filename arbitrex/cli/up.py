"""arbitrex up: the whole stack in one terminal (collect and serve as child processes)."""

from __future__ import annotations

import logging
import threading
import time
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

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
    sim_venues,
    venues_file,
)
from arbitrex.collect.supervisor import supervise
from arbitrex.plans import CollectPlan, ServePlan
from arbitrex.runtime.stop import Stop, StopFlag

__all__ = ["up"]

log = logging.getLogger("arbitrex.up")


@friendly(flags={"SYMBOLS": "--symbols", "TICK_QUEUE_BACKEND": "--store", "WS_HOST": "--host",
                 "WS_PORT": "--port", "config": "--config"})
def up(
    source: SourceOpt = "mt5",
    symbols: SymbolsOpt = None,
    venues: VenuesOpt = None,
    store: StoreOpt = None,
    rate: RateOpt = 50.0,
    seed: SeedOpt = 0,
    config: ConfigOpt = None,
    poll_interval: PollIntervalOpt = None,
    host: Annotated[str | None, typer.Option(
        help="Address serve listens on (env: WS_HOST; default 127.0.0.1).",
        show_default=False)] = None,
    port: Annotated[int | None, typer.Option(
        help="Port serve listens on (env: WS_PORT; default 8000).", show_default=False)] = None,
    open_page: Annotated[bool, typer.Option(
        "--open", help="Open the page in the default browser once serve listens.")] = False,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Run collect and serve together until Ctrl-C: a child that dies is restarted (not one
    that stops on a configuration error); Ctrl-C or SIGTERM stops both cleanly.

    Example: arbitrex up --source sim --venues icm,pepper,oanda --open
    """
    settings = settings_for(env_file, SYMBOLS=symbols, TICK_QUEUE_BACKEND=store, WS_HOST=host,
                            WS_PORT=port)  # a bad setting stops here, before any child
    config_path = venues_file(config)
    # collect as up's child: log lines (no live table); each symbol new to the store is
    # collected from this instant
    collect = CollectPlan(
        source=source, symbols=symbols, rate=rate, seed=seed,
        config=str(config_path) if config_path is not None else None,
        venues=sim_venues(venues, source), poll_interval=poll_interval, store=store,
        env_file=str(env_file), started_ns=time.time_ns(), role="up")
    serve = ServePlan(settings.ws_host, settings.ws_port, store=store, env_file=str(env_file),
                      config=str(config_path) if config_path is not None else None)
    url = f"http://{settings.ws_host}:{settings.ws_port}/"
    with Stop.on_signals() as stop:
        if open_page:
            threading.Thread(target=_open_when_listening, args=(settings.ws_host,
                             settings.ws_port, url, stop), daemon=True).start()
        log.info("up: collect (%s) and serve on %s; Ctrl-C stops both", source, url)
        code = supervise({"collect": collect.command(), "serve": serve.command()},
                         stop=stop, stop_all_on=(2,))
    raise typer.Exit(max(code, 0))  # a child killed after the stop timeout is not a failure


def _open_when_listening(host: str, port: int, url: str, stop: StopFlag) -> None:
    import socket

    deadline = time.monotonic() + 30
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                break
        except OSError:
            stop.wait(0.2)
    else:
        return
    if not webbrowser.open(url):
        log.info("open %s in a browser", url)
