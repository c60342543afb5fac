"""Every Redis key arbitrex uses, in one place (docs/PROTOCOL.md: store layouts).

    arbitrex:ticks:{VENUE:SYMBOL}   the stream; fields = the record's fields (+ broker_msc)
    arbitrex:seq:{VENUE:SYMBOL}     the seq counter
    arbitrex:start:{VENUE:SYMBOL}   where a source began a symbol before its first tick
    arbitrex:spool:{VENUE:SYMBOL}   per writer, the highest writer id applied (exactly once)
    arbitrex:lease:{VENUE}          the collector writing the venue (a hash, with a TTL)

The hash tag ``{VENUE:SYMBOL}`` keeps a stream's keys in one Redis Cluster slot, so one
Lua script can touch them all atomically.
"""

from __future__ import annotations

__all__ = [
    "LEASE", "SEQ", "SPOOL", "START", "TICKS", "lease_key", "parse", "pattern", "seq_key",
    "spool_key", "start_key", "stream_key", "tag",
]

TICKS = "arbitrex:ticks:"
SEQ = "arbitrex:seq:"
START = "arbitrex:start:"
SPOOL = "arbitrex:spool:"
LEASE = "arbitrex:lease:"


def tag(venue: str, symbol: str) -> str:
    return "{" + f"{venue}:{symbol}" + "}"


def stream_key(venue: str, symbol: str) -> str:
    return TICKS + tag(venue, symbol)


def seq_key(venue: str, symbol: str) -> str:
    return SEQ + tag(venue, symbol)


def start_key(venue: str, symbol: str) -> str:
    return START + tag(venue, symbol)


def spool_key(venue: str, symbol: str) -> str:
    return SPOOL + tag(venue, symbol)


def lease_key(venue: str) -> str:
    return LEASE + "{" + venue + "}"


def pattern(prefix: str, venue: str | None = None) -> str:
    """A SCAN pattern for the keys under ``prefix`` (of one venue, when given)."""
    return prefix + ("{" + venue + ":*" if venue is not None else "*")


def parse(key: str, prefix: str) -> tuple[str, str]:
    """(venue, symbol) of a key under ``prefix``."""
    venue, _, symbol = key[len(prefix) + 1:-1].partition(":")
    return venue, symbol
