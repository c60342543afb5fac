"""The shapes of a store, one small Protocol per kind of user, and the optional abilities.

A store assigns ``seq`` durably at append: per (venue, symbol), from 1, +1 per tick, never
reused. Each user asks for only what it needs:

    TickWriter     collect and ``replay --into-store``: append, and where each stream stands
    StreamReader   serve and tail: per stream, the last tick and the ticks after a seq
    RangeReader    export and replay: ticks in a time range, across streams, in store order
    Follower[C]    serve and tail: ticks stored after a cursor, as they come

SQLite and Redis are all four (``TickStore``); the Redis writer with its outage spool is a
``TickWriter``; the replay server's memory store a ``StreamReader`` and ``Follower``.
What only some stores can do is declared as Protocols too, and asked with ``isinstance``:

    NonBlocking    ``follow`` never blocks: read on the event loop every ``poll_interval``
    FollowsOnLoop  followed by the event loop itself, on a connection of its own (Redis)
    Rings          a doorbell wakes a follower when a writer commits
    Spools         ticks accepted but not stored yet (Redis down): ``pending()``
    Reports        a short state for status lines: ``status()``
    Leases         one writer per venue: a collector's lease on its venue (SQLite, Redis)

This module imports nothing of arbitrex but the tick model and the errors, so no layer
reaches up for it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from arbitrex.constants import END_OF_TIME
from arbitrex.errors import StoreError
from arbitrex.model.tick import Position, Tick

__all__ = [
    "Archivable", "Bell", "Dropped", "Follower", "FollowsOnLoop", "Lease", "Leases",
    "NonBlocking", "RangeReader", "Reports", "Rings", "Spools", "StoredDay", "StreamReader",
    "TickStore", "TickWriter",
]

C = TypeVar("C")



class TickWriter(Protocol):
    def append(self, ticks: Sequence[Tick]) -> list[Tick]:
        """Store ``ticks`` atomically in order; return them with their assigned seq."""
        ...

    def append_exact(self, ticks: Sequence[Tick]) -> list[Tick]:
        """Store ticks keeping their seq (replay); seqs the stream already holds are skipped."""
        ...

    def mark_start(self, venue: str, starts: Mapping[str, int]) -> None:
        """Remember where a source began a symbol that has no stored tick (symbol -> broker
        ms), so that a restart before its first tick resumes from there, not from later."""

    def positions(self, venue: str) -> dict[str, Position]:
        """Where each symbol of ``venue`` stands, for a source to resume from."""
        ...

    def close(self) -> None: ...


class StreamReader(Protocol):
    def streams(self) -> list[tuple[str, str]]:
        """Every (venue, symbol) with stored ticks."""
        ...

    def last(self, venue: str, symbol: str) -> Tick | None: ...

    def first_seq(self, venue: str, symbol: str) -> int | None:
        """The oldest seq still held (history may be trimmed), None when empty."""
        ...

    def read_after(self, venue: str, symbol: str, after_seq: int, limit: int) -> list[Tick]:
        """Up to ``limit`` ticks with seq > ``after_seq``, in seq order."""
        ...

    def close(self) -> None: ...


class RangeReader(Protocol):
    def streams(self) -> list[tuple[str, str]]: ...

    def count_range(self, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
                    from_msc: int = 0, to_msc: int = END_OF_TIME) -> int: ...

    def iter_range(self, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
                   from_msc: int = 0, to_msc: int = END_OF_TIME, chunk: int = 10_000
                   ) -> Iterator[Tick]:
        """Ticks with from_msc <= time_msc < to_msc in store order, in constant memory."""
        ...

    def close(self) -> None: ...


class Follower(Protocol[C]):
    def head(self) -> C:
        """A cursor at the current end of the store."""
        ...

    def follow(self, cursor: C, *, timeout: float, limit: int) -> tuple[list[Tick], C]:
        """Ticks stored after ``cursor`` (in store order), waiting up to ``timeout`` for some."""
        ...

    def close(self) -> None: ...


class TickStore(TickWriter, StreamReader, RangeReader, Follower[Any], Protocol):
    """Everything: what ``open_store`` returns (SQLite, Redis)."""


# Optional abilities


class Bell(Protocol):
    """A follower's side of a doorbell: ``sock`` (a datagram socket) receives a datagram
    when a writer commits."""

    sock: socket.socket

    def take_all(self) -> bool:
        """Read every pending ring without waiting; whether there was one."""
        ...

    def heartbeat(self) -> None:
        """Called now and then while following: keeps the writer ringing."""

    def close(self) -> None: ...


class StoredDay(NamedTuple):
    """What the store holds of one stream's UTC day (day: days since 1970-01-01)."""

    venue: str
    symbol: str
    day: int
    rows: int
    first_seq: int
    last_seq: int


class Dropped(NamedTuple):
    """Ticks to delete from the store once archived."""

    venue: str
    symbol: str
    from_msc: int
    to_msc: int
    last_seq: int


@runtime_checkable
class Archivable(Protocol):
    """A store whose old days ``arbitrex archive`` can move out."""

    def stored_days(self, before_msc: int) -> list[StoredDay]:
        """Each stream's days that end at or before ``before_msc``."""
        ...

    def iter_stream(self, venue: str, symbol: str, from_msc: int, to_msc: int, *,
                    chunk: int = 10_000) -> Iterator[Tick]:
        """One stream's ticks with from_msc <= time_msc < to_msc, in (time_msc, seq)
        order."""
        ...

    def drop(self, ranges: Sequence[Dropped]) -> int:
        """Delete each range's ticks (one stream's, in [from_msc, to_msc), up to
        ``last_seq``); how many. Seq counters are kept: seqs are never reused."""
        ...


class Lease(NamedTuple):
    """Who holds a venue: the one collector that may write its streams."""

    venue: str
    host: str
    pid: int
    started: float  # the process's start time (epoch s): a reused pid is another process
    token: str  # this holding's own id
    since_ms: int  # taken at (epoch ms)
    beat_ms: int  # last heartbeat (epoch ms)
    state: str = ""  # the holder's source, as its status line says (``connected``, ...)


@runtime_checkable
class Leases(Protocol):
    """Where the venues' leases live (``collect.lease`` decides who may take one)."""

    def take_lease(self, claim: Lease, *, ttl_ms: int, gone: Callable[[Lease], bool]
                   ) -> Lease | None:
        """Take ``claim.venue`` unless another holds it: None when taken (free, or its
        holder ``gone``), else the holder."""
        ...

    def renew_lease(self, claim: Lease, *, ttl_ms: int) -> Lease | None:
        """A heartbeat: None while the lease is ours (or free again, then retaken), else
        the holder that took it over."""
        ...

    def release_lease(self, claim: Lease) -> None:
        """Give the venue up, if it is still ours."""

    def leases(self) -> list[Lease]:
        """Every lease held now (an expired one may still show on SQLite: see beat_ms)."""
        ...


@runtime_checkable
class NonBlocking(Protocol):
    """``follow(timeout=0)`` returns at once: read it on the event loop, this often at least."""

    poll_interval: float


@runtime_checkable
class FollowsOnLoop(Protocol):
    def on_loop(self, cursor: Any, dispatch: Callable[[list[Tick]], None], *, limit: int,
                failed: Callable[[StoreError], None], retry_after: float
                ) -> Coroutine[Any, Any, None] | None:
        """Follow from ``cursor`` on the running event loop until cancelled, each read
        handed to ``dispatch`` and each failure to ``failed`` (then retried); None where
        this store cannot be followed so (a thread follows it then)."""
        ...


@runtime_checkable
class Rings(Protocol):
    def listen(self) -> Bell | None:
        """A doorbell that wakes a follower when a writer commits (None: poll instead)."""
        ...


@runtime_checkable
class Spools(Protocol):
    def pending(self) -> int:
        """Ticks accepted but not in the store yet (kept locally while it is unreachable)."""
        ...


@runtime_checkable
class Reports(Protocol):
    def status(self) -> str:
        """A short human-readable state, e.g. ``redis ok``."""
        ...
