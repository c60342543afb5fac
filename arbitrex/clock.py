"""Broker clock -> UTC. MT5 reports the broker server's wall clock labelled as UTC epoch.

``BrokerClock("Europe/Athens").to_utc_msc(ms)`` reads ``ms`` as wall time in that zone
(daylight saving included) and returns true UTC epoch ms. A fixed offset such as
``+02:00`` is also accepted. Offsets are cached per wall-clock hour.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BrokerClock", "parse_timezone", "utc_ms"]

_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$")
_HOUR_MS = 3_600_000


def utc_ms(when: str | datetime) -> int:
    """An ISO-8601 instant (``2026-11-20T09:30:00Z``; no offset: UTC) or a datetime (naive:
    UTC) as UTC epoch milliseconds; ValueError when the text is not ISO-8601. The one parser
    of instants: the CLI's --from/--to and ``arbitrex.history`` both use it."""
    if isinstance(when, str):
        when = datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def parse_timezone(text: str) -> tzinfo:
    """An IANA zone name, ``UTC``, or a fixed offset like ``+02:00``; ValueError otherwise."""
    text = text.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    match = _OFFSET_RE.match(text)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta > timedelta(hours=14):
            raise ValueError(f"offset {text!r} is beyond ±14:00")
        return timezone(delta if sign == "+" else -delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {text!r}") from exc


class BrokerClock:
    """Converts broker wall-clock epoch ms to UTC epoch ms."""

    def __init__(self, zone: tzinfo | str = "UTC") -> None:
        self.zone = parse_timezone(zone) if isinstance(zone, str) else zone
        self._cache: dict[int, int] = {}

    def offset_ms(self, broker_msc: int) -> int:
        hour = broker_msc // _HOUR_MS
        cached = self._cache.get(hour)
        if cached is None:
            wall = datetime(1970, 1, 1) + timedelta(milliseconds=hour * _HOUR_MS)
            offset = wall.replace(tzinfo=self.zone).utcoffset() or timedelta(0)
            cached = int(offset.total_seconds() * 1000)
            if len(self._cache) > 10_000:  # bounded: a long backfill touches many hours
                self._cache.clear()
            self._cache[hour] = cached
        return cached

    def to_utc_msc(self, broker_msc: int) -> int:
        return broker_msc - self.offset_ms(broker_msc)

    def to_broker_msc(self, utc_msc: int) -> int:
        """The inverse, for asking a terminal for ticks since a UTC instant."""
        return utc_msc + self.offset_ms(utc_msc + self.offset_ms(utc_msc))
