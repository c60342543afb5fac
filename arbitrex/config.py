"""Settings: loaded once, flag > environment > .env file > default.

Every value is a string at the edge; surrounding quotes and spaces are stripped (and
remembered, so ``doctor env check`` can warn). Each field has one parser that raises
ValueError with a short reason; ``load_settings`` turns that into a ConfigError naming the
setting and the fix. Secrets are held in ``Secret`` and never appear in a repr or a log.
"""

from __future__ import annotations

import codecs
import difflib
import io
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv.parser import parse_stream

from arbitrex.clock import parse_timezone
from arbitrex.constants import DAY_MS, STALE_AFTER_MS
from arbitrex.errors import ConfigError
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.tick import check_symbol

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "FIELDS", "FIELDS_BY_NAME", "FieldSpec", "Problem", "Secret", "Settings",
    "check_settings", "decode_env_text", "load_costs", "load_settings", "read_env_file",
]


class Secret:
    """A value that masks itself everywhere but ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# Parsers: str -> value, ValueError with a reason.


def _symbols(text: str) -> tuple[str, ...]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise ValueError("no symbols given")
    for item in items:
        try:
            check_symbol(item)
        except Exception as exc:
            raise ValueError(str(exc)) from exc
    return tuple(dict.fromkeys(items))


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.lower()
        if value not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return value

    return parse


def _int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value

    return parse


def _bool(text: str) -> bool:
    value = text.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not a boolean (use 1/0, true/false)")


def _text(text: str) -> str:
    return text


def _secret(text: str) -> Secret:
    return Secret(text)


def _redis_url(text: str) -> str:
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"{text!r} is not a redis:// URL")
    return text


def _host_port(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not host:port")
    return text


def _timezone(text: str) -> str:
    parse_timezone(text)
    return text


def _origins(text: str) -> tuple[str, ...]:
    items = tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
    for item in items:
        if not item.startswith(("http://", "https://")):
            raise ValueError(f"origin {item!r} must start with http:// or https://")
    return items


def _log_level(text: str) -> str:
    value = text.upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"{text!r} is not DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


@dataclass(frozen=True)
class FieldSpec:
    name: str
    attr: str
    default: str | None
    parse: Callable[[str], Any]
    help: str
    example: str = ""




def _setting(name: str, default: str | None, parse: Callable[[str], Any], help: str,
             example: str = "") -> Any:
    """A field of ``Settings`` read from the setting ``name`` (a flag, the environment, the
    .env file, else ``default``), parsed by ``parse``."""
    return field(metadata={"setting": (name, default, parse, help, example)})


@dataclass(frozen=True)
class Settings:
    symbols: tuple[str, ...] = _setting(
        "SYMBOLS", "EURUSD,GBPUSD,USDJPY,XAUUSD", _symbols,
        "the trading universe, comma-separated",
        "EURUSD,GBPUSD")
    backend: str = _setting(
        "TICK_QUEUE_BACKEND", "sqlite", _choice("sqlite", "redis"),
        "the store: sqlite (embedded, no server) or redis",
        "sqlite")
    sqlite_path: str = _setting(
        "SQLITE_PATH", "data/ticks.db", _text,
        "SQLite store file",
        "data/ticks.db")
    redis_url: str = _setting(
        "REDIS_URL", "redis://localhost:6379/0", _redis_url,
        "Redis server (5.0+, Streams)",
        "redis://localhost:6379/0")
    redis_maxlen: int = _setting(
        "REDIS_MAXLEN", "1000000", _int(1000, 10**10),
        "approximate ticks kept per symbol stream",
        "1000000")
    disable_kafka: bool = _setting(
        "DISABLE_KAFKA", "1", _bool,
        "Kafka stays off unless this is 0/false and KAFKA_BOOTSTRAP_SERVERS is set",
        "1")
    kafka_bootstrap_servers: str | None = _setting(
        "KAFKA_BOOTSTRAP_SERVERS", None, _text,
        "Kafka brokers, host:port,...",
        "127.0.0.1:9092")
    kafka_topic: str = _setting(
        "KAFKA_TOPIC", "arbitrex.ticks", _text,
        "Kafka topic for the optional sink",
        "arbitrex.ticks")
    mt5_path: str | None = _setting(
        "MT5_PATH", None, _text,
        "path of the MetaTrader 5 terminal (terminal64.exe)",
        r"C:\Program Files\MetaTrader 5\terminal64.exe")
    mt5_login: int | None = _setting(
        "MT5_LOGIN", None, _int(1, 2**63 - 1),
        "MetaTrader 5 account number",
        "12345678")
    mt5_password: Secret | None = _setting(
        "MT5_PASSWORD", None, _secret,
        "MetaTrader 5 account password (secret: never printed)",
        "change-me")
    mt5_server: str | None = _setting(
        "MT5_SERVER", None, _text,
        "MetaTrader 5 trade server name",
        "Broker-Demo")
    mt5_timeout_ms: int = _setting(
        "MT5_TIMEOUT_MS", "60000", _int(100, 600_000),
        "terminal connection timeout in milliseconds",
        "60000")
    mt5_bridge: str | None = _setting(
        "MT5_BRIDGE", None, _host_port,
        "host:port of an RPyC classic server with MetaTrader5 (a terminal under Wine)",
        "127.0.0.1:18812")
    broker_timezone: str = _setting(
        "BROKER_TIMEZONE", "UTC", _timezone,
        "the broker server's clock: IANA name or fixed offset",
        "Europe/Athens")
    ws_host: str = _setting(
        "WS_HOST", "127.0.0.1", _text,
        "where serve listens",
        "127.0.0.1")
    ws_port: int = _setting(
        "WS_PORT", "8000", _int(0, 65535),
        "serve's port",
        "8000")
    ws_token: Secret | None = _setting(
        "WS_TOKEN", None, _secret,
        "when set, WebSocket clients must present it (secret)",
        "a-long-random-string")
    ws_allowed_origins: tuple[str, ...] | None = _setting(
        "WS_ALLOWED_ORIGINS", None, _origins,
        "browser Origins allowed besides the server's own host",
        "https://desk.example.com")
    event_loop: str = _setting(
        "EVENT_LOOP", "auto", _choice("auto", "asyncio", "uvloop", "winloop"),
        "the event loop of serve and replay --port: auto (uvloop, or winloop on Windows, when "
        "installed: pip install 'arbitrex[fast]'), asyncio, uvloop or winloop",
        "asyncio")
    stale_after_ms: int = _setting(
        "STALE_AFTER_MS", str(STALE_AFTER_MS), _int(0, DAY_MS),
        "a venue's quote older than this (ms) than the newest is stale in the "
        "cross-venue view",
        "10000")
    archive_dir: str = _setting(
        "ARCHIVE_DIR", "data/archive", _text,
        "where `archive` moves whole old days: VENUE/SYMBOL/DATE Parquet files",
        "data/archive")
    retain_days: int | None = _setting(
        "RETAIN_DAYS", None, _int(1, 36_500),
        "keep this many whole days in the store: `archive`'s default, and collect "
        "archives older days by itself once a day (unset: keep everything)",
        "30")
    log_level: str = _setting(
        "LOG_LEVEL", "INFO", _log_level,
        "DEBUG, INFO, WARNING or ERROR",
        "INFO")
    # Where each setting came from: flag, environment, .env, default.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def kafka_enabled(self) -> bool:
        return not self.disable_kafka and bool(self.kafka_bootstrap_servers)

    def shown(self) -> list[tuple[str, str, str]]:
        """(name, value with secrets masked, origin) for every setting."""
        rows = []
        for spec in FIELDS:
            value = getattr(self, spec.attr)
            if value is None:
                text = "(unset)"
            elif isinstance(value, Secret):
                text = "********"
            elif isinstance(value, tuple):
                text = ",".join(value)
            elif isinstance(value, bool):
                text = "1" if value else "0"
            else:
                text = str(value)
            rows.append((spec.name, text, self.origins.get(spec.name, "default")))
        return rows


#: Every setting, in the order of ``Settings``: derived from its fields, so stated once.
FIELDS: tuple[FieldSpec, ...] = tuple(
    FieldSpec(f.metadata["setting"][0], f.name, *f.metadata["setting"][1:])
    for f in fields(Settings) if "setting" in f.metadata)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}


@dataclass(frozen=True)
class Problem:
    """One finding of the configuration checks."""

    level: str  # "warn" or "fail"
    setting: str
    message: str
    fix: str


@dataclass
class _Raw:
    value: str
    origin: str
    had_padding: bool = False


def _strip(value: str) -> tuple[str, bool]:
    """Strip surrounding spaces and matching quotes (repeatedly); report whether any were."""
    original = value
    while True:
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            continue
        break
    return value, value != original


def decode_env_text(data: bytes) -> str:
    """A .env file's text as Windows editors write it too: UTF-8 with or without a BOM, or
    UTF-16 (Notepad's "Unicode", with a BOM; without one, told by its zero bytes)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if len(data) >= 4 and data[1::2].count(0) > len(data) // 4 and data[0::2].count(0) == 0:
        return data.decode("utf-16-le")
    return data.decode("utf-8-sig")


_DOUBLE_QUOTED = re.compile(r'\s*"((?:[^"\\]|\\.)*)"')


def _as_written(after_equals: str, parsed: str) -> str:
    """The value as written between double quotes. python-dotenv decodes backslash escapes
    there (\\t, \\n), which turns a Windows path such as "C:\\MT5\\new\\terminal64.exe"
    into control characters; no setting needs an escape, so such text is kept as is."""
    match = _DOUBLE_QUOTED.match(after_equals)
    if match is not None and "\\" in match.group(1):
        return match.group(1)
    return parsed


def read_env_file(path: Path) -> tuple[dict[str, _Raw], list[Problem]]:
    """Parse a .env file: its values (stripped) and problems found on the way."""
    values: dict[str, _Raw] = {}
    problems: list[Problem] = []
    try:
        text = decode_env_text(path.read_bytes())
    except FileNotFoundError:
        return values, problems
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read the .env file ({exc})",
                          "save it as UTF-8 (or UTF-16), or pass --env-file PATH") from exc
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            problems.append(Problem("warn", f"{path}:{line}", "line could not be parsed",
                                    "write it as NAME=value"))
            continue
        if binding.key is None:
            continue
        key = binding.key.strip()
        _, _, after_equals = binding.original.string.partition("=")
        raw_value = _as_written(after_equals, binding.value or "")
        raw_text = after_equals.split(" #", 1)[0].rstrip("\r\n")
        value, padded = _strip(raw_value)
        padded = padded or raw_text.strip()[:1] in ("'", '"') or raw_text != raw_text.strip()
        values[key] = _Raw(value, ".env", padded)
    return values, problems


def _collect(
    flags: Mapping[str, Any], environ: Mapping[str, str], env_file: Path
) -> tuple[dict[str, _Raw], list[Problem]]:
    raw: dict[str, _Raw] = {}
    file_values, problems = read_env_file(env_file)
    for key in file_values:
        if key not in FIELDS_BY_NAME:
            close = difflib.get_close_matches(key, FIELDS_BY_NAME, n=1)
            hint = f"did you mean {close[0]}?" if close else "remove it, or check .env.example"
            problems.append(Problem("warn", key, f"unknown key in {env_file}", hint))
    for spec in FIELDS:
        if spec.name in flags and flags[spec.name] is not None:
            raw[spec.name] = _Raw(str(flags[spec.name]), "flag")
        elif spec.name in environ:
            value, padded = _strip(environ[spec.name])
            raw[spec.name] = _Raw(value, "environment", padded)
        elif spec.name in file_values:
            raw[spec.name] = file_values[spec.name]
    for name, item in raw.items():
        if item.had_padding:
            problems.append(Problem("warn", name, f"value from {item.origin} had surrounding "
                                    "quotes or spaces (stripped)", f"write it as {name}=value"))
    return raw, problems


def check_settings(
    *,
    flags: Mapping[str, Any] | None = None,
    env_file: Path | str = ".env",
    environ: Mapping[str, str] | None = None,
) -> tuple[Settings | None, list[Problem]]:
    """Load and check every setting; return the Settings (None when any fails) and problems."""
    env_path = Path(env_file)
    raw, problems = _collect(flags or {}, os.environ if environ is None else environ, env_path)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for spec in FIELDS:
        item = raw.get(spec.name)
        text = item.value if item is not None else spec.default
        origins[spec.name] = item.origin if item is not None else "default"
        if item is not None and item.value == "" and spec.default is None:
            text = None  # NAME= in a file means "unset" for optional settings
        if text is None:
            values[spec.attr] = None
            continue
        try:
            values[spec.attr] = spec.parse(text)
        except ValueError as exc:
            where = {"flag": "the command line", "environment": "the environment",
                     ".env": str(env_path), "default": "the default"}[origins[spec.name]]
            example = f"e.g. {spec.name}={spec.example}" if spec.example else ""
            problems.append(Problem("fail", spec.name, f"{exc} (from {where})",
                                    f"expected {spec.help}{'; ' + example if example else ''}"))
    problems.extend(_cross_checks(values, env_path))
    if any(p.level == "fail" for p in problems):
        return None, problems
    settings = Settings(**values, origins=origins,
                        warnings=tuple(f"{p.setting}: {p.message}" for p in problems))
    return settings, problems


def _cross_checks(values: Mapping[str, Any], env_path: Path) -> list[Problem]:
    problems = []
    mt5 = {k: values.get(k) for k in ("mt5_login", "mt5_password", "mt5_server")}
    if any(v is not None for v in mt5.values()) and not all(v is not None for v in mt5.values()):
        missing = [k.upper() for k, v in mt5.items() if v is None]
        problems.append(Problem("warn", ",".join(missing), "missing: MT5 login needs "
                                "MT5_LOGIN, MT5_PASSWORD and MT5_SERVER together",
                                f"set {', '.join(missing)} in {env_path}"))
    if values.get("disable_kafka") is False and not values.get("kafka_bootstrap_servers"):
        problems.append(Problem("warn", "KAFKA_BOOTSTRAP_SERVERS", "missing: DISABLE_KAFKA=0 "
                                "but no brokers are set, so Kafka stays off",
                                "set KAFKA_BOOTSTRAP_SERVERS or DISABLE_KAFKA=1"))
    return problems


def load_settings(
    *,
    flags: Mapping[str, Any] | None = None,
    env_file: Path | str = ".env",
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The effective Settings; raises ConfigError for the first invalid setting."""
    settings, problems = check_settings(flags=flags, env_file=env_file, environ=environ)
    if settings is None:
        first = next(p for p in problems if p.level == "fail")
        raise ConfigError(first.setting, first.message, first.fix)
    return settings


def load_costs(path: Path | None) -> Costs:
    """The ``[costs.VENUE]`` tables of the venues file (arbitrex.toml): per symbol (``"*"``:
    every other), a number >= 0 in price units for one round turn of one unit. None, or no
    table: no costs. A bad value is a ConfigError naming ``costs.VENUE.SYMBOL``."""
    if path is None:
        return NO_COSTS
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read it ({exc})", "fix the file or --config"
                          ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}", "fix the syntax") from exc
    tables = data.get("costs", {})
    if not isinstance(tables, dict):
        raise ConfigError("costs", "must be tables, one per venue", "write [costs.VENUE]")
    out: dict[str, dict[str, float]] = {}
    for venue, symbols in tables.items():
        if not isinstance(symbols, dict):
            raise ConfigError(f"costs.{venue}", "must be a table of symbol = cost",
                              f'e.g. [costs.{venue}] then EURUSD = 0.00007 or "*" = 0.00005')
        for symbol, value in symbols.items():
            name = f"costs.{venue}.{symbol}"
            try:
                check_symbol(venue)
                if symbol != "*":
                    check_symbol(symbol)
            except Exception as exc:  # TickError
                raise ConfigError(name, str(exc), "use venue and symbol names, or \"*\"") from None
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or value < 0:
                raise ConfigError(name, f"{value!r} is not a cost",
                                  "a number >= 0: price units for one round turn of one unit "
                                  "(7 USD a lot of 100,000 EUR on EURUSD: 0.00007)")
            out.setdefault(venue, {})[symbol] = float(value)
    return Costs(out)
