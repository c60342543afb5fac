"""What every command shares: the --env-file option, loading settings, and failing well."""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from arbitrex.config import Settings, load_settings
from arbitrex.errors import ArbitrexError

F = TypeVar("F", bound=Callable[..., Any])

EnvFile = Annotated[
    Path, typer.Option("--env-file", help="The .env file to read settings from.",
                       show_default=True),
]
StoreOpt = Annotated[
    str | None, typer.Option("--store", help="sqlite or redis (env: TICK_QUEUE_BACKEND).",
                             show_default=False),
]


def fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"arbitrex: error: {message}", err=True)
    return typer.Exit(code)


def friendly(func: F) -> F:
    """Turn ArbitrexError into one line on stderr and the contract's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArbitrexError as exc:
            raise fail(str(exc), exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def settings_for(env_file: Path, **flags: Any) -> Settings:
    """Load settings (flags win), set up logging, and print configuration warnings."""
    settings = load_settings(flags=flags, env_file=env_file)
    setup_logging(settings.log_level)
    log = logging.getLogger("arbitrex.config")
    for warning in settings.warnings:
        log.warning("%s (see `arbitrex doctor env check`)", warning)
    return settings


def setup_logging(level: str) -> None:
    formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s",
                                  "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("websockets").setLevel(max(logging.WARNING, root.level))
