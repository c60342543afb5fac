"""arbitrex doctor: checks of the environment, each with its fix."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from arbitrex.cli.common import ConfigOpt, EnvFile, friendly, venues_file
from arbitrex.config import load_settings
from arbitrex.doctor.checks import Check, config_checks, costs_check, run_checks

__all__ = ["JsonOpt", "app", "doctor", "env_app", "env_check", "env_show"]

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
env_app = typer.Typer(help="The configuration: check it, or show the effective settings.",
                      no_args_is_help=True)
app.add_typer(env_app, name="env")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def _report(checks: list[Check], as_json: bool) -> None:
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        sys.stdout.write(orjson.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        table = Table(show_lines=False)
        for column in ("check", "status", "detail", "fix"):
            table.add_column(column, overflow="fold")
        for c in checks:
            table.add_row(escape(c.name), f"[{_STYLE[c.status]}]{c.status}[/]", escape(c.detail),
                          escape(c.fix))
        Console(width=max(120, Console().width)).print(table)
    raise typer.Exit(1 if failed else 0)


@app.callback()
@friendly(flags={"config": "--config"})
def doctor(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    env_file: EnvFile = Path(".env"),
) -> None:
    """Check the environment: a table of pass / warn / fail, each with its fix; exit 1 on a fail.

    `arbitrex doctor env check|show` looks at the configuration alone.

    Example: arbitrex doctor --json
    """
    if ctx.invoked_subcommand is None:
        _report(run_checks(env_file, venues_file(config)), as_json)


@env_app.command("check")
@friendly(flags={"config": "--config"})
def env_check(as_json: JsonOpt = False, config: ConfigOpt = None,
              env_file: EnvFile = Path(".env")) -> None:
    """Check the configuration alone: quoted or padded values, unknown or missing keys, types,
    and the costs of the venues file.

    Example: arbitrex doctor env check --env-file .env
    """
    _report([*config_checks(env_file)[1], costs_check(venues_file(config))], as_json)


@env_app.command("show")
@friendly
def env_show(as_json: JsonOpt = False, env_file: EnvFile = Path(".env")) -> None:
    """Show the effective settings and where each came from; secrets are masked.

    Example: arbitrex doctor env show
    """
    settings = load_settings(env_file=env_file)
    rows = settings.shown()
    if as_json:
        sys.stdout.write(orjson.dumps([{"name": n, "value": v, "source": o} for n, v, o in rows],
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table()
    for column in ("setting", "value", "from"):
        table.add_column(column)
    for name, value, origin in rows:
        table.add_row(name, escape(value), origin)
    Console(width=max(100, Console().width)).print(table)
