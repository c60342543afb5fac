"""Tick stores, one module each, and the factories that pick one from the settings.

The shapes they share are in ``base.py``; Redis key names in ``redis_keys.py``.
"""

from __future__ import annotations

from pathlib import Path

from arbitrex.config import Settings
from arbitrex.stores.base import (
    Follower,
    Leases,
    NonBlocking,
    RangeReader,
    Reports,
    Rings,
    Spools,
    StreamReader,
    TickStore,
    TickWriter,
)

__all__ = ["Follower", "Leases", "NonBlocking", "RangeReader", "Reports", "Rings", "Spools",
           "StreamReader", "TickStore", "TickWriter", "open_store", "open_writer"]


def open_store(settings: Settings) -> TickStore:
    """The store the settings name, for reading (and for writing where no spool is wanted)."""
    if settings.backend == "sqlite":
        from arbitrex.stores.sqlite import SqliteStore

        return SqliteStore(settings.sqlite_path)
    from arbitrex.stores.redis import RedisStore

    return RedisStore(settings.redis_url, maxlen=settings.redis_maxlen)


def open_writer(settings: Settings, *, venue: str) -> TickWriter:
    """The store for one venue's writer: on Redis, with a local spool for outages (next to
    SQLITE_PATH, ``spool-VENUE.db``)."""
    if settings.backend == "sqlite":
        return open_store(settings)
    from arbitrex.stores.redis import RedisStore
    from arbitrex.stores.spool import SpoolingStore

    def connect() -> RedisStore:
        return RedisStore(settings.redis_url, maxlen=settings.redis_maxlen)

    return SpoolingStore(connect, Path(settings.sqlite_path).parent / f"spool-{venue}.db")
