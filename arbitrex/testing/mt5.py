"""A test double of the MetaTrader5 package, faithful to what the real one does.

``FakeTerminal`` holds a scripted market (ticks per symbol, labelled with the broker's wall
clock), an account, and scripted outages, and answers the package's module-level functions:
``initialize``, ``login``, ``shutdown``, ``version``, ``last_error``, ``terminal_info``,
``account_info``, ``symbol_info``, ``symbol_select``, ``symbol_info_tick``,
``copy_ticks_from`` and ``copy_ticks_range``. Like the real package it returns None on
failure with the reason in ``last_error()``, an EMPTY array (and ``(1, 'Success')``) for an
empty window, numpy structured arrays of ``MT5_TICK_DTYPE``, ticks sharing a millisecond and
genuinely identical ticks, ``-10004`` before ``initialize`` or after the terminal went
away, ``-10005`` on a hung call, ``-6`` for bad credentials, ``-4`` for unknown symbols,
and only the ticks inside its history window.

Use it in-process with ``install(terminal)`` (puts a ``MetaTrader5`` module in
``sys.modules``), or from another process: ``Scenario.save(path)`` and
``write_module(folder)``; with ``folder`` on PYTHONPATH and ``ARBITREX_FAKE_MT5=path`` in
the environment, ``import MetaTrader5`` gives the double. A terminal path ending in
``.json`` (``initialize("/x/icm.json")``, i.e. ``MT5_PATH``) loads that scenario instead,
so several venues can each have their own.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import types
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from arbitrex.model.tick import MT5_TICK_DTYPE

__all__ = [
    "AccountInfo", "COPY_TICKS_ALL", "COPY_TICKS_INFO", "COPY_TICKS_TRADE", "FakeTerminal",
    "MESSAGES", "RES_E_AUTH_FAILED", "RES_E_FAIL", "RES_E_INTERNAL_FAIL_CONNECT",
    "RES_E_INTERNAL_FAIL_INIT", "RES_E_INTERNAL_FAIL_RECEIVE", "RES_E_INTERNAL_FAIL_SEND",
    "RES_E_INTERNAL_FAIL_TIMEOUT", "RES_E_INVALID_PARAMS", "RES_E_NOT_FOUND", "RES_S_OK",
    "Row", "Scenario", "SymbolInfo", "TerminalInfo", "Tick", "as_module", "install",
    "module_from_env", "write_module",
]

RES_S_OK = 1
RES_E_FAIL = -1
RES_E_INVALID_PARAMS = -2
RES_E_NOT_FOUND = -4
RES_E_AUTH_FAILED = -6
RES_E_INTERNAL_FAIL_SEND = -10001
RES_E_INTERNAL_FAIL_RECEIVE = -10002
RES_E_INTERNAL_FAIL_INIT = -10003
RES_E_INTERNAL_FAIL_CONNECT = -10004
RES_E_INTERNAL_FAIL_TIMEOUT = -10005
COPY_TICKS_ALL = -1
COPY_TICKS_INFO = 1
COPY_TICKS_TRADE = 2
TICK_FLAG_BID, TICK_FLAG_ASK, TICK_FLAG_LAST = 0x02, 0x04, 0x08
TICK_FLAG_VOLUME, TICK_FLAG_BUY, TICK_FLAG_SELL = 0x10, 0x20, 0x40

MESSAGES = {
    RES_S_OK: "Success",
    RES_E_FAIL: "Terminal: Call failed",
    RES_E_INVALID_PARAMS: "Terminal: Invalid params",
    RES_E_NOT_FOUND: "Terminal: Not found",
    RES_E_AUTH_FAILED: "Terminal: Authorization failed",
    RES_E_INTERNAL_FAIL_SEND: "IPC send failed",
    RES_E_INTERNAL_FAIL_RECEIVE: "IPC recv failed",
    RES_E_INTERNAL_FAIL_INIT: "IPC initialize failed, MetaTrader 5 x64 not found",
    RES_E_INTERNAL_FAIL_CONNECT: "No IPC connection",
    RES_E_INTERNAL_FAIL_TIMEOUT: "IPC timeout",
}


class Tick(NamedTuple):
    time: int
    bid: float
    ask: float
    last: float
    volume: int
    time_msc: int
    flags: int
    volume_real: float


# Records are NamedTuples: like the real package's, they have ``_asdict()``.


class TerminalInfo(NamedTuple):
    connected: bool
    trade_allowed: bool
    build: int
    name: str
    path: str


class AccountInfo(NamedTuple):
    login: int
    server: str
    currency: str
    balance: float


class SymbolInfo(NamedTuple):
    name: str
    digits: int
    point: float
    visible: bool
    select: bool


Row = tuple[int, float, float, float, int, int, float]  # time_msc, bid, ask, last, vol, flags, vr


@dataclass
class Scenario:
    """A scripted terminal. Tick times are the broker's wall clock labelled as UTC epoch ms;
    a tick becomes visible when real UTC time reaches ``time_msc - utc_offset_ms``."""

    ticks: dict[str, list[Row]] = field(default_factory=dict)
    utc_offset_ms: int = 0
    login: int | None = None
    password: str | None = None
    server: str | None = None
    # Outages in real UTC epoch seconds: (start, end, code); -10004 disconnects the
    # terminal (it must be initialized again), -10005 makes calls time out.
    outages: list[tuple[float, float, int]] = field(default_factory=list)
    history_s: float = 7 * 24 * 3600.0  # how far back the terminal's history reaches
    digits: dict[str, int] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        Path(path).write_text(json.dumps(data))

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        data = json.loads(Path(path).read_text())
        data["ticks"] = {s: [tuple(r) for r in rows] for s, rows in data["ticks"].items()}
        data["outages"] = [tuple(o) for o in data["outages"]]
        return cls(**data)

    @classmethod
    def generate(cls, symbols: list[str], *, start_ms: int, seconds: float, rate: float,
                 seed: int = 0, utc_offset_ms: int = 0, **kwargs: Any) -> Scenario:
        """Random ticks at about ``rate`` per second per symbol over ``seconds`` from
        ``start_ms`` (UTC), with bursts sharing a millisecond and exact duplicates."""
        rng = random.Random(seed)
        ticks: dict[str, list[Row]] = {}
        for symbol in symbols:
            rows: list[Row] = []
            price = 1.0 + rng.random()
            t = start_ms + utc_offset_ms
            end = t + int(seconds * 1000)
            while True:
                t += max(0, int(rng.expovariate(rate) * 1000))
                if t > end:
                    break
                price = round(price + rng.gauss(0, 0.0001), 5)
                row: Row = (t, price, round(price + 0.0001, 5), 0.0, 0, 6, 0.0)
                rows.append(row)
                r = rng.random()
                if r < 0.05:
                    rows.append(row)  # a genuinely identical tick
                elif r < 0.15:
                    for _ in range(rng.randint(1, 4)):  # a burst in the same millisecond
                        price = round(price + rng.gauss(0, 0.0001), 5)
                        rows.append((t, price, round(price + 0.0001, 5), 0.0, 0,
                                     rng.choice((2, 4, 6, 134)), 0.0))
            ticks[symbol] = rows
        return cls(ticks=ticks, utc_offset_ms=utc_offset_ms, **kwargs)


class FakeTerminal:
    """The double. Every public method mirrors the MetaTrader5 module function of that name."""

    def __init__(self, scenario: Scenario, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.connected = False
        self.selected: set[str] = set()
        self.error: tuple[int, str] = (RES_S_OK, MESSAGES[RES_S_OK])
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._use(scenario)

    def _use(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._times = {s: [r[0] for r in rows] for s, rows in scenario.ticks.items()}
        self._arrays: dict[str, np.ndarray] = {}  # each symbol's rows as the package's dtype

    # Helpers

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def _fail(self, code: int) -> None:
        self.error = (code, MESSAGES.get(code, "Terminal: Call failed"))

    def _ok(self) -> None:
        self.error = (RES_S_OK, MESSAGES[RES_S_OK])

    def _outage(self) -> int | None:
        now = self.clock()
        for start, end, code in self.scenario.outages:
            if start <= now < end:
                return int(code)
        return None

    def _reachable(self) -> bool:
        """False (with last_error set) when a call cannot reach the terminal now."""
        code = self._outage()
        if code == RES_E_INTERNAL_FAIL_CONNECT:
            self.connected = False
        if not self.connected:
            self._fail(RES_E_INTERNAL_FAIL_CONNECT)
            return False
        if code is not None:
            self._fail(code)
            return False
        return True

    def _broker_now_ms(self) -> int:
        return int(self.clock() * 1000) + self.scenario.utc_offset_ms

    def _visible(self, symbol: str, lo_ms: int, hi_ms: int | None = None) -> tuple[int, int]:
        """Index range of ticks in [lo_ms, hi_ms] that exist now and are still in history."""
        times = self._times[symbol]
        now = self._broker_now_ms()
        oldest = now - int(self.scenario.history_s * 1000)
        lo = bisect_left(times, max(lo_ms, oldest))
        top = now if hi_ms is None else min(hi_ms, now)
        hi = bisect_left(times, top + 1)
        return lo, max(lo, hi)

    @staticmethod
    def _seconds(value: Any) -> float:
        if isinstance(value, datetime):
            return value.timestamp()  # naive: the machine's local time, as the real package
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError("date must be a datetime or epoch seconds")

    def _array(self, symbol: str, lo: int, hi: int) -> np.ndarray:
        """Rows lo..hi as a fresh array (built once per symbol, then sliced and copied: the
        package's answers cost it microseconds, so the double's should not cost more)."""
        rows = self._arrays.get(symbol)
        if rows is None:
            ticks = self.scenario.ticks[symbol]
            rows = self._arrays[symbol] = np.array(
                [(t // 1000, bid, ask, last, vol, t, flags, vr)
                 for t, bid, ask, last, vol, flags, vr in ticks], dtype=MT5_TICK_DTYPE)
        return rows[lo:hi].copy()

    # The module's functions

    def initialize(self, path: str | None = None, *, login: int | None = None,
                   password: str | None = None, server: str | None = None,
                   timeout: int = 60000, portable: bool = False) -> bool:
        with self._lock:
            self._count("initialize")
            if path and str(path).endswith(".json"):  # the double's "terminal" is a scenario
                if not Path(path).exists():
                    self._fail(RES_E_INTERNAL_FAIL_INIT)
                    return False
                self._use(Scenario.load(path))
            if self._outage() is not None:
                self._fail(RES_E_INTERNAL_FAIL_INIT)
                return False
            if login is not None and not self._credentials_ok(login, password, server):
                self._fail(RES_E_AUTH_FAILED)
                return False
            self.connected = True
            self._ok()
            return True

    def _credentials_ok(self, login: int, password: str | None, server: str | None) -> bool:
        s = self.scenario
        return (s.login is None or login == s.login) and (
            s.password is None or password == s.password) and (
            s.server is None or server == s.server)

    def login(self, login: int, *, password: str | None = None, server: str | None = None,
              timeout: int = 60000) -> bool:
        with self._lock:
            self._count("login")
            if not self._reachable():
                return False
            if not self._credentials_ok(login, password, server):
                self._fail(RES_E_AUTH_FAILED)
                return False
            self._ok()
            return True

    def shutdown(self) -> None:
        with self._lock:
            self._count("shutdown")
            self.connected = False
            self.selected.clear()

    def version(self) -> tuple[int, int, str] | None:
        with self._lock:
            if not self._reachable():
                return None
            self._ok()
            return (500, 5430, "14 Nov 2026")

    def last_error(self) -> tuple[int, str]:
        return self.error

    def terminal_info(self) -> TerminalInfo | None:
        with self._lock:
            if not self._reachable():
                return None
            self._ok()
            return TerminalInfo(True, True, 5430, "FakeTerminal", "/fake/terminal64.exe")

    def account_info(self) -> AccountInfo | None:
        with self._lock:
            if not self._reachable():
                return None
            self._ok()
            return AccountInfo(self.scenario.login or 1, self.scenario.server or "Fake-Demo",
                               "USD", 10_000.0)

    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        with self._lock:
            if not self._reachable():
                return None
            if symbol not in self.scenario.ticks:
                self._fail(RES_E_NOT_FOUND)
                return None
            self._ok()
            digits = self.scenario.digits.get(symbol, 5)
            return SymbolInfo(symbol, digits, 10.0**-digits, symbol in self.selected,
                              symbol in self.selected)

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        with self._lock:
            self._count("symbol_select")
            if not self._reachable():
                return False
            if symbol not in self.scenario.ticks:
                self._fail(RES_E_NOT_FOUND)
                return False
            (self.selected.add if enable else self.selected.discard)(symbol)
            self._ok()
            return True

    def symbol_info_tick(self, symbol: str) -> Tick | None:
        with self._lock:
            self._count("symbol_info_tick")
            if not self._reachable():
                return None
            if symbol not in self.scenario.ticks:
                self._fail(RES_E_NOT_FOUND)
                return None
            if symbol not in self.selected:
                self._fail(RES_E_FAIL)  # not in Market Watch: fails until symbol_select
                return None
            lo, hi = self._visible(symbol, 0)
            if hi == 0:
                self._fail(RES_E_FAIL)
                return None
            t, bid, ask, last, vol, flags, vr = self.scenario.ticks[symbol][hi - 1]
            self._ok()
            return Tick(t // 1000, bid, ask, last, vol, t, flags, vr)

    def copy_ticks_from(self, symbol: str, date_from: Any, count: int, flags: int
                        ) -> np.ndarray | None:
        with self._lock:
            self._count("copy_ticks_from")
            if not self._reachable():
                return None
            if symbol not in self.scenario.ticks:
                self._fail(RES_E_NOT_FOUND)
                return None
            if count <= 0:
                self._fail(RES_E_INVALID_PARAMS)
                return None
            lo, hi = self._visible(symbol, int(self._seconds(date_from) * 1000))
            self._ok()
            return self._array(symbol, lo, min(hi, lo + count))

    def copy_ticks_range(self, symbol: str, date_from: Any, date_to: Any, flags: int
                         ) -> np.ndarray | None:
        with self._lock:
            self._count("copy_ticks_range")
            if not self._reachable():
                return None
            if symbol not in self.scenario.ticks:
                self._fail(RES_E_NOT_FOUND)
                return None
            lo, hi = self._visible(symbol, int(self._seconds(date_from) * 1000),
                                   int(self._seconds(date_to) * 1000))
            self._ok()
            return self._array(symbol, lo, hi)


_FUNCTIONS = ("initialize", "login", "shutdown", "version", "last_error", "terminal_info",
              "account_info", "symbol_info", "symbol_select", "symbol_info_tick",
              "copy_ticks_from", "copy_ticks_range")


def as_module(terminal: FakeTerminal) -> types.ModuleType:
    """A module object with the package's functions and constants, bound to ``terminal``."""
    module = types.ModuleType("MetaTrader5")
    for name, value in globals().items():
        if name.isupper() and isinstance(value, int):
            setattr(module, name, value)
    for name in _FUNCTIONS:
        setattr(module, name, getattr(terminal, name))
    module.__dict__["terminal"] = terminal
    module.__dict__["__version__"] = "5.0.6231"
    return module


def install(terminal: FakeTerminal) -> types.ModuleType:
    """Make ``import MetaTrader5`` return the double (in this process)."""
    module = as_module(terminal)
    sys.modules["MetaTrader5"] = module
    return module


def module_from_env() -> dict[str, Any]:
    """The namespace of the ``MetaTrader5`` shim: a double of ``$ARBITREX_FAKE_MT5``."""
    path = os.environ.get("ARBITREX_FAKE_MT5")
    scenario = Scenario.load(path) if path else Scenario()
    return dict(vars(as_module(FakeTerminal(scenario))))


def write_module(folder: str | Path) -> Path:
    """Write a ``MetaTrader5.py`` shim into ``folder`` (put it on PYTHONPATH)."""
    path = Path(folder) / "MetaTrader5.py"
    path.write_text("from arbitrex.testing.mt5 import module_from_env as _env\n"
                    "globals().update({k: v for k, v in _env().items()\n"
                    "                  if not k.startswith('__') or k == '__version__'})\n")
    return path
