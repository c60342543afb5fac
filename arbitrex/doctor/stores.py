"""The store's checks: the SQLite file, or the Redis server (through the stores' own API)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from arbitrex.config import Settings
from arbitrex.doctor.report import Check
from arbitrex.errors import ArbitrexError

__all__ = ["BYTES_PER_ENTRY", "redis_checks", "sqlite_check"]


def sqlite_check(settings: Settings) -> Check:
    from arbitrex.stores.sqlite import inspect

    path = Path(settings.sqlite_path)
    name = f"sqlite store {path}"
    if not path.exists():
        probe = path.parent if str(path.parent) else Path(".")
        while not probe.exists():
            probe = probe.parent
        if not os.access(probe, os.W_OK):
            return Check(name, "fail", f"{probe} is not writable",
                         "set SQLITE_PATH to a writable place")
        return Check(name, "pass", "will be created on first collect")
    try:
        facts = inspect(path)
    except sqlite3.Error as exc:
        return Check(name, "fail", str(exc), "check SQLITE_PATH; move a damaged file aside")
    if facts.journal_mode != "wal":
        return Check(name, "warn", f"journal mode {facts.journal_mode}, not WAL",
                     "run `arbitrex collect` once: it switches the file to WAL")
    return Check(name, "pass", f"WAL, {facts.streams} streams, sqlite {facts.sqlite_version}")


# A simulated EURUSD tick in a stream: 105 bytes (MEMORY USAGE of 100,000 entries, Redis 7.0.15);
# real ticks vary in their digits, so the estimate keeps a margin.
BYTES_PER_ENTRY = 150


def redis_checks(settings: Settings) -> list[Check]:
    """Reachable and 5.0+, persistence on, memory enough for MAXLEN on every stream."""
    from arbitrex.stores.redis import RedisStore

    name = "redis"
    try:
        store = RedisStore(settings.redis_url, connect_timeout=2.0, socket_timeout=5.0)
        try:
            facts = store.describe()
        finally:
            store.close()
    except ArbitrexError as exc:
        return [Check(name, "fail", str(exc), "start Redis, or fix REDIS_URL")]
    major = int(facts.version.split(".")[0])
    checks = [Check(name, "pass" if major >= 5 else "fail",
                    f"reachable at {store!r}, version {facts.version}" +
                    (", cluster" if facts.cluster else ""),
                    "" if major >= 5 else "upgrade to Redis 5.0+ (Streams)")]
    if not facts.aof and not facts.rdb:
        checks.append(Check("redis persistence", "warn", "neither AOF nor RDB is on: ticks "
                            "would be lost on a Redis restart", "appendonly yes (and "
                            "appendfsync always for no loss on a crash)"))
    else:
        checks.append(Check("redis persistence", "pass", "AOF on" if facts.aof else "RDB on"))
    streams = max(1, facts.streams, len(settings.symbols))
    need = streams * settings.redis_maxlen * BYTES_PER_ENTRY
    if facts.maxmemory and need > facts.maxmemory:
        checks.append(Check("redis memory", "warn", f"{streams} streams x REDIS_MAXLEN "
                            f"{settings.redis_maxlen:,} need about {need / 2**20:,.0f} MiB; "
                            f"maxmemory is {facts.maxmemory / 2**20:,.0f} MiB",
                            "lower REDIS_MAXLEN or raise maxmemory"))
    else:
        checks.append(Check("redis memory", "pass", f"about {need / 2**20:,.0f} MiB for "
                            f"{streams} streams at REDIS_MAXLEN {settings.redis_maxlen:,}"))
    return checks
