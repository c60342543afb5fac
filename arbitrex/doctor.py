"""Checks of the environment, each with its fix. Pure reporting: nothing is changed.

``run_checks`` returns ``Check`` rows (pass / warn / fail); the CLI renders them.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from arbitrex.clock import BrokerClock
from arbitrex.config import Problem, Settings, check_settings
from arbitrex.errors import ArbitrexError
from arbitrex.venues import Venue, default_venue, load_venues


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "pass", "warn" or "fail"
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def config_checks(env_file: Path) -> tuple[Settings | None, list[Check]]:
    """The configuration checks alone (``doctor env check``)."""
    try:
        settings, problems = check_settings(env_file=env_file)
    except ArbitrexError as exc:
        return None, [Check("config", "fail", str(exc), "fix the file or pass --env-file")]
    checks = [_problem_check(p) for p in problems]
    if not env_file.exists():
        checks.insert(0, Check(f"env file {env_file}", "warn", "not found: defaults and the "
                               "environment are used", "cp .env.example .env and edit it"))
    if not any(c.status == "fail" for c in checks):
        checks.append(Check("settings", "pass", "every setting parses"))
    return settings, checks


def _problem_check(problem: Problem) -> Check:
    return Check(f"setting {problem.setting}", problem.level, problem.message, problem.fix)


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", "pass", f"Python {version}")


def _sqlite(settings: Settings) -> Check:
    path = Path(settings.sqlite_path)
    name = f"sqlite store {path}"
    try:
        parent = path.parent if str(path.parent) else Path(".")
        if not path.exists():
            probe = parent
            while not probe.exists():
                probe = probe.parent
            if not _writable(probe):
                return Check(name, "fail", f"{probe} is not writable",
                             "set SQLITE_PATH to a writable place")
            return Check(name, "pass", "will be created on first collect")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            rows = db.execute("SELECT COUNT(*) FROM streams").fetchone()[0] if db.execute(
                "SELECT 1 FROM sqlite_master WHERE name='streams'").fetchone() else 0
        finally:
            db.close()
        if mode != "wal":
            return Check(name, "warn", f"journal mode {mode}, not WAL",
                         "run `arbitrex collect` once: it switches the file to WAL")
        return Check(name, "pass", f"WAL, {rows} streams, sqlite {sqlite3.sqlite_version}")
    except sqlite3.Error as exc:
        return Check(name, "fail", str(exc), "check SQLITE_PATH; move a damaged file aside")


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


# A simulated EURUSD tick in a stream: 105 bytes (MEMORY USAGE of 100,000 entries, Redis 7.0.15);
# real ticks vary in their digits, so the estimate keeps a margin.
BYTES_PER_ENTRY = 150


def redis_checks(settings: Settings) -> list[Check]:
    """Reachable and 5.0+, persistence on, memory enough for MAXLEN on every stream."""
    from arbitrex.stores.redis import RedisStore

    name = "redis"
    try:
        store = RedisStore(settings.redis_url, connect_timeout=2.0, socket_timeout=5.0)
        info = store.info()
    except ArbitrexError as exc:
        return [Check(name, "fail", str(exc), "start Redis, or fix REDIS_URL")]
    try:
        version = str(info.get("redis_version", "0"))
        major = int(version.split(".")[0])
        checks = [Check(name, "pass" if major >= 5 else "fail",
                        f"reachable at {store!r}, version {version}" +
                        (", cluster" if store.cluster else ""),
                        "" if major >= 5 else "upgrade to Redis 5.0+ (Streams)")]
        aof = int(info.get("aof_enabled", 0)) == 1
        rdb = bool(store.r.config_get("save").get("save")) if not store.cluster else True
        if not aof and not rdb:
            checks.append(Check("redis persistence", "warn", "neither AOF nor RDB is on: ticks "
                                "would be lost on a Redis restart", "appendonly yes (and "
                                "appendfsync always for no loss on a crash)"))
        else:
            checks.append(Check("redis persistence", "pass", "AOF on" if aof else "RDB on"))
        streams = max(1, len(store.streams()), len(settings.symbols))
        need = streams * settings.redis_maxlen * BYTES_PER_ENTRY
        limit = int(info.get("maxmemory", 0))
        if limit and need > limit:
            checks.append(Check("redis memory", "warn", f"{streams} streams x REDIS_MAXLEN "
                                f"{settings.redis_maxlen:,} need about {need / 2**20:,.0f} MiB; "
                                f"maxmemory is {limit / 2**20:,.0f} MiB",
                                "lower REDIS_MAXLEN or raise maxmemory"))
        else:
            checks.append(Check("redis memory", "pass", f"about {need / 2**20:,.0f} MiB for "
                                f"{streams} streams at REDIS_MAXLEN {settings.redis_maxlen:,}"))
        return checks
    finally:
        store.close()


def _port(settings: Settings) -> Check:
    name = f"port {settings.ws_host}:{settings.ws_port}"
    try:
        family = socket.AF_INET6 if ":" in settings.ws_host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((settings.ws_host, settings.ws_port))
    except OSError as exc:
        return Check(name, "warn", f"cannot bind: {exc.strerror} (a running serve, or another "
                     "program)", "stop the other program, or set WS_PORT / --port")
    return Check(name, "pass", "free for `arbitrex serve`")


def _mt5_package(bridge: str | None) -> Check:
    if bridge:
        found = importlib.util.find_spec("mt5linux") is not None
        return Check("MetaTrader5", "pass" if found else "fail",
                     f"bridge {bridge}" + ("" if found else ", mt5linux missing"),
                     "" if found else "pip install mt5linux")
    if importlib.util.find_spec("MetaTrader5") is not None:
        return Check("MetaTrader5", "pass", "package importable")
    return Check("MetaTrader5", "warn", "package not installed (only --source sim works)",
                 "Windows: pip install 'arbitrex[mt5]'; Linux: run the terminal under Wine "
                 "and set MT5_BRIDGE=host:port")


def mt5_checks(venue: Venue, *, timeout_ms: int = 5000, now_ms: int | None = None
               ) -> list[Check]:
    """Package, terminal, account, symbols and broker clock of one venue."""
    package = _mt5_package(venue.mt5_bridge)
    package = Check(f"{venue.name}: {package.name}", package.status, package.detail, package.fix)
    if package.status != "pass":
        return [package]
    from arbitrex.sources.mt5_terminal import AuthFailed, CallFailed, Terminal, load_api

    prefix = f"{venue.name}: "
    terminal = Terminal(load_api(venue.mt5_bridge), path=venue.mt5_path, login=venue.mt5_login,
                        password=venue.mt5_password.reveal() if venue.mt5_password else None,
                        server=venue.mt5_server,
                        timeout_ms=min(timeout_ms, venue.mt5_timeout_ms))
    checks = [package]
    try:
        terminal.connect()
    except AuthFailed as exc:
        return checks + [Check(prefix + "account", "fail", str(exc),
                               "check MT5_LOGIN, MT5_PASSWORD and MT5_SERVER")]
    except CallFailed as exc:
        return checks + [Check(prefix + "terminal", "fail", str(exc),
                               "start the terminal, check MT5_PATH (or MT5_BRIDGE)")]
    try:
        version = terminal.call("version")
        checks.append(Check(prefix + "terminal", "pass", f"reachable, build {version[1]}"))
        try:
            account = terminal.call("account_info")
            checks.append(Check(prefix + "account", "pass",
                                f"logged in as {account.login} on {account.server}"))
        except CallFailed as exc:
            checks.append(Check(prefix + "account", "fail", f"not logged in: {exc}",
                                "log in in the terminal, or set MT5_LOGIN/PASSWORD/SERVER"))
        good, bad = [], []
        for symbol in venue.symbols:
            name = venue.aliases.get(symbol, symbol)
            try:
                terminal.call("symbol_select", name, True)
                good.append(symbol)
            except CallFailed as exc:
                bad.append(f"{name} ({exc.terminal_message})")
        checks.append(Check(prefix + "symbols", "warn" if bad else "pass",
                            f"{len(good)} selectable" + (f"; not: {', '.join(bad)}" if bad
                                                          else ""),
                            "fix SYMBOLS or the venue's aliases" if bad else ""))
        checks.append(_broker_clock(terminal, venue, good, now_ms))
    finally:
        terminal.shutdown()
    return checks


def _broker_clock(terminal: Any, venue: Venue, symbols: list[str], now_ms: int | None
                  ) -> Check:
    from arbitrex.sources.mt5_terminal import CallFailed

    name = f"{venue.name}: broker clock"
    clock = BrokerClock(venue.broker_timezone)
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    newest = None
    for symbol in symbols:
        try:
            info = terminal.call("symbol_info_tick", venue.aliases.get(symbol, symbol))
        except CallFailed:
            continue
        newest = max(newest or 0, int(info.time_msc))
    if newest is None:
        return Check(name, "warn", "no tick to compare with", "retry while the market is open")
    ahead_s = (clock.to_utc_msc(newest) - now_ms) / 1000
    implied = round((newest - now_ms) / 3_600_000, 1)
    if ahead_s > 120:
        return Check(name, "fail", f"the newest tick converts to {ahead_s:.0f} s in the future "
                     f"with BROKER_TIMEZONE={venue.broker_timezone}",
                     f"set BROKER_TIMEZONE to the broker's zone (the clock looks like UTC"
                     f"{implied:+g} h now; e.g. Europe/Athens for UTC+2/+3 brokers)")
    if ahead_s < -3600:
        return Check(name, "warn", f"the newest tick is {-ahead_s / 3600:.1f} h old (market "
                     "closed?): cannot judge BROKER_TIMEZONE", "check again while it trades")
    return Check(name, "pass", f"newest tick {-ahead_s:.1f} s ago in UTC "
                 f"(BROKER_TIMEZONE={venue.broker_timezone})")


def _kafka(settings: Settings) -> Check:
    if settings.kafka_bootstrap_servers and settings.disable_kafka:
        return Check("kafka", "warn", "KAFKA_BOOTSTRAP_SERVERS is set but DISABLE_KAFKA=1, "
                     "so nothing is sent", "set DISABLE_KAFKA=0 to enable the sink")
    if settings.kafka_enabled:
        try:
            from confluent_kafka import KafkaException, Producer
        except ImportError:
            return Check("kafka", "fail", "enabled but confluent-kafka is not installed",
                         "pip install 'arbitrex[kafka]', or DISABLE_KAFKA=1")
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                             "socket.timeout.ms": 3000})
        try:
            metadata = producer.list_topics(timeout=5)
        except KafkaException as exc:
            return Check("kafka", "fail", f"enabled but unreachable at "
                         f"{settings.kafka_bootstrap_servers}: {exc}",
                         "start Kafka or fix KAFKA_BOOTSTRAP_SERVERS (or DISABLE_KAFKA=1)")
        return Check("kafka", "pass", f"reachable: {len(metadata.brokers)} brokers; topic "
                     f"{settings.kafka_topic}")
    return Check("kafka", "pass", "disabled (DISABLE_KAFKA=1)")


def run_checks(env_file: Path, config: Path | None = None) -> list[Check]:
    """Every check: configuration first, then what the settings point at."""
    settings, checks = config_checks(env_file)
    checks.insert(0, _python())
    if settings is None:
        return checks
    if settings.backend == "sqlite":
        checks.append(_sqlite(settings))
    else:
        checks.extend(redis_checks(settings))
    checks.append(_port(settings))
    try:
        venues = (load_venues(config, settings) if config is not None and config.exists()
                  else [default_venue(settings)])
    except ArbitrexError as exc:
        checks.append(Check(f"venues {config}", "fail", str(exc), "fix the file"))
        venues = []
    for venue in venues:
        checks.extend(mt5_checks(venue))
    checks.append(_kafka(settings))
    return checks
