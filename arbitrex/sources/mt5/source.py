"""The MetaTrader 5 source: incremental polling that loses no tick and survives the terminal.

Per symbol a ``Cursor`` (last broker ms taken, how many ticks at that ms) says where the
poll stands; it starts from the store's position, so a restarted collector backfills the
pause (as far as the terminal's history reaches). A quiet symbol costs one cheap
``symbol_info_tick`` per poll; ``copy_ticks_from`` runs only when that tick changed (and at
least every ``full_check_interval`` seconds). A terminal that goes away is reconnected with
capped, jittered exponential backoff, forever; the cursors survive, so the outage is
backfilled. A refused login is fatal: retrying would only lock the account.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from arbitrex.clock import BrokerClock
from arbitrex.errors import AuthFailed, CallFailed, ConfigError, SourceError, TerminalDown
from arbitrex.model.tick import Tick, from_mt5_rows
from arbitrex.runtime.backoff import Backoff
from arbitrex.sources.base import Position
from arbitrex.sources.mt5.cursor import Cursor, advance
from arbitrex.sources.mt5.terminal import COPY_TICKS_ALL, Terminal

__all__ = ["Mt5Source", "POLL_INTERVAL"]

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.05  # seconds between reads of a terminal, by default


class Mt5Source:
    """Implements ``TickSource`` for one terminal (one venue)."""

    exhausted = False  # a live source never ends

    def __init__(
        self,
        terminal: Terminal,
        *,
        venue: str,
        symbols: Sequence[str],
        aliases: Mapping[str, str] | None = None,
        clock: BrokerClock | None = None,
        # Polling
        poll_interval: float = POLL_INTERVAL,
        batch: int = 10_000,
        max_batch: int = 1_000_000,
        full_check_interval: float = 1.0,
        # Reconnect
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        started_ns: int | None = None,  # when `collect` started (the supervisor's, for workers)
        # Injected for tests
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        time_ns: Callable[[], int] = time.time_ns,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.terminal = terminal
        self.venue = venue
        self.symbols = tuple(symbols)
        self.aliases = dict(aliases or {})
        self.clock = clock or BrokerClock("UTC")
        self.poll_interval = poll_interval
        self.batch = batch
        self.max_batch = max_batch
        self.full_check_interval = full_check_interval
        self.backoff = Backoff(initial=backoff_initial, cap=backoff_max, random_unit=jitter)
        self._sleep = sleep
        self._monotonic = monotonic
        self._time_ns = time_ns
        self.cursors: dict[str, Cursor] = {}
        self.active: list[str] = []
        self.skipped: dict[str, str] = {}
        self.connected = False
        self._next_attempt = 0.0
        self._next_poll = 0.0
        self._last_copy: dict[str, float] = {}
        self._last_sig: dict[str, tuple[Any, ...]] = {}
        self.fresh_starts: dict[str, int] = {}
        self.started_ns = started_ns
        self._partial: list[Tick] = []  # what this poll took before the terminal was lost

    def broker_name(self, symbol: str) -> str:
        return self.aliases.get(symbol, symbol)

    # Connection

    def open(self, positions: Mapping[str, Position]) -> None:
        started_ns = self.started_ns if self.started_ns is not None else self._time_ns()
        start_msc = self.clock.to_broker_msc(started_ns // 1_000_000)
        self.fresh_starts = {}
        for symbol in self.symbols:
            pos = positions.get(symbol)
            if pos is not None and pos.broker_msc > 0:
                self.cursors[symbol] = Cursor(pos.broker_msc, pos.same_ms)
            else:  # nothing stored: every tick from now on
                self.cursors[symbol] = Cursor(start_msc, 0)
                self.fresh_starts[symbol] = start_msc
        try:
            self._connect()
        except TerminalDown as exc:
            log.warning("%s: terminal not reachable (%s); retrying in the background",
                        self.venue, exc)
            self._schedule_retry()

    def _connect(self) -> None:
        try:
            self.terminal.connect()
        except AuthFailed as exc:
            raise ConfigError(
                "MT5_LOGIN/MT5_PASSWORD/MT5_SERVER",
                f"venue {self.venue}: the terminal refused the login ({exc.terminal_message}, "
                f"{exc.code})", "check the account number, password and server name") from exc
        except TerminalDown:
            raise
        except CallFailed as exc:
            raise SourceError(f"{self.venue}: cannot initialize the terminal: {exc}") from exc
        self._select_all()
        self.connected = True
        self.backoff.reset()

    def _select_all(self) -> None:
        self.active = []
        for symbol in self.symbols:
            name = self.broker_name(symbol)
            label = symbol if name == symbol else f"{symbol} ({name})"
            try:
                self.terminal.call("symbol_select", name, True)
            except TerminalDown:
                raise
            except CallFailed as exc:
                if symbol not in self.skipped:
                    log.warning("%s: %s is not available on this terminal: %s (%d); skipped "
                                "while the others run", self.venue, label,
                                exc.terminal_message, exc.code)
                self.skipped[symbol] = f"{exc.terminal_message} ({exc.code})"
                continue
            self.skipped.pop(symbol, None)
            self.active.append(symbol)
        if not self.active:
            raise SourceError(f"{self.venue}: none of {', '.join(self.symbols)} is available "
                              "on this terminal; check SYMBOLS and the venue's aliases")

    @property
    def attempt(self) -> int:
        """Connection attempts that failed since the last success."""
        return self.backoff.attempt

    def _schedule_retry(self) -> None:
        self.connected = False
        delay = self.backoff.next()
        self._next_attempt = self._monotonic() + delay
        if self.attempt > 1:
            log.warning("%s: reconnect attempt %d failed; next in %.1f s", self.venue,
                        self.attempt - 1, delay)

    def _lost(self, exc: TerminalDown) -> None:
        log.warning("%s: terminal lost (%s); reconnecting", self.venue, exc)
        self.terminal.shutdown()
        self.backoff.reset()
        self._schedule_retry()

    def _reconnect(self) -> None:
        log.info("%s: reconnecting to the terminal (attempt %d)", self.venue, self.attempt)
        try:
            self._connect()
        except TerminalDown as exc:
            log.debug("%s: %s", self.venue, exc)
            self.terminal.shutdown()
            self._schedule_retry()
            return
        log.info("%s: reconnected; backfilling from the last stored tick of each symbol",
                 self.venue)

    # Polling

    def poll(self, timeout: float) -> list[Tick]:
        now = self._monotonic()
        if not self.connected:
            if now < self._next_attempt:
                self._sleep(min(timeout, self._next_attempt - now))
                return []
            self._reconnect()
            if not self.connected:
                return []
        if now < self._next_poll:
            self._sleep(min(timeout, self._next_poll - now))
            if self._monotonic() < self._next_poll:
                return []
        self._next_poll = self._monotonic() + self.poll_interval
        try:
            return self._poll_batched() if self.terminal.batched else self._poll_each()
        except TerminalDown as exc:
            self._lost(exc)
            return self._partial

    def _poll_each(self) -> list[Tick]:
        """One symbol after the other (the package in this process: calls are cheap)."""
        ticks = self._partial = []
        for symbol in self.active:
            try:
                self._fetch(symbol, ticks)
            except TerminalDown:
                raise
            except CallFailed as exc:
                log.warning("%s: %s: %s", self.venue, symbol, exc)
        return ticks

    def _poll_batched(self) -> list[Tick]:
        """Every symbol's first page in one round trip (a bridge: round trips cost), then
        the rest of any symbol whose page was full, one by one."""
        ticks = self._partial = []
        requests = [(self.broker_name(s), self.cursors[s].from_second, self.batch)
                    for s in self.active]
        answers = self.terminal.copy_ticks_many(requests)
        for symbol, answer in zip(self.active, answers, strict=True):
            if isinstance(answer, TerminalDown):
                raise answer
            if isinstance(answer, CallFailed):
                log.warning("%s: %s: %s", self.venue, symbol, answer)
                continue
            try:
                self._pages(symbol, answer, ticks)
            except TerminalDown:
                raise
            except CallFailed as exc:
                log.warning("%s: %s: %s", self.venue, symbol, exc)
        return ticks

    def _fetch(self, symbol: str, into: list[Tick]) -> None:
        """Add a symbol's new ticks to ``into``; a quiet one costs one cheap
        ``symbol_info_tick``."""
        now = self._monotonic()
        if now - self._last_copy.get(symbol, -1e9) < self.full_check_interval \
                and symbol in self._last_sig and not self._moved(symbol):
            return
        self._last_copy[symbol] = now
        self._pages(symbol, None, into)

    def _moved(self, symbol: str) -> bool:
        """Whether the terminal's latest tick differs from the newest one taken."""
        try:
            info = self.terminal.call("symbol_info_tick", self.broker_name(symbol))
        except TerminalDown:
            raise
        except CallFailed:
            return False  # no tick yet; the full check every full_check_interval still runs
        sig = (int(info.time_msc), float(info.bid), float(info.ask), float(info.last),
               int(info.volume), int(info.flags))
        return not (sig[0] < self.cursors[symbol].msc or sig == self._last_sig[symbol])

    def _pages(self, symbol: str, first: np.ndarray[Any, Any] | None, into: list[Tick]) -> None:
        """Add to ``into`` what the terminal holds after the symbol's cursor (at most five
        pages of new ticks per poll); ``first`` is the first page when already read. Each
        page's ticks are in ``into`` before its cursor moves on: a terminal lost on a later
        page loses none of them."""
        count = self.batch
        taken = 0
        rows = first
        while True:
            if rows is None:
                rows = self.terminal.call("copy_ticks_from", self.broker_name(symbol),
                                          self.cursors[symbol].from_second, count,
                                          COPY_TICKS_ALL)
            size, new = self._take(symbol, rows, into)
            rows = None
            taken += new
            if size < count:
                return
            if not new:  # a full answer of ticks already taken: ask for more at once
                if count >= self.max_batch:
                    log.error("%s: %s: more than %d ticks in one second; cannot page past them",
                              self.venue, symbol, self.max_batch)
                    return
                count = min(count * 2, self.max_batch)
            elif taken >= self.batch * 5:
                return  # bounded work per poll; the rest comes on the next one
            else:
                count = self.batch

    def _take(self, symbol: str, rows: np.ndarray[Any, Any], into: list[Tick]
              ) -> tuple[int, int]:
        """Add the rows not taken yet to ``into`` and move the cursor past them; (how many
        rows the answer had, how many were new)."""
        times = rows["time_msc"].tolist()
        start, cursor = advance(self.cursors[symbol], times)
        if start < len(times):
            into.extend(from_mt5_rows(rows[start:], venue=self.venue, symbol=symbol,
                                     recv_ns=self._time_ns(), to_utc_msc=self.clock.to_utc_msc))
        if times:  # the newest tick held: the quiet check compares the terminal's to it
            last = rows[-1]
            self._last_sig[symbol] = (int(last["time_msc"]), float(last["bid"]),
                                      float(last["ask"]), float(last["last"]),
                                      int(last["volume"]), int(last["flags"]))
        else:
            self._last_sig.setdefault(symbol, ())
        self.cursors[symbol] = cursor
        return len(times), len(times) - start

    def status(self) -> str:
        if self.connected:
            text = f"{self.venue}: connected, {len(self.active)} symbols"
        else:
            wait = max(0.0, self._next_attempt - self._monotonic())
            text = f"{self.venue}: reconnecting (attempt {self.attempt}, next in {wait:.1f} s)"
        if self.skipped:
            text += f", skipped {', '.join(sorted(self.skipped))}"
        return text

    def close(self) -> None:
        self.terminal.shutdown()
        self.connected = False
