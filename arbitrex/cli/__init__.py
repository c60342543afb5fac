"""The command line: wiring only. Each command lives in a module of its own."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from arbitrex import __version__
from arbitrex.cli import (
    archive,
    collect,
    doctor,
    episodes,
    export,
    replay,
    report,
    serve,
    tail,
    up,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="arbitrex",
    help="Collect MetaTrader 5 ticks, keep them durably, stream them to programs and browsers.",
    no_args_is_help=True,
    # An unexpected failure is reported by main(): a traceback only under LOG_LEVEL=DEBUG,
    # never with locals (they could hold the MT5 password).
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"arbitrex {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Collect MetaTrader 5 ticks, keep them durably, stream them to programs and browsers."""


app.command("collect")(collect.collect)
app.command("serve")(serve.serve)
app.command("tail")(tail.tail)
app.command("replay")(replay.replay)
app.command("export")(export.export)
app.command("archive")(archive.archive)
app.command("episodes")(episodes.episodes)
app.command("report")(report.report)
app.command("up")(up.up)
app.add_typer(doctor.app, name="doctor")


def _debugging() -> bool:
    return logging.getLogger().isEnabledFor(logging.DEBUG) or \
        os.environ.get("LOG_LEVEL", "").strip().strip("'\"").upper() == "DEBUG"


def main() -> None:
    """The console script. Expected failures are one line from each command; what reaches
    here is a bug: one line too, with the traceback only under LOG_LEVEL=DEBUG."""
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C twice: stop now
        sys.exit(130)
    except Exception as exc:
        if _debugging():
            Console(stderr=True).print_exception(show_locals=False)
        else:
            typer.echo(f"arbitrex: internal error: {type(exc).__name__}: {exc} (run with "
                       "LOG_LEVEL=DEBUG for the traceback, and please report it)", err=True)
        sys.exit(1)
