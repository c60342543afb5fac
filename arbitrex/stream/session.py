"""One client's subscription state and the delivery decisions, without I/O.

For each (venue, symbol) stream the session remembers the last seq it delivered (or
declared lost in a ``gap``). A tick is then either sent (the next seq), skipped (already
delivered, or not subscribed), deferred (the client is slow: keep only the latest), or
the stream is behind and must first be caught up from the store.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from arbitrex.errors import ProtocolError
from arbitrex.tick import Tick

Key = tuple[str, str]  # (venue, symbol)


class Decision(enum.Enum):
    SKIP = "skip"
    SEND = "send"
    DEFER = "defer"
    CATCH_UP = "catch_up"


class Session:
    def __init__(
        self,
        *,
        # Limits
        max_symbols: int = 256,
    ) -> None:
        self.max_symbols = max_symbols
        self.symbols: set[str] = set()
        self.batch = False
        self.sent: dict[Key, int] = {}
        self.catching_up: set[Key] = set()
        # Slow consumer: stream -> (first seq not delivered, latest tick held back)
        self.pending: dict[Key, tuple[int, Tick]] = {}

    def subscribe(self, symbols: tuple[str, ...]) -> list[str]:
        """Add symbols; return the ones that are new. Refuses to exceed ``max_symbols``."""
        new = [s for s in symbols if s not in self.symbols]
        if len(self.symbols) + len(new) > self.max_symbols:
            raise ProtocolError("too_many_symbols",
                                f"at most {self.max_symbols} symbols per connection")
        self.symbols.update(new)
        return new

    def unsubscribe(self, symbols: tuple[str, ...]) -> None:
        gone = self.symbols.intersection(symbols)
        self.symbols.difference_update(gone)
        for table in (self.sent, self.pending):
            for key in [k for k in table if k[1] in gone]:
                del table[key]
        self.catching_up = {k for k in self.catching_up if k[1] not in gone}

    def decide(self, tick: Tick) -> Decision:
        if tick.symbol not in self.symbols:
            return Decision.SKIP
        key = (tick.venue, tick.symbol)
        if key in self.catching_up:
            return Decision.SKIP  # the catch-up reads it from the store
        if key in self.pending:
            return Decision.DEFER
        last = self.sent.get(key)
        if last is None or tick.seq == last + 1:
            return Decision.SEND
        if tick.seq <= last:
            return Decision.SKIP
        return Decision.CATCH_UP

    def plan(self, ticks: Sequence[Tick], *,
             hold: bool = False) -> tuple[list[int], list[Key], int]:
        """Decide one dispatch at once: (indices of ``ticks`` to send now, marked sent;
        streams to catch up from the store; how many were held back). With ``hold`` (the
        client is over its bound) what would be sent is deferred instead."""
        send: list[int] = []
        behind: list[Key] = []
        held = 0
        for i, tick in enumerate(ticks):
            decision = self.decide(tick)
            if decision is Decision.SKIP:
                continue
            if decision is Decision.SEND and not hold:
                self.mark_sent(tick)
                send.append(i)
            elif decision is Decision.CATCH_UP:
                behind.append(tick.key)
                self.catching_up.add(tick.key)  # later ticks of the stream come from the store
            else:
                self.defer(tick)
                held += 1
        return send, behind, held

    def mark_sent(self, tick: Tick) -> None:
        self.sent[tick.key] = tick.seq

    def defer(self, tick: Tick) -> None:
        """The client cannot take ``tick`` now: hold only the latest per stream."""
        key = tick.key
        held = self.pending.get(key)
        if held is None:
            last = self.sent.get(key)
            first_missing = tick.seq if last is None else last + 1
            self.pending[key] = (first_missing, tick)
        elif tick.seq > held[1].seq:
            self.pending[key] = (held[0], tick)

    def take_pending(self) -> list[tuple[tuple[int, int] | None, Tick]]:
        """What to send once the client drains: per stream the skipped range (or None), then
        the latest tick."""
        out = []
        for first_missing, tick in self.pending.values():
            skipped = (first_missing, tick.seq - 1) if first_missing <= tick.seq - 1 else None
            out.append((skipped, tick))
            self.mark_sent(tick)
        self.pending.clear()
        return out
