"""History for programs: stored ticks in one deterministic order, and bars of them.

    import arbitrex.history
    for tick in arbitrex.history.read(symbols=["EURUSD"], start="2026-11-20T00:00:00Z"):
        ...                                  # an arbitrex.tick.Tick, in (time_msc, seq) order
    for bar in arbitrex.history.bars("1m", symbols=["EURUSD"]):
        ...                                  # an arbitrex.bars.Bar

``ordered`` merges a store's streams in (time_msc, seq, venue, symbol) order in constant
memory (one cursor per stream); ``read`` and ``bars`` open the store the settings name
(the environment and ``.env``, as every command reads them) and close it when done.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from arbitrex.bars import Bar, make_bars, parse_width
from arbitrex.config import load_settings
from arbitrex.errors import ConfigError
from arbitrex.stores import open_store
from arbitrex.stores.base import END_OF_TIME, RangeReader
from arbitrex.tick import Tick

When = datetime | str | int | None  # a datetime (naive: UTC), ISO-8601 text, or epoch ms


def order_key(tick: Tick) -> tuple[int, int, str, str]:
    return (tick.time_msc, tick.seq, tick.venue, tick.symbol)


def ordered(store: RangeReader, *, symbols: Sequence[str] = (), venues: Sequence[str] = (),
            from_msc: int = 0, to_msc: int = END_OF_TIME) -> Iterator[Tick]:
    """The store's ticks with from_msc <= time_msc < to_msc, merged across streams."""
    streams = [(v, s) for v, s in store.streams()
               if (not symbols or s in symbols) and (not venues or v in venues)]
    cursors = [store.iter_range(symbols=[s], venues=[v], from_msc=from_msc, to_msc=to_msc,
                                chunk=2000) for v, s in streams]
    return heapq.merge(*cursors, key=order_key)


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
    from arbitrex import formats
    from arbitrex.clock import BrokerClock

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
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(name, f"{when!r} is not an ISO-8601 time",
                              "e.g. 2026-11-20T09:00:00Z") from None
    if when.tzinfo is None:
        from datetime import timezone

        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def read(symbols: Sequence[str] | None = None, venues: Sequence[str] | None = None,
         start: When = None, end: When = None, *, env_file: str | Path = ".env"
         ) -> Iterator[Tick]:
    """Stored ticks with start <= time < end, in (time_msc, seq) order."""
    from_msc = epoch_ms(start, "start") or 0
    to_msc = epoch_ms(end, "end")
    settings = load_settings(env_file=env_file)
    store = open_store(settings)
    try:
        yield from ordered(store, symbols=symbols or (), venues=venues or (),
                           from_msc=from_msc, to_msc=END_OF_TIME if to_msc is None else to_msc)
    finally:
        store.close()


def bars(width: str | int, symbols: Sequence[str] | None = None,
         venues: Sequence[str] | None = None, start: When = None, end: When = None, *,
         env_file: str | Path = ".env") -> Iterator[Bar]:
    """Bars of ``width`` (``"1m"``, ``"1h"``, ... or milliseconds) of the stored ticks."""
    width_ms = parse_width(width) if isinstance(width, str) else width
    return make_bars(read(symbols, venues, start, end, env_file=env_file), width_ms)
