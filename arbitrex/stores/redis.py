"""Redis Streams store: one stream per (venue, symbol), entry ID ``<seq>-0``.

The keys are in ``redis_keys.py``. The hash tag keeps a stream's keys in one Redis Cluster
slot, so one Lua script assigns seq and appends atomically: two collectors or a restart can
never reuse or skip a seq. Because the entry ID is the seq, ``since`` is a plain XRANGE, and
readers follow with blocking XREAD.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import orjson
import redis
from redis.exceptions import RedisError

from arbitrex.constants import DAY_MS, END_OF_TIME
from arbitrex.errors import StoreError
from arbitrex.model.tick import RECORD_FIELDS, Position, Tick, latest_run
from arbitrex.stores import redis_keys as keys
from arbitrex.stores import redis_loop
from arbitrex.stores.base import Dropped, Lease, StoredDay

__all__ = ["FIELDS", "RedisStore", "ServerFacts"]

log = logging.getLogger(__name__)

#: How long a follower's XREAD waits for new entries (ms): stop and new streams are seen
#: at least this often.
FOLLOW_BLOCK_MS = 200
#: A stream entry's fields: the record's, then the broker's own clock.
FIELDS = (*RECORD_FIELDS, "broker_msc")
_VALUE_FIELDS = FIELDS[3:]  # what the script receives per entry, after seq

# KEYS: per stream, three: the stream, its counter, its spool watermark. ARGV: maxlen, spool
# id ("" = none), then the entries as one JSON array (decoded by Redis' own cjson: one
# argument per call, not one per field): per stream, in the order of KEYS, the array of its
# entries, each [seq (0 = assign the next), spool seq (0 = none), symbol, venue, then the
# other fields' values as strings, in FIELDS' order]. The field names are in the script. One
# call may cover several streams (on one Redis: a batch becomes visible to readers at once);
# on a cluster it covers one (one slot). Returns the seq of each entry in order, 0 where it
# was skipped (already held).
_APPEND = """
local maxlen = ARGV[1]
local spool = ARGV[2]
local streams = cjson.decode(ARGV[3])
local out = {}
for n = 1, #streams do
  local k = n * 3 - 2
  local last = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
  local applied = 0
  if spool ~= '' then applied = tonumber(redis.call('HGET', KEYS[k + 2], spool) or '0') end
  local entries = streams[n]
  for i = 1, #entries do
    local e = entries[i]
    local want, sid = e[1], e[2]
    local seq = 0
    if sid > 0 and sid <= applied then
      seq = 0
    elseif want == 0 then
      seq = last + 1
    elseif want > last then
      seq = want
    end
    if seq > 0 then
      last = seq
      if sid > applied then applied = sid end
      local s = string.format('%d', seq)
      redis.call('XADD', KEYS[k], 'MAXLEN', '~', maxlen, s .. '-0',
                 'symbol', e[3], 'venue', e[4], 'seq', s, FIELDS)
    end
    out[#out + 1] = seq
  end
  redis.call('SET', KEYS[k + 1], string.format('%d', last))
  if spool ~= '' and applied > 0 then
    redis.call('HSET', KEYS[k + 2], spool, string.format('%d', applied))
  end
end
return out
""".replace("FIELDS", ", ".join(f"'{name}', e[{i}]"
                                for i, name in enumerate(_VALUE_FIELDS, start=5)))


# Leases (KEYS[1]: the venue's lease hash). ARGV: ttl ms, then field, value pairs; TAKE and
# RENEW also the token that may be replaced ("" = none). Each returns false when the lease
# is (now) the caller's, else the holder's fields.
_LEASE_SET = """
local held = redis.call('HGET', KEYS[1], 'token')
if held and held ~= ARGV[2] then return redis.call('HGETALL', KEYS[1]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return false
"""
_LEASE_RELEASE = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""
_LEASE_FIELDS = Lease._fields


def _lease(flat: Sequence[bytes] | Mapping[bytes, bytes]) -> Lease:
    f = {k.decode(): v.decode() for k, v in (
        flat.items() if isinstance(flat, Mapping) else zip(flat[0::2], flat[1::2], strict=True))}
    return Lease(f["venue"], f["host"], int(f["pid"]), float(f["started"]), f["token"],
                 int(f["since_ms"]), int(f["beat_ms"]), f.get("state", ""))


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _raw(response: Any, **options: Any) -> Any:
    return response


def _entry(tick: Tick, seq: int, spool_seq: int) -> list[Any]:
    """One entry as the append script reads it (the values as they are stored: floats by
    repr, as redis-py would send them)."""
    return [seq, spool_seq, tick.symbol, tick.venue, str(tick.time_msc), repr(tick.bid),
            repr(tick.ask), repr(tick.last), str(tick.volume), repr(tick.volume_real),
            str(tick.flags), str(tick.recv_ns), str(tick.broker_msc)]


_FIELD_NAMES = [name.encode() for name in FIELDS]


def _entry_tick(flat: list[bytes] | Mapping[bytes, bytes]) -> Tick:
    """A tick from one raw stream entry's field list (name, value, ...): by position when
    the fields are the ones this module writes, in its order; else by name. (A cluster
    client hands over entries already parsed into dicts.)"""
    if isinstance(flat, Mapping):
        return _tick(flat)
    if flat[0::2] == _FIELD_NAMES:
        (symbol, venue, seq, time_msc, bid, ask, last, volume, volume_real, flags, recv_ns,
         broker_msc) = flat[1::2]
        return Tick(venue.decode(), symbol.decode(), int(seq), int(time_msc), float(bid),
                    float(ask), float(last), int(volume), float(volume_real), int(flags),
                    int(recv_ns), int(broker_msc))
    return _tick(dict(zip(flat[0::2], flat[1::2], strict=True)))


def _tick(fields: Mapping[bytes, bytes]) -> Tick:
    f = {k.decode(): v.decode() for k, v in fields.items()}
    return Tick(f["venue"], f["symbol"], int(f["seq"]), int(f["time_msc"]), float(f["bid"]),
                float(f["ask"]), float(f["last"]), int(f["volume"]), float(f["volume_real"]),
                int(f["flags"]), int(f["recv_ns"]), int(f.get("broker_msc", f["time_msc"])))


class ServerFacts(NamedTuple):
    version: str
    cluster: bool
    aof: bool  # append-only file on
    rdb: bool  # snapshots on (assumed on a cluster, where CONFIG GET goes to one node)
    maxmemory: int  # bytes, 0 = no limit
    streams: int


class RedisStore:
    """Implements ``TickStore`` on Redis (5.0+) or Redis Cluster."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        maxlen: int = 1_000_000,
        # Timeouts
        connect_timeout: float = 2.0,
        socket_timeout: float = 10.0,
        # Following
        discover_interval: float = 1.0,
    ) -> None:
        self.url = url
        self.maxlen = maxlen
        self.connect_timeout, self.socket_timeout = connect_timeout, socket_timeout
        self.discover_interval = discover_interval
        kwargs = {"socket_connect_timeout": connect_timeout, "socket_timeout": socket_timeout}
        probe = redis.Redis.from_url(url, **kwargs)
        try:
            cluster = int(probe.info("cluster").get("cluster_enabled", 0)) == 1
        except RedisError as exc:
            raise StoreError(f"cannot reach Redis at {self!r}: {exc}") from exc
        if cluster:
            probe.close()
            self.r: Any = redis.cluster.RedisCluster.from_url(url, **kwargs)
        else:
            self.r = probe
        self.cluster = cluster
        # XREAD answers raw (lists, not dicts of fields): followers parse entries by position.
        self.r.set_response_callback("XREAD", _raw)
        self._script = self.r.register_script(_APPEND)
        self._lease_set = self.r.register_script(_LEASE_SET)
        self._lease_release = self.r.register_script(_LEASE_RELEASE)
        self._known: list[str] = []
        self._discovered = 0.0

    def __repr__(self) -> str:
        host = self.url.split("@")[-1]  # never the password of a redis://user:pass@ URL
        return f"RedisStore('{host}')"

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RedisError as exc:
            raise StoreError(f"Redis {what} failed: {exc}") from exc

    # Writing

    def _run(self, ticks: Sequence[Tick], *, keep_seq: bool, spool: str = "",
             spool_ids: Sequence[int] = ()) -> list[Tick]:
        groups: dict[tuple[str, str], list[int]] = {}
        for i, tick in enumerate(ticks):
            groups.setdefault(tick.key, []).append(i)
        # One script call for the whole batch on one Redis; on a cluster one per stream (a
        # script's keys must share a slot), each a round trip to the node holding it.
        calls: list[tuple[list[str], list[list[Any]]]] = []
        for (venue, symbol), idx in groups.items():
            entries = [_entry(ticks[i], ticks[i].seq if keep_seq else 0,
                              spool_ids[i] if spool_ids else 0) for i in idx]
            calls.append(([keys.stream_key(venue, symbol), keys.seq_key(venue, symbol),
                           keys.spool_key(venue, symbol)], [entries]))
        if not self.cluster:
            calls = [([k for names, _ in calls for k in names],
                      [e for _, streams in calls for e in streams])]
        flat: list[Any] = []
        for names, streams in calls:
            flat += self._call("append", self._script, keys=names,
                               args=[self.maxlen, spool, orjson.dumps(streams)])
        results, start = [], 0
        for idx in groups.values():
            results.append(flat[start:start + len(idx)])
            start += len(idx)
        out: list[Tick | None] = [None] * len(ticks)
        for (_, idx), seqs in zip(groups.items(), results, strict=True):
            for i, seq in zip(idx, seqs, strict=True):
                if seq:
                    out[i] = ticks[i]._replace(seq=int(seq))
        return [t for t in out if t is not None]

    def append(self, ticks: Sequence[Tick]) -> list[Tick]:
        return self._run(ticks, keep_seq=False) if ticks else []

    def append_spooled(self, ticks: Sequence[Tick], *, spool: str, ids: Sequence[int]
                       ) -> list[Tick]:
        """Append ticks from a spool exactly once: ids at or below the spool's watermark in
        Redis were applied before (a drain interrupted between append and delete)."""
        return self._run(ticks, keep_seq=False, spool=spool, spool_ids=ids) if ticks else []

    def append_exact(self, ticks: Sequence[Tick]) -> list[Tick]:
        return self._run(ticks, keep_seq=True) if ticks else []

    # Leases: a hash per venue with a TTL, so that a lease holds across hosts and a holder
    # that died frees it within the TTL

    def _set_lease(self, claim: Lease, replace: str, ttl_ms: int) -> Lease | None:
        pairs = [x for name, value in zip(_LEASE_FIELDS, claim, strict=True)
                 for x in (name, value)]
        held = self._call("lease", self._lease_set, keys=[keys.lease_key(claim.venue)],
                          args=[ttl_ms, replace, *pairs])
        return _lease(held) if held else None

    def take_lease(self, claim: Lease, *, ttl_ms: int, gone: Callable[[Lease], bool]
                   ) -> Lease | None:
        holder = self._set_lease(claim, "", ttl_ms)
        if holder is not None and gone(holder):  # its process died: at once, not at the TTL
            holder = self._set_lease(claim, holder.token, ttl_ms)
        return holder

    def renew_lease(self, claim: Lease, *, ttl_ms: int) -> Lease | None:
        return self._set_lease(claim._replace(beat_ms=time.time_ns() // 1_000_000),
                               claim.token, ttl_ms)

    def release_lease(self, claim: Lease) -> None:
        self._call("lease", self._lease_release, keys=[keys.lease_key(claim.venue)],
                   args=[claim.token])

    def leases(self) -> list[Lease]:
        found = [self._call("lease", self.r.hgetall, k) for k in self._scan(keys.LEASE + "*")]
        return sorted((_lease(f) for f in found if f), key=lambda lease: lease.venue)

    def mark_start(self, venue: str, starts: Mapping[str, int]) -> None:
        for symbol, ms in starts.items():
            self._call("mark_start", self.r.set, keys.start_key(venue, symbol), ms, nx=True)

    # Reading

    def _scan(self, pattern: str) -> list[str]:
        keys = self._call("scan", lambda: [k.decode() if isinstance(k, bytes) else k
                                           for k in self.r.scan_iter(match=pattern, count=1000)])
        return sorted(set(keys))

    def streams(self) -> list[tuple[str, str]]:
        return [keys.parse(k, keys.TICKS) for k in self._scan(keys.pattern(keys.TICKS))]

    def positions(self, venue: str) -> dict[str, Position]:
        out: dict[str, Position] = {}
        for key in self._scan(keys.pattern(keys.START, venue)):
            symbol = keys.parse(key, keys.START)[1]
            out[symbol] = Position(0, int(self._call("get", self.r.get, key)), 0)
        for v, symbol in self.streams():
            if v != venue:
                continue
            entries = self._call("xrevrange", self.r.xrevrange, keys.stream_key(v, symbol),
                                 count=10_000)
            if not entries:
                continue
            ticks = [_tick(fields) for _, fields in entries]
            last_ms, same = latest_run(t.broker_msc for t in ticks)
            out[symbol] = Position(ticks[0].seq, last_ms, same)
        return out

    def last(self, venue: str, symbol: str) -> Tick | None:
        entries = self._call("xrevrange", self.r.xrevrange, keys.stream_key(venue, symbol), count=1)
        return _tick(entries[0][1]) if entries else None

    def first_seq(self, venue: str, symbol: str) -> int | None:
        entries = self._call("xrange", self.r.xrange, keys.stream_key(venue, symbol), count=1)
        return int(entries[0][0].split(b"-")[0]) if entries else None

    def read_after(self, venue: str, symbol: str, after_seq: int, limit: int) -> list[Tick]:
        entries = self._call("xrange", self.r.xrange, keys.stream_key(venue, symbol),
                             min=f"{after_seq + 1}-0", count=limit)
        return [_tick(fields) for _, fields in entries]

    def count_range(self, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
                    from_msc: int = 0, to_msc: int = END_OF_TIME) -> int:
        return sum(1 for _ in self.iter_range(symbols=symbols, venues=venues,
                                              from_msc=from_msc, to_msc=to_msc))

    def iter_range(self, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
                   from_msc: int = 0, to_msc: int = END_OF_TIME, chunk: int = 10_000
                   ) -> Iterator[Tick]:
        for venue, symbol in self.streams():
            if (symbols and symbol not in symbols) or (venues and venue not in venues):
                continue
            yield from (t for t in self._scan_stream(venue, symbol, chunk)
                        if from_msc <= t.time_msc < to_msc)

    def _scan_stream(self, venue: str, symbol: str, chunk: int = 10_000) -> Iterator[Tick]:
        """A stream whole, in seq order, ``chunk`` entries per read."""
        after = 0
        while True:
            ticks = self.read_after(venue, symbol, after, chunk)
            if not ticks:
                return
            after = ticks[-1].seq
            yield from ticks

    # Archiving (a daily job: it reads each stream whole, at most REDIS_MAXLEN entries)

    def stored_days(self, before_msc: int) -> list[StoredDay]:
        cutoff = before_msc - before_msc % DAY_MS
        days: dict[tuple[str, str, int], list[int]] = {}  # -> [rows, lowest, highest seq]
        for venue, symbol in self.streams():
            for t in self._scan_stream(venue, symbol):
                if t.time_msc < cutoff:
                    held = days.setdefault((venue, symbol, t.time_msc // DAY_MS),
                                           [0, t.seq, t.seq])
                    held[0] += 1
                    held[1], held[2] = min(held[1], t.seq), max(held[2], t.seq)
        return [StoredDay(v, s, d, *facts) for (v, s, d), facts in sorted(days.items())]

    def iter_stream(self, venue: str, symbol: str, from_msc: int, to_msc: int, *,
                    chunk: int = 10_000) -> Iterator[Tick]:
        """The range ordered in memory: a stream is in seq order, and a tick stored late
        has an older time (at most REDIS_MAXLEN entries are held)."""
        chosen = [t for t in self._scan_stream(venue, symbol, chunk)
                  if from_msc <= t.time_msc < to_msc]
        chosen.sort(key=lambda t: (t.time_msc, t.seq))
        return iter(chosen)

    def drop(self, ranges: Sequence[Dropped], *, chunk: int = 1000) -> int:
        """XDEL, a thousand entries per call, after the day files are in place."""
        total = 0
        for r in ranges:
            ids = [f"{t.seq}-0" for t in self._scan_stream(r.venue, r.symbol)
                   if r.from_msc <= t.time_msc < r.to_msc and t.seq <= r.last_seq]
            key = keys.stream_key(r.venue, r.symbol)
            for i in range(0, len(ids), chunk):
                total += int(self._call("xdel", self.r.xdel, key, *ids[i:i + chunk]))
        return total

    # Following

    def head(self) -> dict[str, str]:
        return {keys.stream_key(v, s): f"{t.seq}-0" for v, s in self.streams()
                if (t := self.last(v, s)) is not None}

    def _with_new_streams(self, cursor: dict[str, str]) -> dict[str, str]:
        now = time.monotonic()
        if now - self._discovered > self.discover_interval:
            self._known = self._scan(keys.pattern(keys.TICKS))
            self._discovered = now
        cursor = dict(cursor)
        for key in self._known:
            cursor.setdefault(key, "0-0")  # a stream that appeared after we started
        return cursor

    @staticmethod
    def _read(replies: Any, cursor: dict[str, str]) -> list[Tick]:
        """Ticks from a raw XREAD reply ([[key, [[id, [field, value, ...]], ...]], ...], or
        a map of key to entries on RESP3), moving ``cursor`` past them. An entry that is not
        a tick (another program's) is logged and skipped: it would never be one to send."""
        ticks: list[Tick] = []
        for key, entries in replies.items() if isinstance(replies, Mapping) else replies:
            if entries:
                for entry, fields in entries:
                    try:
                        ticks.append(_entry_tick(fields))
                    except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
                        # written by another program, and not a tick: never one to send
                        log.error("skipped entry %s of %s: not a tick (%s: %s)",
                                  _text(entry), _text(key), type(exc).__name__, exc)
                cursor[_text(key)] = _text(entries[-1][0])
        return ticks

    def follow(self, cursor: dict[str, str], *, timeout: float, limit: int
               ) -> tuple[list[Tick], dict[str, str]]:
        cursor = self._with_new_streams(cursor)
        if not cursor:
            time.sleep(timeout)
            return [], cursor
        block = max(1, int(timeout * 1000))
        if self.cluster:  # XREAD of several keys must stay in one slot: one key at a time
            replies: list[Any] = []
            for key, last_id in cursor.items():
                replies += self._call("xread", self.r.xread, {key: last_id}, count=limit) or []
            if not replies:
                time.sleep(min(timeout, 0.005))
        else:
            def wait_then_read() -> Any:  # in one round trip (see redis_loop.wait_then_read)
                pipe = self.r.pipeline(transaction=False)
                for command in redis_loop.wait_then_read(cursor, block_ms=block, limit=limit):
                    pipe.execute_command(*command)
                return pipe.execute()[1]

            replies = self._call("xread", wait_then_read) or []
        ticks = self._read(replies, cursor)
        return ticks, cursor

    def on_loop(self, cursor: dict[str, str], dispatch: Callable[[list[Tick]], None], *,
                limit: int, failed: Callable[[StoreError], None], retry_after: float
                ) -> Coroutine[Any, Any, None] | None:
        """Following on the event loop itself (``redis_loop.py``), from ``cursor`` until
        cancelled; None on a Cluster or over TLS or a Unix socket (a thread follows then)."""
        where = None if self.cluster else redis_loop.address(self.url)
        if where is None:
            return None
        return redis_loop.follow(
            where, dict(cursor), dispatch, read=self._read,
            discover=lambda: self._scan(keys.pattern(keys.TICKS)),
            discover_interval=self.discover_interval, limit=limit, block_ms=FOLLOW_BLOCK_MS,
            connect_timeout=self.connect_timeout, socket_timeout=self.socket_timeout,
            failed=failed, retry_after=retry_after)

    def ping(self) -> None:
        self._call("ping", self.r.ping)

    def describe(self) -> ServerFacts:
        """What doctor checks: version, persistence, memory limit, streams held."""
        info = dict(self._call("info", self.r.info))
        rdb = True if self.cluster else bool(
            self._call("config get", self.r.config_get, "save").get("save"))
        return ServerFacts(version=str(info.get("redis_version", "0")), cluster=self.cluster,
                           aof=int(info.get("aof_enabled", 0)) == 1, rdb=rdb,
                           maxmemory=int(info.get("maxmemory", 0)), streams=len(self.streams()))

    def close(self) -> None:
        try:
            self.r.close()
        except RedisError:
            pass
