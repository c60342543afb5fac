"""History for programs: stored and archived ticks in one deterministic order, and bars.

    import arbitrex.history
    for tick in arbitrex.history.read(symbols=["EURUSD"], start="2026-11-20T00:00:00Z"):
        ...                                  # an arbitrex.model.Tick, in (time_msc, seq) order
    for bar in arbitrex.history.bars("1m", symbols=["EURUSD"]):
        ...                                  # an arbitrex.bars.Bar
    frame = arbitrex.history.table(symbols=["EURUSD"]).to_pandas()

    with History(SqliteStore("other.db"), archive="other/archive") as history:
        for tick in history.read(venues=["icm"]): ...     # a store and archive of your own

``ordered`` merges a store's streams, and the archive's day files of the same streams, in
(time_msc, seq, venue, symbol) order, one cursor per stream: in constant memory on SQLite
and the archive; on Redis a stream's range is read whole and ordered in memory (at most
REDIS_MAXLEN entries: entries are ordered by seq there, and a late tick's time is not). ``History``
reads a store and an archive it is given; the one-liners ``read``, ``bars`` and ``table``
open the ones the settings name (the environment and ``.env``, as every command reads them)
and close the store when done.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from arbitrex import formats
from arbitrex.archive import files as archive_files
from arbitrex.archive.layout import DayKey, days_in
from arbitrex.bars import Bar, make_bars, parse_width
from arbitrex.clock import BrokerClock, utc_ms
from arbitrex.config import Settings, load_settings
from arbitrex.constants import END_OF_TIME
from arbitrex.errors import ConfigError
from arbitrex.model.tick import STORED_FIELDS, Tick
from arbitrex.stores import open_store
from arbitrex.stores.base import Archivable, RangeReader

__all__ = [
    "History", "When", "bars", "by_stream", "count", "epoch_ms", "numbered", "of_file", "order_key",
    "ordered", "read", "table",
]

When = datetime | str | int | None  # a datetime (naive: UTC), ISO-8601 text, or epoch ms


def order_key(tick: Tick) -> tuple[int, int, str, str]:
    return (tick.time_msc, tick.seq, tick.venue, tick.symbol)


def ordered(store: RangeReader, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
            from_msc: int = 0, to_msc: int = END_OF_TIME, archive: Path | None = None
            ) -> Iterator[Tick]:
    """The ticks with from_msc <= time_msc < to_msc of the store and of the archive under
    ``archive`` (when given), merged across streams; each seq of a stream once (a day being
    archived may be in both for a moment)."""
    return heapq.merge(*by_stream(store, symbols=symbols, venues=venues, from_msc=from_msc,
                                  to_msc=to_msc, archive=archive), key=order_key)


def by_stream(store: RangeReader, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
              from_msc: int = 0, to_msc: int = END_OF_TIME, archive: Path | None = None
              ) -> list[Iterator[Tick]]:
    """``ordered``'s ticks stream by stream (venue, symbol order): each stream's store and
    archive in (time_msc, seq) order, each seq once, not merged across streams."""
    def wanted(venue: str, symbol: str) -> bool:
        return (not symbols or symbol in symbols) and (not venues or venue in venues)

    days: dict[tuple[str, str], list[tuple[DayKey, Path]]] = {}
    if archive is not None and archive.is_dir():
        for key, path in days_in(archive):
            if wanted(key.venue, key.symbol) and key.end_msc > from_msc \
                    and key.start_msc < to_msc:
                days.setdefault((key.venue, key.symbol), []).append((key, path))
    streams = sorted({k for k in store.streams() if wanted(*k)} | set(days))
    cursors = []
    for venue, symbol in streams:
        stored: Iterator[Tick]
        if isinstance(store, Archivable):  # each stream in (time_msc, seq) order
            stored = store.iter_stream(venue, symbol, from_msc, to_msc, chunk=2000)
        else:  # in seq order: the same wherever a stream's times follow its seqs
            stored = store.iter_range(symbols=[symbol], venues=[venue], from_msc=from_msc,
                                      to_msc=to_msc, chunk=2000)
        archived = days.get((venue, symbol))
        if archived:
            old = (t for key, path in archived
                   for t in (archive_files.read(path, key, from_msc, to_msc)
                             if from_msc > key.start_msc or to_msc < key.end_msc
                             else archive_files.read(path, key)))
            stored = _once(heapq.merge(old, stored, key=_time_seq))
        cursors.append(stored)
    return cursors


def _time_seq(tick: Tick) -> tuple[int, int]:
    return (tick.time_msc, tick.seq)


def _once(ticks: Iterable[Tick]) -> Iterator[Tick]:
    """One stream's ticks in (time_msc, seq) order, each seq once: a tick both archived and
    stored comes twice in a row."""
    last = -1
    for tick in ticks:
        if tick.seq != last:
            yield tick
            last = tick.seq


def count(store: RangeReader, *, symbols: Sequence[str] = (), from_msc: int = 0,
          to_msc: int = END_OF_TIME, archive: Path | None = None) -> int:
    """How many ticks ``ordered`` gives (a day in both places counted twice)."""
    n = store.count_range(symbols=symbols, from_msc=from_msc, to_msc=to_msc)
    if archive is not None and archive.is_dir():
        for key, path in days_in(archive):
            if (not symbols or key.symbol in symbols) and key.end_msc > from_msc \
                    and key.start_msc < to_msc:
                n += archive_files.count_between(path, from_msc, to_msc)
    return n


def numbered(ticks: Iterable[Tick]) -> Iterator[Tick]:
    """Give seq 1..N per (venue, symbol), in input order, to ticks that have none."""
    counters: dict[tuple[str, str], int] = {}
    for tick in ticks:
        if tick.seq == 0:
            n = counters.get(tick.key, 0) + 1
            counters[tick.key] = n
            tick = tick.with_seq(n)
        yield tick


def of_file(path: Path, *, symbols: Sequence[str] = (), from_msc: int = 0,
            to_msc: int = END_OF_TIME, broker_timezone: str = "UTC") -> list[Tick]:
    """A tick file's ticks (NDJSON, CSV, Parquet, or an MT5 export of ``symbols[0]`` in
    ``broker_timezone``), numbered where they have no seq, filtered, in order (a file is
    sorted in memory, once)."""
    if not path.exists():
        raise ConfigError("file", f"{path} does not exist", "give an existing file")
    mt5 = formats.guess_format(path) == "mt5"
    ticks = formats.read(path, symbols=tuple(symbols), clock=BrokerClock(broker_timezone))
    chosen = [t for t in numbered(ticks) if (mt5 or not symbols or t.symbol in symbols)
              and from_msc <= t.time_msc < to_msc]
    chosen.sort(key=order_key)
    return chosen


def epoch_ms(when: When, name: str) -> int | None:
    """``when`` as UTC epoch milliseconds (ConfigError naming ``name`` when unreadable)."""
    if when is None or isinstance(when, int):
        return when
    try:
        return utc_ms(when)
    except ValueError:
        raise ConfigError(name, f"{when!r} is not an ISO-8601 time",
                          "e.g. 2026-11-20T09:00:00Z") from None


class History:
    """A store and its archive, read as one history (each seq once, in (time_msc, seq)
    order). ``History.from_settings()`` opens the store the settings name; ``close`` (or a
    ``with`` block) closes what it opened."""

    def __init__(self, store: RangeReader, archive: str | Path | None = None) -> None:
        self.store = store
        self.archive = Path(archive) if archive is not None else None
        self._owned = False

    @classmethod
    def from_settings(cls, env_file: str | Path = ".env") -> History:
        """The store and archive of the settings (environment, ``env_file``, defaults)."""
        return cls.of(load_settings(env_file=env_file))

    @classmethod
    def of(cls, settings: Settings) -> History:
        """The store and archive ``settings`` name, opened here (``close`` closes them)."""
        history = cls(open_store(settings), settings.archive_dir)
        history._owned = True
        return history

    def read(self, symbols: Sequence[str] | None = None, venues: Sequence[str] | None = None,
             start: When = None, end: When = None) -> Iterator[Tick]:
        """Ticks with start <= time < end (datetimes, ISO-8601 text or epoch ms)."""
        to_msc = epoch_ms(end, "end")
        return ordered(self.store, symbols=symbols or (), venues=venues or (),
                       from_msc=epoch_ms(start, "start") or 0,
                       to_msc=END_OF_TIME if to_msc is None else to_msc, archive=self.archive)

    def streams(self, symbols: Sequence[str] | None = None,
                venues: Sequence[str] | None = None, start: When = None, end: When = None
                ) -> list[Iterator[Tick]]:
        """``read``'s ticks stream by stream, not merged (``by_stream``)."""
        to_msc = epoch_ms(end, "end")
        return by_stream(self.store, symbols=symbols or (), venues=venues or (),
                         from_msc=epoch_ms(start, "start") or 0,
                         to_msc=END_OF_TIME if to_msc is None else to_msc,
                         archive=self.archive)

    def bars(self, width: str | int, symbols: Sequence[str] | None = None,
             venues: Sequence[str] | None = None, start: When = None, end: When = None
             ) -> Iterator[Bar]:
        """Bars of ``width`` (``"1m"``, ``"1h"``, ... or milliseconds)."""
        width_ms = parse_width(width) if isinstance(width, str) else width
        return make_bars(self.read(symbols, venues, start, end), width_ms)

    def table(self, symbols: Sequence[str] | None = None, venues: Sequence[str] | None = None,
              start: When = None, end: When = None) -> Any:
        """``read`` as a ``pyarrow.Table`` with the stored fields as columns (pandas:
        ``.to_pandas()``)."""
        return _as_table(self.read(symbols, venues, start, end))

    def close(self) -> None:
        if self._owned:
            self.store.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# One-liners over the settings' store and archive


def read(symbols: Sequence[str] | None = None, venues: Sequence[str] | None = None,
         start: When = None, end: When = None, *, env_file: str | Path = ".env"
         ) -> Iterator[Tick]:
    """``History.from_settings(env_file).read(...)``, closed when the iteration ends."""
    with History.from_settings(env_file) as history:
        yield from history.read(symbols, venues, start, end)


def bars(width: str | int, symbols: Sequence[str] | None = None,
         venues: Sequence[str] | None = None, start: When = None, end: When = None, *,
         env_file: str | Path = ".env") -> Iterator[Bar]:
    """``History.from_settings(env_file).bars(...)``."""
    width_ms = parse_width(width) if isinstance(width, str) else width
    return make_bars(read(symbols, venues, start, end, env_file=env_file), width_ms)


def table(symbols: Sequence[str] | None = None, venues: Sequence[str] | None = None,
          start: When = None, end: When = None, *, env_file: str | Path = ".env") -> Any:
    """``History.from_settings(env_file).table(...)``."""
    with History.from_settings(env_file) as history:
        return history.table(symbols, venues, start, end)


def _as_table(ticks: Iterable[Tick]) -> Any:
    from arbitrex.formats.parquet import as_table

    return as_table(ticks, STORED_FIELDS)
