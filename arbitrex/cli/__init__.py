"""The command line: wiring only. Each command lives in a module of its own."""

from __future__ import annotations

import typer

from arbitrex.cli import collect, doctor, export, replay, serve, tail

app = typer.Typer(
    name="arbitrex",
    help="Collect MetaTrader 5 ticks, keep them durably, stream them to programs and browsers.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals could hold the MT5 password
    add_completion=False,
)
app.command("collect")(collect.collect)
app.command("serve")(serve.serve)
app.command("tail")(tail.tail)
app.command("replay")(replay.replay)
app.command("export")(export.export)
app.add_typer(doctor.app, name="doctor")


def main() -> None:
    app()
