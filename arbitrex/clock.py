"""Broker clock -> UTC. MT5 reports the broker server's wall clock labelled as UTC epoch.

``BrokerClock("Europe/Athens").to_utc_msc(ms)`` reads ``ms`` as wall time in that zone
(daylight saving included) and returns true UTC epoch ms. A fixed offset such as
``+02:00`` is also accepted, and a zone shifted by a fixed offset, ``ZONE+HH:MM``: the
broker's clock reads the zone's local time plus the offset (``America/New_York+07:00``,
"New York close": UTC+2 in winter, UTC+3 while the USA is on summer time). Offsets are
cached per wall-clock hour.

Where a zone's clocks change, a broker wall time is read as Python's ``zoneinfo`` reads it
with ``fold=0``: a wall time that comes twice (clocks go back) is the first of the two (the
summer-time one); a wall time that never existed (clocks go forward) takes the offset from
before the change, so it lands an hour later in UTC than the same reading an hour earlier
plus one hour. For ``America/New_York+07:00`` both changes fall on Sunday morning broker
time (09:00 and 08:00), when the FX market is closed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BrokerClock", "ShiftedZone", "parse_timezone", "utc_ms"]

_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$")
_SHIFTED_RE = re.compile(r"^(.+?)([+-])(\d{1,2}):(\d{2})$")
_MAX_OFFSET = timedelta(hours=14)
# Offsets are kept per quarter-hour: a zone shifted by HH:MM, or one like Newfoundland's,
# changes at a quarter-hour of the broker's clock or of UTC, not always at a whole hour.
_SLOT_MS = 900_000


def utc_ms(when: str | datetime) -> int:
    """An ISO-8601 instant (``2026-11-20T09:30:00Z``; no offset: UTC) or a datetime (naive:
    UTC) as UTC epoch milliseconds; ValueError when the text is not ISO-8601. The one parser
    of instants: the CLI's --from/--to and ``arbitrex.history`` both use it."""
    if isinstance(when, str):
        when = datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


class ShiftedZone(tzinfo):
    """An IANA zone's local time plus a fixed ``shift`` (``America/New_York+07:00``)."""

    def __init__(self, base: ZoneInfo, shift: timedelta) -> None:
        self.base = base
        self.shift = shift
        sign = "-" if shift < timedelta(0) else "+"
        minutes = abs(int(shift.total_seconds())) // 60
        self.name = f"{base.key}{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def _base_local(self, dt: datetime) -> datetime:
        return (dt.replace(tzinfo=None) - self.shift).replace(tzinfo=self.base, fold=dt.fold)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return self.shift
        return (self._base_local(dt).utcoffset() or timedelta(0)) + self.shift

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None if dt is None else self._base_local(dt).dst()

    def tzname(self, dt: datetime | None) -> str:
        return self.name

    def fromutc(self, dt: datetime) -> datetime:
        local = self.base.fromutc(dt.replace(tzinfo=self.base))
        return (local.replace(tzinfo=None) + self.shift).replace(tzinfo=self, fold=local.fold)

    def __repr__(self) -> str:
        return f"ShiftedZone({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShiftedZone) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def _offset(sign: str, hours: str, minutes: str | None, text: str) -> timedelta:
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if delta > _MAX_OFFSET or int(minutes or 0) >= 60:
        raise ValueError(f"offset {text!r} is beyond ±14:00 or not HH:MM")
    return delta if sign == "+" else -delta


def parse_timezone(text: str) -> tzinfo:
    """An IANA zone name, ``UTC``, a fixed offset like ``+02:00``, or a zone shifted by a
    fixed offset like ``America/New_York+07:00``; ValueError otherwise."""
    text = text.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    match = _OFFSET_RE.match(text)
    if match:
        sign, hours, minutes = match.groups()
        return timezone(_offset(sign, hours, minutes, text))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        shifted = _SHIFTED_RE.match(text)
        if shifted is None:
            raise ValueError(f"unknown time zone {text!r}") from exc
        zone, sign, hours, minutes = shifted.groups()
        try:
            base = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r} in {text!r}") from None
        return ShiftedZone(base, _offset(sign, hours, minutes, text))


class BrokerClock:
    """Converts broker wall-clock epoch ms to UTC epoch ms."""

    def __init__(self, zone: tzinfo | str = "UTC") -> None:
        self.zone = parse_timezone(zone) if isinstance(zone, str) else zone
        self._cache: dict[int, int] = {}  # broker wall quarter-hour -> offset
        self._utc_cache: dict[int, int] = {}  # UTC quarter-hour -> offset

    def offset_ms(self, broker_msc: int) -> int:
        slot = broker_msc // _SLOT_MS
        cached = self._cache.get(slot)
        if cached is None:
            wall = datetime(1970, 1, 1) + timedelta(milliseconds=slot * _SLOT_MS)
            offset = wall.replace(tzinfo=self.zone).utcoffset() or timedelta(0)
            cached = int(offset.total_seconds() * 1000)
            if len(self._cache) > 10_000:  # bounded: a long backfill touches many hours
                self._cache.clear()
            self._cache[slot] = cached
        return cached

    def to_utc_msc(self, broker_msc: int) -> int:
        return broker_msc - self.offset_ms(broker_msc)

    def to_broker_msc(self, utc_msc: int) -> int:
        """The inverse, for asking a terminal for ticks since a UTC instant: the broker's
        wall clock at that instant (exact across its zone's changes)."""
        slot = utc_msc // _SLOT_MS
        cached = self._utc_cache.get(slot)
        if cached is None:
            instant = datetime.fromtimestamp(slot * _SLOT_MS / 1000, tz=timezone.utc)
            offset = instant.astimezone(self.zone).utcoffset() or timedelta(0)
            cached = int(offset.total_seconds() * 1000)
            if len(self._utc_cache) > 10_000:
                self._utc_cache.clear()
            self._utc_cache[slot] = cached
        return utc_msc + cached
