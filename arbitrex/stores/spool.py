"""A writer's safety net for Redis: while Redis is unreachable every tick goes to a local
SQLite spool (bounded by disk), and when Redis is back the spool is drained in order,
exactly once, before live ticks continue.

Exactly once: every tick gets an id from this writer (a uuid per run, ids rising), live or
spooled, and the Lua append records in Redis, atomically with the ticks, the highest id
applied for that writer. A batch whose append failed without an answer (Redis killed after
running it) is spooled with its ids, and so is skipped if it had landed; a drain
interrupted between Redis accepting a chunk and the spool deleting it is skipped the same
way.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from arbitrex.errors import StoreError, StoreUnavailable
from arbitrex.model.tick import STORED_FIELDS, Position, Tick, latest_run
from arbitrex.runtime.backoff import Backoff
from arbitrex.stores.base import Lease
from arbitrex.stores.redis import RedisStore
from arbitrex.stores.sqlite import COLUMNS

__all__ = ["SpoolingStore"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class SpoolingStore:
    """A ``TickWriter`` (and ``Spools``, ``Reports``): Redis, with a local spool during
    outages. Readers open Redis itself."""

    name = "redis"

    def __init__(
        self,
        connect: Callable[[], RedisStore],
        spool_path: str | Path,
        *,
        # Retries
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
        # Limits
        drain_chunk: int = 2000,
        drain_budget: float = 0.05,
    ) -> None:
        self._connect = connect
        self._lease_store: RedisStore | None = None
        self._backoff = Backoff(initial=retry_initial, cap=retry_max)
        self.drain_chunk = drain_chunk
        self.drain_budget = drain_budget
        self.path = Path(spool_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(f"""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT,
                {', '.join(c + ' NOT NULL' for c in STORED_FIELDS)});
        """)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(spool)")}
        for column in ("writer TEXT NOT NULL DEFAULT ''", "wid INTEGER NOT NULL DEFAULT 0"):
            if column.split()[0] not in columns:  # a spool from before writer ids
                self._db.execute(f"ALTER TABLE spool ADD COLUMN {column}")
        self.writer = uuid.uuid4().hex  # this run's writer id: ticks carry (writer, wid)
        self._wid = 0
        row = self._db.execute("SELECT value FROM meta WHERE key='id'").fetchone()
        if row is None:
            self.spool_id = uuid.uuid4().hex
            self._db.execute("INSERT INTO meta VALUES ('id', ?)", (self.spool_id,))
        else:
            self.spool_id = row[0]
        self.primary: RedisStore | None = None
        self._empty = False  # the spool is known to hold nothing (see pending)
        self._next_try = 0.0
        self.spooled_total = 0
        self._reconnect()
        if self.pending():
            log.warning("%d ticks wait in the spool %s from an earlier run; they go first",
                        self.pending(), self.path)

    def __repr__(self) -> str:
        return f"{self.primary!r} (spool {self.path})" if self.primary else \
            f"RedisStore (unreachable; spool {self.path})"

    # The connection

    def _reconnect(self) -> bool:
        try:
            if self.primary is None:
                self.primary = self._connect()
            self.primary.ping()
        except StoreError as exc:
            self._down(exc)
            return False
        if self._attempt:
            log.info("Redis is reachable again after %d attempts", self._attempt)
        self._backoff.reset()
        return True

    @property
    def _attempt(self) -> int:
        """Failed attempts to reach Redis since it last answered (0: it answers)."""
        return self._backoff.attempt

    def _down(self, exc: Exception) -> None:
        delay = self._backoff.next()
        self._next_try = time.monotonic() + delay
        if self._attempt == 1:
            log.warning("Redis unreachable (%s): spooling ticks to %s", exc, self.path)
        else:
            log.info("Redis still unreachable (attempt %d, next in %.1f s); %d ticks spooled",
                     self._attempt, delay, self.pending())

    def pending(self) -> int:
        """Ticks in the spool. Known empty, it is not asked again until this writer spools
        (the spool is its own: one per venue), so a live append costs no spool query."""
        if self._empty:
            return 0
        n = int(self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])
        self._empty = n == 0
        return n

    def status(self) -> str:
        pending = self.pending()
        if not pending:
            return "redis ok"
        return f"redis unreachable: {pending:,} ticks spooled" if self._attempt \
            else f"draining {pending:,} spooled ticks"

    # Writing

    def _ids(self, n: int) -> range:
        first = self._wid + 1
        self._wid += n
        return range(first, first + n)

    def _spool(self, ticks: Sequence[Tick], ids: Sequence[int]) -> None:
        self._empty = False
        with self._db:
            self._db.executemany(f"INSERT INTO spool ({COLUMNS}, writer, wid) VALUES "
                                 f"({','.join('?' * (len(STORED_FIELDS) + 2))})",
                                 [(*t, self.writer, i) for t, i in zip(ticks, ids, strict=True)])
        self.spooled_total += len(ticks)

    def _drain(self, budget: float) -> list[Tick]:
        """Send spooled ticks to Redis, oldest first, for about ``budget`` seconds."""
        if self._attempt and time.monotonic() < self._next_try:
            return []
        if self._attempt and not self._reconnect():
            return []
        assert self.primary is not None
        stored: list[Tick] = []
        deadline = time.monotonic() + budget
        while True:
            rows = self._db.execute(f"SELECT id, writer, wid, {COLUMNS} FROM spool "
                                    "ORDER BY id LIMIT ?", (self.drain_chunk,)).fetchall()
            if not rows:
                return stored
            # One writer per call (rows from before writer ids: the spool's own id).
            n = 1
            while n < len(rows) and rows[n][1] == rows[0][1]:
                n += 1
            rows = rows[:n]
            try:
                stored += self.primary.append_spooled(
                    [Tick._make(r[3:]) for r in rows], spool=rows[0][1] or self.spool_id,
                    ids=[r[2] if r[1] else r[0] for r in rows])
            except StoreError as exc:
                self._down(exc)
                return stored
            with self._db:
                self._db.execute("DELETE FROM spool WHERE id <= ?", (rows[-1][0],))
            if not self.pending():
                log.info("spool drained: Redis holds every tick; live again")
                return stored
            if time.monotonic() > deadline:
                return stored

    def append(self, ticks: Sequence[Tick]) -> list[Tick]:
        """Store in Redis (returned with seq), or spool (returned later, when drained)."""
        if not ticks:
            return self._drain(self.drain_budget) if self.pending() else []
        ids = self._ids(len(ticks))
        if not self._attempt and not self.pending():
            assert self.primary is not None
            try:
                return self.primary.append_spooled(ticks, spool=self.writer, ids=ids)
            except StoreError as exc:  # it may have landed: spooled with the same ids
                self._down(exc)
        self._spool(ticks, ids)
        return self._drain(self.drain_budget)

    def append_exact(self, ticks: Sequence[Tick]) -> list[Tick]:
        return self._require().append_exact(ticks)

    def mark_start(self, venue: str, starts: Mapping[str, int]) -> None:
        try:
            self._require().mark_start(venue, starts)
        except StoreError as exc:
            log.warning("could not record start positions in Redis: %s", exc)

    # Leases: in Redis, through a client of their own (renewed from another thread)

    def _lease_call(self, call: Callable[[RedisStore], T]) -> T:
        try:
            if self._lease_store is None:
                self._lease_store = self._connect()
            return call(self._lease_store)
        except StoreError as exc:
            if self._lease_store is not None:
                self._lease_store.close()
                self._lease_store = None
            raise StoreUnavailable(f"Redis is unreachable ({exc})") from exc

    def take_lease(self, claim: Lease, *, ttl_ms: int, gone: Callable[[Lease], bool]
                   ) -> Lease | None:
        return self._lease_call(lambda r: r.take_lease(claim, ttl_ms=ttl_ms, gone=gone))

    def renew_lease(self, claim: Lease, *, ttl_ms: int) -> Lease | None:
        return self._lease_call(lambda r: r.renew_lease(claim, ttl_ms=ttl_ms))

    def release_lease(self, claim: Lease) -> None:
        self._lease_call(lambda r: r.release_lease(claim))

    def leases(self) -> list[Lease]:
        return self._lease_call(lambda r: r.leases())

    # Reading: Redis, plus what only the spool holds yet

    def _require(self) -> RedisStore:
        if self.primary is None and not self._reconnect():
            raise StoreError("Redis is unreachable")
        assert self.primary is not None
        return self.primary

    def positions(self, venue: str) -> dict[str, Position]:
        try:
            out = self._require().positions(venue)
        except StoreError as exc:  # not knowing where a symbol left off would leave a hole
            raise StoreUnavailable(f"Redis is unreachable ({exc}), so where each symbol left "
                                   "off is unknown") from exc
        for (symbol,) in self._db.execute("SELECT DISTINCT symbol FROM spool WHERE venue=?",
                                          (venue,)).fetchall():
            last_ms, same = latest_run(ms for (ms,) in self._db.execute(
                "SELECT broker_msc FROM spool WHERE venue=? AND symbol=? ORDER BY id DESC "
                "LIMIT 10000", (venue, symbol)))
            before = out.get(symbol)
            if before is not None and before.broker_msc == last_ms:
                same += before.same_ms
            out[symbol] = Position(before.seq if before else 0, last_ms, same)
        return out

    def close(self) -> None:
        if self.pending():
            self._next_try = 0.0
            self._drain(budget=5.0)
            if self.pending():
                log.warning("%d ticks stay in the spool %s; the next collect sends them first",
                            self.pending(), self.path)
        for redis_store in (self.primary, self._lease_store):
            if redis_store is not None:
                redis_store.close()
        self._db.close()
