"""The shape every source has: open at the store's positions, poll, close."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from arbitrex.model.tick import Position, Tick

__all__ = ["Position", "TickSource"]


class TickSource(Protocol):
    """A producer of ticks for one venue. Ticks come out with seq 0 (the store assigns it)."""

    venue: str

    @property
    def fresh_starts(self) -> Mapping[str, int]:
        """After ``open``: symbols begun afresh (nothing stored) -> the broker ms they begin
        at; the collector stores these so that a restart resumes from the same point."""
        ...

    @property
    def exhausted(self) -> bool:
        """True when the source has nothing more to give (a file at its end): collect stops."""
        ...

    def open(self, positions: Mapping[str, Position]) -> None:
        """Connect; ``positions`` maps symbol -> where the store stands (absent: nothing stored)."""

    def poll(self, timeout: float) -> list[Tick]:
        """New ticks in source order, waiting at most ``timeout`` seconds when there are none."""
        ...

    def status(self) -> str:
        """A short human-readable state, e.g. ``connected`` or ``reconnecting (3)``."""
        ...

    def close(self) -> None:
        """Release the connection. Safe to call twice."""
