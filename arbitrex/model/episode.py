"""An episode: a maximal run of states in which one ordered pair of venues of a symbol has a
positive net edge (docs/PROTOCOL.md: Episodes), and its codec (an ``episode`` record)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["EPISODE_FIELDS", "Episode"]


class Episode(NamedTuple):
    """Selling at ``sell`` and buying at ``buy`` paid ``open_net`` when the run began, at
    most ``peak_net``; ``state`` is ``open`` until a state ends it (then ``closed``, with
    ``end_*``, ``closed_by`` and ``reason``: ``converged`` or ``stale``)."""

    symbol: str
    sell: str
    buy: str
    state: str  # "open" or "closed"
    start_ns: int
    end_ns: int | None
    duration_ms: float | None
    start_msc: int
    end_msc: int | None
    open_net: float
    peak_net: float
    mean_net: float
    states: int
    closed_by: str | None
    reason: str | None

    def record(self, **extra: Any) -> dict[str, Any]:
        """The ``episode`` record (a frame, an NDJSON line), with extra keys."""
        return {"type": "episode", **self._asdict(), **extra}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Episode:
        """An ``episode`` record back (KeyError when it is not one)."""
        return cls(*(record[name] for name in cls._fields))


#: The fields of an episode record after "type" (CSV header, Parquet columns).
EPISODE_FIELDS = Episode._fields
