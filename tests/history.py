"""Stored history the tests share: a store filled with simulated ticks (bursts included),
ticks at given offsets, their records, and a MetaTrader 5 tick export."""

from __future__ import annotations

import codecs
import random

from arbitrex.model.tick import Tick, to_record
from arbitrex.sources.sim import SimModel
from arbitrex.stores.sqlite import SqliteStore

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z


def fill(path, n: int = 3000) -> SqliteStore:
    """A store with n simulated ticks over three symbols, bursts included."""
    store = SqliteStore(path)
    model = SimModel(["EURUSD", "USDJPY", "XAUUSD"], seed=5)
    ticks = []
    for i in range(n):
        symbol, bid, ask, flags, burst = next(model)
        ms = T0 + i * 7 - (7 if burst else 0)
        ticks.append(Tick("sim", symbol, 0, ms, bid, ask, 0.0, 2**40 + i, 0.5, flags,
                          ms * 10**6 + 123, ms))
    store.append(ticks)
    return store


def make_tick(*, venue: str = "sim", symbol: str = "EURUSD", seq: int = 0, ms: int = T0,
              bid: float = 1.1, ask: float | None = None, volume: int = 0,
              volume_real: float = 0.0, flags: int = 6, recv_ns: int | None = None,
              broker_msc: int | None = None) -> Tick:
    """The one tick builder of the tests: what a test does not name is a plain EURUSD quote
    of venue sim, received the moment it happened."""
    return Tick(venue, symbol, seq, ms, bid, bid + 0.0001 if ask is None else ask, 0.0, volume,
                volume_real, flags, ms * 10**6 if recv_ns is None else recv_ns,
                ms if broker_msc is None else broker_msc)


def records(ticks) -> list[dict]:
    return [to_record(t) for t in ticks]


def write_mt5_export(path, encoding: str = "utf-16") -> None:
    lines = ["<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>",
             "2026.11.20\t09:30:00.125\t1.08501\t1.08503\t\t\t6",
             "2026.11.20\t09:30:00.125\t1.08502\t\t\t\t2",   # same ms; ask unchanged
             "2026.11.20\t09:30:01.000\t\t1.08507\t\t\t4",   # bid unchanged
             "2026.11.20\t09:30:02.500\t1.08499\t1.08505\t1.085\t3\t134"]
    text = "\r\n".join(lines) + "\r\n"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le") if encoding == "utf-16"
                     else text.encode())


def ticks_at(*offsets_ms: int) -> list[Tick]:
    return [Tick("sim", "EURUSD", i + 1, T0 + ms, 1.0, 1.1, 0.0, 0, 0.0, 6, 0, T0 + ms)
            for i, ms in enumerate(offsets_ms)]


LATE = {"fast": 15, "mid": 140, "slow": 330}  # ms late


def crossing(n: int, *, seed: int = 3, step_back: str | None = None,
             late: dict[str, int] = LATE) -> list[Tick]:
    """n ticks of EURUSD and GBPUSD, 5 ms apart, over three venues whose quotes cross (each
    venue quotes one random walk as it was ``late`` ms ago). ``step_back``: that venue's
    broker clock steps back by a second halfway, its ticks stored as received."""
    rng = random.Random(seed)
    walk = {"EURUSD": [1.1], "GBPUSD": [1.3]}
    ticks = []
    for i in range(n):
        symbol = "EURUSD" if i % 3 else "GBPUSD"
        walk[symbol].append(walk[symbol][-1] + rng.choice((-1, 1)) * 0.00003)
        venue = rng.choice(list(late))
        ms = T0 + i * 5
        behind = late[venue] // 5  # ticks of the walk
        mid = walk[symbol][max(0, len(walk[symbol]) - 1 - behind)]
        time_msc = ms - late[venue] - (1000 if venue == step_back and i > n // 2 else 0)
        ticks.append(make_tick(venue=venue, symbol=symbol, ms=time_msc, bid=round(mid, 5),
                               ask=round(mid + 0.00002, 5), recv_ns=ms * 1_000_000))
    return ticks
