"""--from/--to: ISO-8601 UTC instants as epoch milliseconds."""

from __future__ import annotations

from arbitrex.clock import utc_ms
from arbitrex.config import FIELDS_BY_NAME
from arbitrex.constants import END_OF_TIME
from arbitrex.errors import ConfigError

__all__ = ["parse_instant", "symbol_list", "time_range"]


def parse_instant(text: str | None, option: str, default: int) -> int:
    if text is None:
        return default
    try:
        return utc_ms(text)  # no offset: UTC, as the contract says
    except ValueError:
        raise ConfigError(option, f"{text!r} is not an ISO-8601 time",
                          f"e.g. {option} 2026-11-20T09:30:00Z") from None


def time_range(from_: str | None, to: str | None) -> tuple[int, int]:
    start = parse_instant(from_, "--from", 0)
    end = parse_instant(to, "--to", END_OF_TIME)
    if end <= start:
        raise ConfigError("--to", "is not after --from", "give a --to later than --from")
    return start, end


def symbol_list(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    try:
        return tuple(FIELDS_BY_NAME["SYMBOLS"].parse(text))
    except ValueError as exc:
        raise ConfigError("--symbols", str(exc), "e.g. --symbols EURUSD,GBPUSD") from None
