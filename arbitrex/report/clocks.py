"""Whose clock is wrong: from each venue's median lag per UTC day, the broker clock's offset
from UTC it implies, and the zone that fits. Pure, no I/O.

A tick's lag is ``recv_ns`` / 1e6 - ``time_msc``: network and terminal delay (milliseconds)
plus the error of the configured ``BROKER_TIMEZONE`` (whole hours, or quarter hours). So
the offset a venue's clock really has that day is the configured zone's offset minus the
median lag, to the nearest quarter hour. Where that differs from the configured zone's on
some day, the zone whose offset matches it on every day is suggested: the configured one's
neighbours first (New York close, ``America/New_York+07:00``, and the zones brokers use),
then every IANA zone, then IANA zones shifted by whole hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import NamedTuple
from zoneinfo import available_timezones

from arbitrex.clock import parse_timezone

__all__ = ["ClockVerdict", "implied_offsets", "verdict", "zone_offset_ms"]

QUARTER_MS = 15 * 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# Where brokers' clocks usually are: tried first, in this order.
USUAL = ("UTC", "America/New_York+07:00", "Europe/London", "Europe/Athens", "Europe/Moscow",
         "Europe/Berlin", "Asia/Dubai", "Asia/Tokyo", "Australia/Sydney", "America/New_York",
         "Etc/GMT-2", "Etc/GMT-3")


class ClockVerdict(NamedTuple):
    daily_lag_ms: dict[str, float]  # UTC day -> median lag, ms
    implied_offset_ms: dict[str, int]  # UTC day -> the broker clock's offset from UTC
    configured: str
    suggest: str | None  # None when the configured zone fits every day
    verdict: str


def zone_offset_ms(zone: str, day_start_ms: int) -> int:
    """The zone's offset from UTC at noon (UTC) of the day."""
    return _offset(zone, day_start_ms)


@cache
def _offset(zone: str, day_start_ms: int) -> int:
    noon = datetime.fromtimestamp((day_start_ms + DAY_MS // 2) / 1000, tz=timezone.utc)
    offset = noon.astimezone(parse_timezone(zone)).utcoffset() or timedelta(0)
    return int(offset.total_seconds() * 1000)


def _day(day_start_ms: int) -> str:
    return datetime.fromtimestamp(day_start_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def implied_offsets(daily_lag_ms: Mapping[int, float], configured: str) -> dict[int, int]:
    """Per UTC day (its start, epoch ms): the offset the broker's clock had, to the nearest
    quarter hour (the configured zone's offset that day minus the median lag)."""
    return {day: round((zone_offset_ms(configured, day) - lag) / QUARTER_MS) * QUARTER_MS
            for day, lag in daily_lag_ms.items()}


def _candidates(configured: str) -> Iterable[str]:
    yield configured
    yield from USUAL
    zones = sorted(available_timezones())
    yield from zones
    for hours in (*range(1, 15), *range(-1, -13, -1)):
        sign = "+" if hours > 0 else "-"
        for zone in ("America/New_York", "Europe/London", "Europe/Athens", *zones):
            yield f"{zone}{sign}{abs(hours):02d}:00"


def _fits(zone: str, implied: Mapping[int, int]) -> bool:
    try:
        return all(zone_offset_ms(zone, day) == offset for day, offset in implied.items())
    except ValueError:
        return False


def _hours(ms: float) -> str:
    h = ms / HOUR_MS
    text = f"{abs(h):g}" if h * 4 == int(h * 4) else f"{abs(h):.2f}"
    return f"{'-' if h < 0 else '+'}{text} h"


def verdict(daily_lag_ms: Mapping[int, float], configured: str, venue: str = "") -> ClockVerdict:
    """The verdict on a venue's clock from its median lag per UTC day (day start ms -> ms)."""
    days = sorted(daily_lag_ms)
    implied = implied_offsets(daily_lag_ms, configured)
    off = [d for d in days if implied[d] != zone_offset_ms(configured, d)]
    lags = {_day(d): round(daily_lag_ms[d], 1) for d in days}
    offsets = {_day(d): implied[d] for d in days}
    who = f"{venue}: " if venue else ""
    if not days:
        return ClockVerdict(lags, offsets, configured, None,
                            f"{who}no ticks in the range: nothing to judge")
    if not off:
        low, high = min(lags.values()), max(lags.values())
        spread = f"{low:g} ms" if low == high else f"{low:g} to {high:g} ms"
        return ClockVerdict(lags, offsets, configured, None,
                            f"{who}BROKER_TIMEZONE={configured} fits every day "
                            f"(median lag {spread})")
    suggest = next((z for z in _candidates(configured) if _fits(z, implied)), None)
    spans = _spans(off, {d: implied[d] - zone_offset_ms(configured, d) for d in off})
    said = "; ".join(f"lag {_hours(-step)} {span}" for span, step in spans)
    why = _why(suggest, configured, implied, days)
    fix = (f"set BROKER_TIMEZONE={suggest}" if suggest else
           "no zone fits every day: check the venue's server time in its terminal")
    return ClockVerdict(lags, offsets, configured, suggest, f"{who}{said}: {why}{fix}")


def _spans(days: list[int], step: Mapping[int, int]) -> list[tuple[str, int]]:
    """Consecutive days with the same error, as "from D1 to D2" (or "on D")."""
    out: list[tuple[str, int]] = []
    first = prev = days[0]
    for d in [*days[1:], None]:
        if d is not None and d == prev + DAY_MS and step[d] == step[first]:
            prev = d
            continue
        span = f"on {_day(first)}" if first == prev else f"from {_day(first)} to {_day(prev)}"
        out.append((span, step[first]))
        if d is not None:
            first = prev = d
    return out


def _why(suggest: str | None, configured: str, implied: Mapping[int, int],
         days: list[int]) -> str:
    if suggest is None:
        return ""
    offsets = {implied[d] for d in days}
    if suggest.startswith("America/New_York") and len(offsets) > 1:
        return "the server clock follows the USA's daylight saving time: "
    if suggest.startswith("Europe/") and len(offsets) > 1:
        return "the server clock follows Europe's daylight saving time: "
    if len(offsets) == 1:
        return f"the server clock is UTC{_hours(next(iter(offsets)))[:-2]}: "
    return ""
