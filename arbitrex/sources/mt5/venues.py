"""Venues: one MetaTrader 5 terminal each, from ``arbitrex.toml`` or from the settings.

    [[venues]]
    name = "icmarkets"                 # tags its ticks; [A-Za-z0-9._#-]
    symbols = ["EURUSD", "GBPUSD"]     # optional: SYMBOLS otherwise
    MT5_PATH = 'C:\\MT5\\icm\\terminal64.exe'
    MT5_LOGIN = 1234567
    MT5_PASSWORD = "..."
    MT5_SERVER = "ICMarketsSC-Demo"
    BROKER_TIMEZONE = "Europe/Athens"
    [venues.aliases]
    EURUSD = "EURUSD.a"                # canonical name = the broker's name

MT5_* keys and BROKER_TIMEZONE not given in a venue fall back to the settings (.env).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arbitrex.config import FIELDS_BY_NAME, Secret, Settings
from arbitrex.errors import ConfigError
from arbitrex.model.tick import check_symbol

__all__ = ["VENUE_KEYS", "Venue", "declares_venues", "default_venue", "load_venues"]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

VENUE_KEYS = ("MT5_PATH", "MT5_LOGIN", "MT5_PASSWORD", "MT5_SERVER", "MT5_TIMEOUT_MS",
              "MT5_BRIDGE", "BROKER_TIMEZONE")


@dataclass(frozen=True)
class Venue:
    name: str
    symbols: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    mt5_path: str | None = None
    mt5_login: int | None = None
    mt5_password: Secret | None = None
    mt5_server: str | None = None
    mt5_timeout_ms: int = 60_000
    mt5_bridge: str | None = None
    broker_timezone: str = "UTC"


def default_venue(settings: Settings, name: str = "mt5") -> Venue:
    return Venue(name=name, symbols=settings.symbols, **{
        FIELDS_BY_NAME[k].attr: getattr(settings, FIELDS_BY_NAME[k].attr) for k in VENUE_KEYS})


def declares_venues(path: Path) -> bool:
    """Whether ``path`` has [[venues]] tables (a file that cannot be read says yes, so that
    ``load_venues`` names what is wrong with it). A file of costs alone has none."""
    try:
        return "venues" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True


def load_venues(path: Path, settings: Settings, *, symbols_flag: bool = False) -> list[Venue]:
    """The venues of ``path``. ``symbols_flag``: --symbols was given and wins over the file."""
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(where, f"cannot read it ({exc})", "fix the file or --config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, f"not valid TOML: {exc}", "fix the syntax") from exc
    tables = data.get("venues")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(where, "has no [[venues]] table", "add one [[venues]] per terminal")
    venues = []
    for i, table in enumerate(tables, 1):
        venues.append(_venue(table, f"{where} venue {i}", settings, symbols_flag))
    names = [v.name for v in venues]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigError(where, f"venue names repeat: {', '.join(sorted(duplicates))}",
                          "give every [[venues]] its own name")
    return venues


def _venue(table: Any, where: str, settings: Settings, symbols_flag: bool) -> Venue:
    if not isinstance(table, dict):
        raise ConfigError(where, "is not a table", "write it as [[venues]]")
    unknown = set(table) - {"name", "symbols", "aliases", *VENUE_KEYS}
    if unknown:
        raise ConfigError(where, f"unknown keys {', '.join(sorted(unknown))}",
                          f"use name, symbols, aliases, {', '.join(VENUE_KEYS)}")
    name = table.get("name")
    try:
        name = check_symbol(name)
    except Exception:
        raise ConfigError(f"{where} name", f"{name!r} is not a valid venue name",
                          'use letters, digits and . _ # -, e.g. name = "icmarkets"') from None
    values = default_venue(settings, name).__dict__.copy()
    for key in VENUE_KEYS:
        if key in table:
            spec = FIELDS_BY_NAME[key]
            try:
                values[spec.attr] = spec.parse(str(table[key]))
            except ValueError as exc:
                raise ConfigError(f"{where} {key}", str(exc), f"e.g. {key} = "
                                  f"{spec.example!r}") from None
    raw_symbols = table.get("symbols")
    if raw_symbols is not None and not symbols_flag:
        if isinstance(raw_symbols, str):
            raw_symbols = raw_symbols.split(",")
        try:
            values["symbols"] = FIELDS_BY_NAME["SYMBOLS"].parse(",".join(map(str, raw_symbols)))
        except ValueError as exc:
            raise ConfigError(f"{where} symbols", str(exc), 'e.g. symbols = ["EURUSD"]') from None
    aliases = table.get("aliases", {})
    if not isinstance(aliases, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in aliases.items()):
        raise ConfigError(f"{where} aliases", "must map canonical names to broker names",
                          'e.g. [venues.aliases] EURUSD = "EURUSD.a"')
    values["aliases"] = dict(aliases)
    return Venue(**values)
