"""The embedded store: one SQLite file in WAL mode, one writer and any number of readers.

Layout (readable by other programs):
    ticks(id INTEGER PRIMARY KEY, venue, symbol, seq, time_msc, bid, ask, last, volume,
          volume_real, flags, recv_ns, broker_msc)  UNIQUE (venue, symbol, seq)
    streams(venue, symbol, last_seq, start_msc)  the durable seq counter of each stream, and
          where its source began (broker ms) while no tick is stored yet (last_seq 0)
    leases(venue, host, pid, started, token, since_ms, beat_ms, state)  the collector
          writing each venue, with its heartbeat and its source's state (``collect.lease``)

``append`` assigns seq inside one ``BEGIN IMMEDIATE`` transaction, so even two writer
processes can never reuse or skip a seq, and a kill -9 loses only an uncommitted batch
(which was never acknowledged). ``id`` is the insertion order readers follow.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from arbitrex.constants import DAY_MS, END_OF_TIME
from arbitrex.errors import StoreError
from arbitrex.model.tick import STORED_FIELDS, Position, Tick, latest_run
from arbitrex.stores import checkpoint, doorbell
from arbitrex.stores.base import Dropped, Lease, StoredDay

__all__ = ["COLUMNS", "INSERT", "SCHEMA", "FileFacts", "SqliteStore", "inspect"]

#: The ticks table's columns after ``id``: the Tick's fields (the spool shares them).
COLUMNS = ", ".join(STORED_FIELDS)
SCHEMA = """
CREATE TABLE IF NOT EXISTS ticks (
    id INTEGER PRIMARY KEY,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time_msc INTEGER NOT NULL,
    bid REAL NOT NULL,
    ask REAL NOT NULL,
    last REAL NOT NULL,
    volume INTEGER NOT NULL,
    volume_real REAL NOT NULL,
    flags INTEGER NOT NULL,
    recv_ns INTEGER NOT NULL,
    broker_msc INTEGER NOT NULL,
    UNIQUE (venue, symbol, seq)
);
CREATE INDEX IF NOT EXISTS ticks_by_time ON ticks (venue, symbol, time_msc, seq);
CREATE TABLE IF NOT EXISTS streams (
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    start_msc INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (venue, symbol)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
    venue TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    token TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    beat_ms INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
"""
_LEASE = "venue, host, pid, started, token, since_ms, beat_ms, state"
#: The insert of one tick row (other programs and the benchmarks write the same rows).
INSERT = f"INSERT INTO ticks ({COLUMNS}) VALUES ({','.join('?' * len(STORED_FIELDS))})"


class FileFacts(NamedTuple):
    """What ``inspect`` reads of a store file, for doctor."""

    journal_mode: str
    streams: int  # streams with a seq counter (0 when the file has no table yet)
    sqlite_version: str


def inspect(path: str | Path, *, timeout: float = 2.0) -> FileFacts:
    """Read a store file's mode and size without writing to it (read-only)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
    try:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        has_streams = db.execute("SELECT 1 FROM sqlite_master WHERE name='streams'").fetchone()
        streams = db.execute("SELECT COUNT(*) FROM streams").fetchone()[0] if has_streams else 0
    finally:
        db.close()
    return FileFacts(str(mode), int(streams), sqlite3.sqlite_version)


_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6  # result codes (sqlite3 names them from Python 3.11)


def _busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is None:
        return "locked" in str(exc) or "busy" in str(exc)
    return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)


# Waiting for another writer's transaction (several collectors into one file). SQLite's own
# busy handler sleeps 1, 2, 5, 10, 15 ms... between tries, so a writer that finds the lock
# taken for a tenth of a millisecond waits a millisecond or more: the tail of the
# latency. ``begin_immediate`` tries again after 0.1 ms instead, doubling up to 1 ms.
LOCK_RETRY_FIRST = 0.0001  # seconds
LOCK_RETRY_MAX = 0.001

# Timeouts of the lease connection: taking and renewing a lease wait for another writer as
# long as a write does; giving it up waits little (the lease frees itself, see release_lease)
LEASE_TIMEOUT_MS = 10_000
RELEASE_TIMEOUT_MS = 1_000


def begin_immediate(db: sqlite3.Connection, timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE`` on ``db`` (whose busy timeout is ``timeout_ms``), waiting for
    another writer in short steps (see above) for up to ``timeout_ms``; raises
    sqlite3.OperationalError ("database is locked") past it."""
    db.execute("PRAGMA busy_timeout = 0")
    try:
        wait, deadline = LOCK_RETRY_FIRST, time.monotonic() + timeout_ms / 1000
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(wait)
            wait = min(2 * wait, LOCK_RETRY_MAX)
    finally:
        db.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


class SqliteStore:
    """Implements ``TickStore`` on one SQLite file."""

    name = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        # Timeouts
        busy_timeout_ms: int = 10_000,
        # Follow
        poll_interval: float = 0.001,
        # WAL checkpoints, in a thread beside the writer (see checkpoint.py)
        checkpoint_interval: float = checkpoint.INTERVAL,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.checkpoint_interval = checkpoint_interval
        self.poll_interval = poll_interval
        self._bell = doorbell.Doorbell(self.path)
        self._last_seq: dict[tuple[str, str], int] = {}  # committed counters, see _write
        self._version: int | None = None
        self._lease_db: sqlite3.Connection | None = None
        self._checkpointer: checkpoint.Checkpointer | None = None  # started by the first write
        deadline = time.monotonic() + busy_timeout_ms / 1000
        while True:
            try:
                self._db = self._open(busy_timeout_ms)
                break
            except (sqlite3.Error, OSError) as exc:
                # Switching a new file to WAL while another process does the same (collect
                # and serve started together) answers "database is locked" at once, without
                # waiting: the other opener finishes in milliseconds, so try again.
                if isinstance(exc, sqlite3.OperationalError) and _busy(exc) \
                        and time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                raise StoreError(f"cannot open the SQLite store {self.path}: {exc}") from exc

    def _open(self, busy_timeout_ms: int) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA cache_size = -65536")  # 64 MiB: every stream's index pages
            # checkpoints are the Checkpointer's; the writer's own only past this backstop
            db.execute(f"PRAGMA wal_autocheckpoint = {checkpoint.BACKSTOP_PAGES}")
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # Writing

    def append(self, ticks: Sequence[Tick]) -> list[Tick]:
        return self._write(ticks, keep_seq=False)

    def append_exact(self, ticks: Sequence[Tick]) -> list[Tick]:
        """Store ticks keeping their own seq (replay into a store). A tick whose seq the
        stream already holds is skipped, so replaying the same file twice adds nothing."""
        return self._write(ticks, keep_seq=True)

    def _write(self, ticks: Sequence[Tick], *, keep_seq: bool) -> list[Tick]:
        if not ticks:
            return []
        db = self._db
        try:
            begin_immediate(db, self.busy_timeout_ms)
            try:
                # Each stream's counter, read once and then kept: valid while no other
                # connection has committed (data_version changes only for their commits).
                version = db.execute("PRAGMA data_version").fetchone()[0]
                if version != self._version:
                    self._last_seq.clear()
                    self._version = version
                last: dict[tuple[str, str], int] = {}
                for key in {t[:2] for t in ticks}:  # (venue, symbol)
                    if key not in self._last_seq:
                        row = db.execute("SELECT last_seq FROM streams WHERE venue=? AND "
                                         "symbol=?", key).fetchone()
                        self._last_seq[key] = row[0] if row else 0
                    last[key] = self._last_seq[key]
                stored = []
                for t in ticks:
                    key = t[:2]
                    if keep_seq:
                        if t.seq <= last[key]:
                            continue  # already held
                        last[key] = t.seq
                        stored.append(t)
                    else:
                        seq = last[key] = last[key] + 1
                        stored.append(t.with_seq(seq))
                db.executemany(INSERT, stored)
                db.executemany(
                    "INSERT INTO streams (venue, symbol, last_seq) VALUES (?,?,?) "
                    "ON CONFLICT (venue, symbol) DO UPDATE SET last_seq = excluded.last_seq",
                    [(v, s, n) for (v, s), n in last.items()],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._last_seq.update(last)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        self._bell.ring()  # committed: followers waiting on the doorbell find it
        self._committed()
        return stored

    def _committed(self) -> None:
        """A write committed: the checkpointer (started by the first) copies it later."""
        if self._checkpointer is None:
            self._checkpointer = checkpoint.Checkpointer(self.path,
                                                        interval=self.checkpoint_interval)
        self._checkpointer.committed()

    def mark_start(self, venue: str, starts: Mapping[str, int]) -> None:
        if not starts:
            return
        try:
            with self._db:
                begin_immediate(self._db, self.busy_timeout_ms)
                self._db.executemany(
                    "INSERT OR IGNORE INTO streams (venue, symbol, last_seq, start_msc) "
                    "VALUES (?,?,0,?)", [(venue, s, ms) for s, ms in starts.items()])
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc

    # Leases: on a connection of their own, so that a heartbeat (from its own thread) never
    # joins the writer's open transaction

    def _leasing(self) -> sqlite3.Connection:
        if self._lease_db is None:
            self._lease_db = self._open(LEASE_TIMEOUT_MS)
        return self._lease_db

    def _lease_tx(self, work: Callable[[sqlite3.Connection], Lease | None], *,
                  timeout_ms: int = LEASE_TIMEOUT_MS) -> Lease | None:
        """Run ``work`` in a write transaction of the lease connection, waiting up to
        ``timeout_ms`` for another writer's lock."""
        db = self._leasing()
        try:
            begin_immediate(db, timeout_ms)
            try:
                result = work(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        return result

    def take_lease(self, claim: Lease, *, ttl_ms: int, gone: Callable[[Lease], bool]
                   ) -> Lease | None:
        def take(db: sqlite3.Connection) -> Lease | None:
            row = db.execute(f"SELECT {_LEASE} FROM leases WHERE venue=?",
                             (claim.venue,)).fetchone()
            if row is not None and not gone(Lease._make(row)):
                return Lease._make(row)
            db.execute(f"INSERT OR REPLACE INTO leases ({_LEASE}) VALUES (?,?,?,?,?,?,?,?)", claim)
            return None

        return self._lease_tx(take)

    def renew_lease(self, claim: Lease, *, ttl_ms: int) -> Lease | None:
        def renew(db: sqlite3.Connection) -> Lease | None:
            row = db.execute(f"SELECT {_LEASE} FROM leases WHERE venue=?",
                             (claim.venue,)).fetchone()
            if row is not None and row[4] != claim.token:
                return Lease._make(row)
            db.execute(f"INSERT OR REPLACE INTO leases ({_LEASE}) VALUES (?,?,?,?,?,?,?,?)",
                       claim._replace(beat_ms=time.time_ns() // 1_000_000))
            return None

        return self._lease_tx(renew)

    def release_lease(self, claim: Lease) -> None:
        def release(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM leases WHERE venue=? AND token=?", (claim.venue, claim.token))

        # a lease outlives its holder only until its process is seen gone (this host) or
        # its heartbeat ages: a collector stopping, often after a failed write, does not
        # wait long for a lock to give it up
        self._lease_tx(release, timeout_ms=RELEASE_TIMEOUT_MS)

    def leases(self) -> list[Lease]:
        return [Lease._make(r) for r in self._query(f"SELECT {_LEASE} FROM leases ORDER BY venue")]

    # Reading

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc

    def positions(self, venue: str) -> dict[str, Position]:
        out = {}
        for symbol, last_seq, start_msc in self._query(
            "SELECT symbol, last_seq, start_msc FROM streams WHERE venue=?", (venue,)
        ):
            if last_seq == 0:
                out[symbol] = Position(0, start_msc, 0)  # started, nothing stored yet
                continue
            rows = self._query(
                "SELECT broker_msc FROM ticks WHERE venue=? AND symbol=? AND seq > ? "
                "ORDER BY seq DESC", (venue, symbol, last_seq - 10_000))
            last_ms, same = latest_run(ms for (ms,) in rows)
            out[symbol] = Position(last_seq, last_ms, same)
        return out

    def last(self, venue: str, symbol: str) -> Tick | None:
        rows = self._query(f"SELECT {COLUMNS} FROM ticks WHERE venue=? AND symbol=? "
                           "ORDER BY seq DESC LIMIT 1", (venue, symbol))
        return Tick._make(rows[0]) if rows else None

    def streams(self) -> list[tuple[str, str]]:
        return [(v, s) for v, s in self._query("SELECT venue, symbol FROM streams "
                                               "WHERE last_seq > 0 ORDER BY venue, symbol")]

    def first_seq(self, venue: str, symbol: str) -> int | None:
        rows = self._query("SELECT MIN(seq) FROM ticks WHERE venue=? AND symbol=?",
                           (venue, symbol))
        return rows[0][0] if rows else None

    def read_after(self, venue: str, symbol: str, after_seq: int, limit: int) -> list[Tick]:
        rows = self._query(f"SELECT {COLUMNS} FROM ticks WHERE venue=? AND symbol=? AND seq > ? "
                           "ORDER BY seq LIMIT ?", (venue, symbol, after_seq, limit))
        return [Tick._make(r) for r in rows]

    # Ranges (export, replay)

    def _range_sql(self, symbols: Sequence[str], venues: Sequence[str]
                   ) -> tuple[str, list[object]]:
        where, args = ["time_msc >= ?", "time_msc < ?"], list[object]()
        if symbols:
            where.append(f"symbol IN ({','.join('?' * len(symbols))})")
            args += list(symbols)
        if venues:
            where.append(f"venue IN ({','.join('?' * len(venues))})")
            args += list(venues)
        return " AND ".join(where), args

    def count_range(self, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
                    from_msc: int = 0, to_msc: int = END_OF_TIME) -> int:
        if from_msc > 0 or to_msc < END_OF_TIME:  # a range of time: per stream, on the index
            return sum(int(self._query(
                "SELECT COUNT(*) FROM ticks WHERE venue=? AND symbol=? AND time_msc >= ? AND "
                "time_msc < ?", [v, s, from_msc, to_msc])[0][0])
                for v, s in self.streams()
                if (not symbols or s in symbols) and (not venues or v in venues))
        where, args = self._range_sql(symbols, venues)
        return int(self._query(f"SELECT COUNT(*) FROM ticks WHERE {where}",
                               [from_msc, to_msc, *args])[0][0])

    def iter_range(self, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
                   from_msc: int = 0, to_msc: int = END_OF_TIME, chunk: int = 10_000
                   ) -> Iterator[Tick]:
        """Stored ticks with from_msc <= time_msc < to_msc, in store order, ``chunk`` rows at a
        time (constant memory however large the store)."""
        where, args = self._range_sql(symbols, venues)
        sql = (f"SELECT id, {COLUMNS} FROM ticks WHERE id > ? AND {where} "
               "ORDER BY id LIMIT ?")
        cursor = 0
        while True:
            rows = self._query(sql, [cursor, from_msc, to_msc, *args, chunk])
            if not rows:
                return
            cursor = rows[-1][0]
            yield from (Tick._make(r[1:]) for r in rows)

    # Archiving

    def stored_days(self, before_msc: int) -> list[StoredDay]:
        rows = self._query(
            f"SELECT venue, symbol, time_msc / {DAY_MS} AS day, COUNT(*), MIN(seq), MAX(seq) "
            "FROM ticks WHERE time_msc < ? GROUP BY venue, symbol, day "
            "ORDER BY venue, symbol, day", [before_msc - before_msc % DAY_MS])
        return [StoredDay(*row) for row in rows]

    def iter_stream(self, venue: str, symbol: str, from_msc: int, to_msc: int, *,
                    chunk: int = 10_000) -> Iterator[Tick]:
        """One stream's ticks in [from_msc, to_msc) in (time_msc, seq) order, through the
        index ticks_by_time: a range of time costs what it holds, however old the store."""
        sql = (f"SELECT {COLUMNS} FROM ticks WHERE venue=? AND symbol=? AND time_msc < ? "
               "AND (time_msc, seq) > (?, ?) ORDER BY time_msc, seq LIMIT ?")
        at = (from_msc, -1)
        while True:
            rows = self._query(sql, [venue, symbol, to_msc, *at, chunk])
            if not rows:
                return
            at = (rows[-1][3], rows[-1][2])
            yield from (Tick._make(r) for r in rows)

    def drop(self, ranges: Sequence[Dropped], *, chunk: int = 5000) -> int:
        """Delete by rowid, in rowid order, ``chunk`` rows per transaction: the ticks of a
        day of several streams lie together, so each page is written once, and a writer
        (collect) waits for one chunk at most."""
        ids: list[int] = []
        for r in ranges:
            ids += [row[0] for row in self._query(
                "SELECT id FROM ticks WHERE venue=? AND symbol=? AND time_msc >= ? AND "
                "time_msc < ? AND seq <= ?", [r.venue, r.symbol, r.from_msc, r.to_msc,
                                             r.last_seq])]
        ids.sort()
        try:
            for i in range(0, len(ids), chunk):
                part = ids[i:i + chunk]
                with self._db:
                    begin_immediate(self._db, self.busy_timeout_ms)
                    self._db.execute(f"DELETE FROM ticks WHERE id IN "
                                     f"({','.join('?' * len(part))})", part)
                self._committed()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot delete from {self.path}: {exc} (is the disk full?); "
                             "nothing is lost: run archive again once there is room") from exc
        return len(ids)

    # Following

    def listen(self) -> doorbell.Listener | None:
        """A doorbell that wakes a follower when a writer commits (None: poll instead)."""
        return doorbell.listen(self.path)

    def head(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM ticks")[0][0])

    def follow(self, cursor: int, *, timeout: float, limit: int) -> tuple[list[Tick], int]:
        deadline = time.monotonic() + timeout
        sql = f"SELECT id, {COLUMNS} FROM ticks WHERE id > ? ORDER BY id LIMIT ?"
        while True:
            rows = self._query(sql, (cursor, limit))
            if rows:
                return [Tick._make(r[1:]) for r in rows], rows[-1][0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return [], cursor
            time.sleep(min(self.poll_interval, remaining))

    def close(self) -> None:
        self._bell.close()
        if self._checkpointer is not None:
            self._checkpointer.close()
        for db in (self._db, self._lease_db):
            try:
                if db is not None:
                    db.close()
            except sqlite3.Error:
                pass
