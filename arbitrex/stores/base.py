"""The shape every store has, and the factory that picks one from the settings.

A store assigns ``seq`` durably at append: per (venue, symbol), from 1, +1 per tick, never
reused. Readers can ask for the last tick, the ticks after a seq, and follow new ticks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from arbitrex.sources.base import Position
from arbitrex.tick import Tick

if TYPE_CHECKING:
    from arbitrex.config import Settings


class TickStore(Protocol):
    name: str

    def append(self, ticks: Sequence[Tick]) -> list[Tick]:
        """Store ``ticks`` atomically in order; return them with their assigned seq."""
        ...

    def mark_start(self, venue: str, starts: Mapping[str, int]) -> None:
        """Remember where a source began a symbol that has no stored tick (symbol -> broker
        ms), so that a restart before its first tick resumes from there, not from later."""

    def positions(self, venue: str) -> dict[str, Position]:
        """Where each symbol of ``venue`` stands, for a source to resume from."""
        ...

    def last(self, venue: str, symbol: str) -> Tick | None: ...

    def streams(self) -> list[tuple[str, str]]:
        """Every (venue, symbol) with stored ticks."""
        ...

    def first_seq(self, venue: str, symbol: str) -> int | None:
        """The oldest seq still held (history may be trimmed), None when empty."""
        ...

    def read_after(self, venue: str, symbol: str, after_seq: int, limit: int) -> list[Tick]:
        """Up to ``limit`` ticks with seq > ``after_seq``, in seq order."""
        ...

    def append_exact(self, ticks: Sequence[Tick]) -> list[Tick]:
        """Store ticks keeping their seq (replay); seqs the stream already holds are skipped."""
        ...

    def count_range(self, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
                    from_msc: int = 0, to_msc: int = 2**62) -> int: ...

    def iter_range(self, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
                   from_msc: int = 0, to_msc: int = 2**62, chunk: int = 10_000
                   ) -> Iterator[Tick]:
        """Ticks with from_msc <= time_msc < to_msc in store order, in constant memory."""
        ...

    def head(self) -> Any:
        """A follow cursor at the current end of the store."""
        ...

    def follow(self, cursor: Any, *, timeout: float, limit: int) -> tuple[list[Tick], Any]:
        """Ticks stored after ``cursor`` (in store order), waiting up to ``timeout`` for some."""
        ...

    def close(self) -> None: ...


def open_store(settings: Settings, *, role: str = "reader", venue: str = "default"
               ) -> TickStore:
    """Open the store the settings name. ``role`` is ``writer`` or ``reader``; a Redis writer
    gets a local spool (next to SQLITE_PATH, one per venue) for Redis outages."""
    if settings.backend == "sqlite":
        from arbitrex.stores.sqlite import SqliteStore

        return SqliteStore(settings.sqlite_path)
    from pathlib import Path

    from arbitrex.stores.redis import RedisStore

    def connect() -> RedisStore:
        return RedisStore(settings.redis_url, maxlen=settings.redis_maxlen)

    if role == "writer":
        from arbitrex.stores.spool import SpoolingStore

        spool = Path(settings.sqlite_path).parent / f"spool-{venue}.db"
        return SpoolingStore(connect, spool)
    return connect()
