"""The shape of a sink: where collect also sends every stored tick (after the store)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from arbitrex.model.tick import Tick

__all__ = ["Sink"]


class Sink(Protocol):
    name: str  # e.g. "kafka": names its metrics
    delivered: int  # ticks the sink confirmed
    failed: int  # ticks it did not take

    def __call__(self, ticks: Sequence[Tick]) -> None:
        """Send stored ticks (with their seq); never blocks for long."""

    def status(self) -> str: ...

    def close(self) -> None:
        """Deliver what is in flight (bounded in time), then release the client."""
