"""A hole in a stream: seqs that a reader will not receive, and why (a ``gap`` frame)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["GAP_REASONS", "Gap"]

#: Why seqs will not come: the reader could not keep up; the store no longer holds them;
#: a client saw a seq jump that no frame announced.
GAP_REASONS = ("slow_consumer", "history_trimmed", "unannounced")


class Gap(NamedTuple):
    """Seqs ``from_seq``..``to_seq`` of the stream (venue, symbol) that will not come."""

    venue: str
    symbol: str
    from_seq: int
    to_seq: int
    reason: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.venue, self.symbol)

    def record(self) -> dict[str, Any]:
        """The ``gap`` frame as a dict."""
        return {"type": "gap", "symbol": self.symbol, "venue": self.venue,
                "from_seq": self.from_seq, "to_seq": self.to_seq, "reason": self.reason}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Gap:
        """A ``gap`` frame as received (KeyError when it is not one)."""
        return cls(record.get("venue", ""), record["symbol"], record["from_seq"],
                   record["to_seq"], record["reason"])
