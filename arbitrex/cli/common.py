"""What every command shares: the --env-file option, loading settings, and failing well."""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar, overload

import typer

from arbitrex.config import Settings, load_settings
from arbitrex.constants import DEFAULT_CONFIG
from arbitrex.errors import ArbitrexError, ConfigError, TickError
from arbitrex.model.tick import check_symbol

__all__ = [
    "ConfigOpt", "DEFAULT_CONFIG", "EnvFile", "PollIntervalOpt", "RateOpt", "SeedOpt",
    "SourceOpt", "StaleAfterOpt", "StoreOpt", "SymbolsOpt", "VenuesOpt", "fail", "friendly",
    "message_of", "settings_for", "setup_logging", "tag_logs", "venues_file",
]

P = ParamSpec("P")
R = TypeVar("R")

EnvFile = Annotated[
    Path, typer.Option("--env-file", help="The .env file to read settings from.",
                       show_default=True),
]
StoreOpt = Annotated[
    str | None, typer.Option("--store", help="sqlite or redis (env: TICK_QUEUE_BACKEND).",
                             show_default=False),
]

# What collect and up both take, for the source
SourceOpt = Annotated[str, typer.Option(help="sim, mt5 or file.")]
SymbolsOpt = Annotated[str | None, typer.Option(
    help="Comma-separated symbols (env: SYMBOLS).", show_default=False)]
RateOpt = Annotated[float, typer.Option(help="Simulator: ticks per second.", min=0.001)]
SeedOpt = Annotated[int, typer.Option(help="Simulator: random seed (same seed, same prices).")]
ConfigOpt = Annotated[Path | None, typer.Option(
    help="The venues file: MT5 terminals ([[venues]], one each) and trading costs "
         "([costs.VENUE]). Default: arbitrex.toml, used when it exists; a file named here "
         "must exist.", show_default=False)]

VenuesOpt = Annotated[str | None, typer.Option(
    help="Simulator: one simulated broker per name, comma-separated (one process each), all "
         "quoting one underlying price per symbol with their own spread, feed latency and "
         "pauses. Default: one, sim.", show_default=False)]
StaleAfterOpt = Annotated[int | None, typer.Option(
    "--stale-after-ms", help="The cross-venue view: a venue whose quote is more than this "
    "many ms older than the newest is stale (env: STALE_AFTER_MS; default 10000).",
    show_default=False)]
FromOpt = Annotated[str | None, typer.Option(
    "--from", help="From this ISO-8601 UTC time (inclusive).", show_default=False)]
ToOpt = Annotated[str | None, typer.Option(
    help="Up to this ISO-8601 UTC time (exclusive).", show_default=False)]
OnlySymbolsOpt = Annotated[str | None, typer.Option(
    help="Only these symbols, comma-separated.", show_default=False)]
OnlyVenuesOpt = Annotated[str | None, typer.Option(
    help="Only these venues, comma-separated.", show_default=False)]
LoopOpt = Annotated[str | None, typer.Option(
    "--loop", help="The event loop: auto (uvloop, or winloop on Windows, when installed: pip "
    "install 'arbitrex[fast]'), asyncio, uvloop or winloop (env: EVENT_LOOP; default auto).",
    show_default=False)]
PollIntervalOpt = Annotated[float | None, typer.Option(
    help="Seconds between reads of the source: the MT5 terminal (default 0.05) or the "
         "simulator's feed (default 0.01). What one read returns is stored at once: shorter "
         "means lower latency from the event time and more CPU.",
    min=0.001, show_default=False)]


def sim_venues(text: str | None, source: str) -> tuple[str, ...]:
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


def venues_file(config: Path | None) -> Path | None:
    """The venues file to read: ``config`` (which must exist), else arbitrex.toml when it
    exists, else none."""
    if config is None:
        return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None
    if not config.is_file():
        problem = "is a folder" if config.is_dir() else "does not exist"
        raise ConfigError("config", f"{config} {problem}", "give the path of your venues "
                          "file (arbitrex.toml), or leave --config out")
    return config


def fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"arbitrex: error: {message}", err=True)
    return typer.Exit(code)


def message_of(exc: ArbitrexError, flags: Mapping[str, str]) -> str:
    """The error's text, with the flag that sets what it names: ``WS_PORT: ...`` becomes
    ``--port (WS_PORT): ...`` and ``url: ...`` becomes ``--url: ...``."""
    text = str(exc)
    setting = exc.setting
    if setting is None or setting not in flags or not text.startswith(setting + ":"):
        return text
    flag = flags[setting]
    label = f"{flag} ({setting})" if setting.isupper() else flag
    return label + text[len(setting):]


@overload
def friendly(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def friendly(*, flags: Mapping[str, str]) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def friendly(func: Callable[P, R] | None = None, /, *, flags: Mapping[str, str] | None = None
             ) -> Any:
    """Turn ArbitrexError into one line on stderr and the contract's exit code. ``flags``
    maps the settings and inputs that the command takes as flags to those flags."""
    names = dict(flags or {})

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return command(*args, **kwargs)
            except ArbitrexError as exc:
                logging.getLogger("arbitrex").debug("the error in full", exc_info=True)
                raise fail(message_of(exc, names), exc.exit_code) from None

        return wrapper

    return decorate if func is None else decorate(func)


def settings_for(env_file: Path, **flags: Any) -> Settings:
    """Load settings (flags win), set up logging, and print configuration warnings."""
    settings = load_settings(flags=flags, env_file=env_file)
    setup_logging(settings.log_level)
    log = logging.getLogger("arbitrex.config")
    for warning in settings.warnings:
        log.warning("%s (see `arbitrex doctor env check`)", warning)
    return settings


def _formatter(tag: str = "") -> logging.Formatter:
    formatter = logging.Formatter(f"%(asctime)s.%(msecs)03dZ %(levelname)s {tag}%(name)s: "
                                  "%(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    return formatter


def tag_logs(venue: str) -> None:
    """From now on every log line of this process names ``venue`` (a venue's collector:
    several run side by side, their lines interleaved)."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_formatter(f"[{venue}] "))


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter())
    handler.addFilter(_quiet_handshakes)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("websockets").setLevel(max(logging.WARNING, root.level))


def _quiet_handshakes(record: logging.LogRecord) -> bool:
    """A client that fails its opening handshake (a port scanner, a dropped connection) is
    not the server's error: some websockets versions log it as one, with a traceback. Kept
    only under LOG_LEVEL=DEBUG."""
    if record.msg == "opening handshake failed":
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True
