"""The one tick value type, and every conversion in and out of it.

In: MetaTrader 5 numpy structured rows (``MT5_TICK_DTYPE``), JSON records (files, the wire).
Out: the tick record (docs/PROTOCOL.md) as a dict, as JSON bytes (one line of NDJSON), and
store rows.
``Position`` (where a stream stands, for a source to resume) lives here too: stores and
sources both speak of it, and neither may import the other. Nothing here does I/O.
Numpy scalars never escape: rows are turned into Python numbers with ``ndarray.tolist()``
before a Tick is built.
"""

from __future__ import annotations

import heapq
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
import orjson

from arbitrex.errors import TickError

__all__ = [
    "MT5_TICK_DTYPE", "Position", "RECORD_FIELDS", "STORED_FIELDS", "SYMBOL_RE",
    "TICK_FLAG_ASK", "TICK_FLAG_BID", "TICK_FLAG_LAST", "TICK_FLAG_VOLUME", "Tick",
    "UNNAMED_VENUE", "check_symbol", "decode", "digits_of", "encode", "encode_ndjson",
    "from_mt5_rows", "from_record", "in_receipt_order", "latest_run", "receipt_key",
    "to_record", "validate",
]

#: The dtype of ``copy_ticks_from``/``copy_ticks_range`` results (docs/MT5.md).
MT5_TICK_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("bid", "<f8"),
        ("ask", "<f8"),
        ("last", "<f8"),
        ("volume", "<u8"),
        ("time_msc", "<i8"),
        ("flags", "<u4"),
        ("volume_real", "<f8"),
    ]
)

SYMBOL_RE = re.compile(r"[A-Za-z0-9._#-]{1,32}")
_INT64_MAX = 2**63 - 1

# MT5 tick flags (bits we name; other bits are kept as they come).
TICK_FLAG_BID = 0x02
TICK_FLAG_ASK = 0x04
TICK_FLAG_LAST = 0x08
TICK_FLAG_VOLUME = 0x10


class Tick(NamedTuple):
    """One market tick. ``seq`` is 0 until a store assigns it."""

    venue: str
    symbol: str
    seq: int
    time_msc: int  # event time, UTC epoch ms
    bid: float
    ask: float
    last: float
    volume: int
    volume_real: float
    flags: int
    recv_ns: int  # when the collector received it, UTC epoch ns
    broker_msc: int  # the broker's own clock as MT5 reports it (not part of the wire record)

    @property
    def key(self) -> tuple[str, str]:
        return (self.venue, self.symbol)

    def with_seq(self, seq: int) -> Tick:
        """This tick with ``seq`` (what ``_replace(seq=...)`` does, three times faster)."""
        return tuple.__new__(Tick, (*self[:2], seq, *self[3:]))


#: Field order of a stored row (SQLite tables, the spool): the Tick's own fields.
STORED_FIELDS: tuple[str, ...] = Tick._fields


class Position(NamedTuple):
    """Where a (venue, symbol) stream stands in the store, so a source can resume.

    ``broker_msc`` is the broker time of the last stored tick and ``same_ms`` how many
    stored ticks share that millisecond (time_msc is not unique, see docs/MT5.md).
    """

    seq: int
    broker_msc: int
    same_ms: int


#: The order ticks of several venues were received in: a tick's (``recv_ns``, ``venue``,
#: ``seq``), as a key function (in C: it runs for every tick of a merge).
receipt_key: Callable[[Tick], tuple[int, str, int]] = operator.attrgetter("recv_ns", "venue",
                                                                          "seq")


def in_receipt_order(ticks: Iterable[Tick]) -> list[Tick]:
    """``ticks`` in the order they were received (``receipt_key``), each stream's own order
    kept: should a collector's clock have stepped back (a stream's seqs no longer rising
    once sorted), the streams are merged instead, so a later seq never comes first."""
    given = list(ticks)
    ordered = sorted(given, key=receipt_key)
    last: dict[tuple[str, str], int] = {}
    for tick in ordered:
        key = (tick.venue, tick.symbol)
        if last.get(key, -1) >= tick.seq:
            break
        last[key] = tick.seq
    else:
        return ordered
    streams: dict[tuple[str, str], list[Tick]] = {}
    for tick in given:
        streams.setdefault((tick.venue, tick.symbol), []).append(tick)
    return list(heapq.merge(*streams.values(), key=receipt_key))


def latest_run(times_newest_first: Iterable[int]) -> tuple[int, int]:
    """(the newest time, how many times in a row from the newest equal it): how many ticks
    share the last millisecond, the one count that resuming at a millisecond needs.
    (0, 0) when there is none."""
    it: Iterator[int] = iter(times_newest_first)
    newest = next(it, None)
    if newest is None:
        return 0, 0
    same = 1
    for t in it:
        if t != newest:
            break
        same += 1
    return newest, same


#: The venue of a tick read from an input that names none (an MT5 tick export, a record
#: without "venue").
UNNAMED_VENUE = "file"


#: Field order of the wire record (docs/PROTOCOL.md), after ``"type": "tick"``.
RECORD_FIELDS = (
    "symbol",
    "venue",
    "seq",
    "time_msc",
    "bid",
    "ask",
    "last",
    "volume",
    "volume_real",
    "flags",
    "recv_ns",
)


_VALID_SYMBOLS: set[str] = set()  # names already checked (bounded below)


def check_symbol(symbol: object) -> str:
    """Return ``symbol`` if it is a valid symbol name, else raise TickError."""
    if symbol in _VALID_SYMBOLS:
        return symbol
    if not isinstance(symbol, str) or not SYMBOL_RE.fullmatch(symbol):
        raise TickError(f"invalid symbol {symbol!r}: expected 1-32 of A-Z a-z 0-9 . _ # -")
    if len(_VALID_SYMBOLS) < 100_000:
        _VALID_SYMBOLS.add(symbol)
    return symbol


def validate(tick: Tick) -> Tick:
    """Return ``tick`` if it is storable, else raise TickError saying why."""
    venue, symbol, seq, time_msc, bid, ask, last, volume, volume_real, flags = tick[:10]
    if (symbol in _VALID_SYMBOLS and venue in _VALID_SYMBOLS and 0 <= bid < math.inf
            and 0 <= ask < math.inf and 0 <= last < math.inf and 0 <= volume_real < math.inf
            and time_msc > 0 and 0 <= volume <= _INT64_MAX and seq >= 0 and flags >= 0):
        return tick  # the common case, in one expression (NaN fails every comparison)
    check_symbol(tick.symbol)
    check_symbol(tick.venue)
    for name in ("bid", "ask", "last", "volume_real"):
        value = getattr(tick, name)
        if not math.isfinite(value) or value < 0:
            raise TickError(f"{tick.symbol}: {name} must be a finite number >= 0, got {value!r}")
    if tick.time_msc <= 0:
        raise TickError(f"{tick.symbol}: time_msc must be positive, got {tick.time_msc}")
    if not 0 <= tick.volume <= _INT64_MAX:
        raise TickError(f"{tick.symbol}: volume out of range: {tick.volume}")
    if tick.seq < 0 or tick.flags < 0:
        raise TickError(f"{tick.symbol}: seq and flags must be >= 0")
    return tick


def from_mt5_rows(
    rows: np.ndarray,
    *,
    venue: str,
    symbol: str,
    recv_ns: int,
    to_utc_msc: Callable[[int], int] = lambda msc: msc,
) -> list[Tick]:
    """Turn a ``copy_ticks_*`` result into Ticks (seq 0), converting broker time to UTC."""
    if rows.dtype.names is None or "time_msc" not in rows.dtype.names:
        raise TickError(f"{symbol}: not an MT5 tick array (dtype {rows.dtype})")
    names = rows.dtype.names
    idx = {n: names.index(n) for n in MT5_TICK_DTYPE.names or ()}
    out = []
    for row in rows.tolist():  # tolist() yields plain Python ints and floats
        broker_msc = int(row[idx["time_msc"]])
        out.append(
            Tick(
                venue,
                symbol,
                0,
                to_utc_msc(broker_msc),
                float(row[idx["bid"]]),
                float(row[idx["ask"]]),
                float(row[idx["last"]]),
                int(row[idx["volume"]]),
                float(row[idx["volume_real"]]),
                int(row[idx["flags"]]),
                recv_ns,
                broker_msc,
            )
        )
    return out


def to_record(tick: Tick, **extra: Any) -> dict[str, Any]:
    """The record of ``tick`` as a dict, with optional extra keys (e.g. snapshot)."""
    record: dict[str, Any] = {
        "type": "tick", "symbol": tick.symbol, "venue": tick.venue, "seq": tick.seq,
        "time_msc": tick.time_msc, "bid": tick.bid, "ask": tick.ask, "last": tick.last,
        "volume": tick.volume, "volume_real": tick.volume_real, "flags": tick.flags,
        "recv_ns": tick.recv_ns}  # RECORD_FIELDS, spelled out: this runs once per tick served
    if extra:
        record.update(extra)
    return record


def encode(tick: Tick, **extra: Any) -> bytes:
    """The record of ``tick`` as compact JSON bytes (no newline)."""
    return orjson.dumps(to_record(tick, **extra))


def encode_ndjson(ticks: Iterable[Tick]) -> bytes:
    return b"".join(orjson.dumps(to_record(t)) + b"\n" for t in ticks)


def _number(record: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    value = record.get(name, default)
    if isinstance(value, np.generic):
        value = value.item()  # a numpy scalar becomes the plain Python number it holds
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TickError(f"field {name!r} must be a number, got {value!r}")
    if kind is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise TickError(f"field {name!r} must be an integer, got {value!r}")
            value = int(value)
        return value
    return float(value)


def from_record(record: Mapping[str, Any], *, venue: str | None = None) -> Tick:
    """Parse and validate a tick record (docs/PROTOCOL.md) (from a file or the wire)."""
    if not isinstance(record, Mapping):
        raise TickError(f"a tick record must be a JSON object, got {type(record).__name__}")
    missing = [n for n in ("symbol", "time_msc", "bid", "ask") if n not in record]
    if missing:
        raise TickError(f"tick record lacks {', '.join(missing)}")
    time_msc = _number(record, "time_msc", int, None)
    tick = Tick(
        venue=venue or str(record.get("venue", UNNAMED_VENUE)),
        symbol=str(record["symbol"]),
        seq=_number(record, "seq", int, 0),
        time_msc=time_msc,
        bid=_number(record, "bid", float, 0.0),
        ask=_number(record, "ask", float, 0.0),
        last=_number(record, "last", float, 0.0),
        volume=_number(record, "volume", int, 0),
        volume_real=_number(record, "volume_real", float, 0.0),
        flags=_number(record, "flags", int, 0),
        recv_ns=_number(record, "recv_ns", int, 0),
        broker_msc=_number(record, "broker_msc", int, time_msc),
    )
    return validate(tick)


def decode(line: bytes | str) -> Tick:
    """Parse one JSON line into a validated Tick."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise TickError(f"not valid JSON: {exc}") from exc
    return from_record(record)


def digits_of(price: float) -> int:
    """Decimal places of a quoted price (at most 5), used to express spreads in points."""
    text = f"{price:.6f}".rstrip("0")
    return min(5, len(text.split(".")[1])) if "." in text else 0
