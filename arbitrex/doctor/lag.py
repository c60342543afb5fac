"""Each venue's lag as the store shows it: when its ticks were received minus when they
happened. A lag of whole hours is a wrong ``BROKER_TIMEZONE``; of seconds, a clock that
drifts (the broker's or this machine's). ``judge_lag`` decides without I/O. Per UTC day, the
broker report's clock verdict (``clock_checks``): the zone to set when the lag steps by an
hour on some days (New York close read as Europe/Athens, for three weeks a year)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping
from itertools import islice

from arbitrex.constants import DAY_MS
from arbitrex.doctor.report import Check
from arbitrex.report.clocks import verdict
from arbitrex.stores.base import Archivable, StreamReader

__all__ = [
    "DRIFT_MS", "HOUR_MS", "HOUR_SLACK_MS", "SAMPLE", "clock_checks", "daily_lags",
    "judge_lag", "lag_checks", "venue_lags",
]

SAMPLE = 200  # the latest ticks of each stream looked at
HOUR_MS = 3_600_000
HOUR_SLACK_MS = 120_000  # within two minutes of whole hours: a time zone, not a delay
DRIFT_MS = 1_000  # a lag past a second either way is a clock, not a network


def judge_lag(venue: str, lag_ms: float) -> Check:
    """The check of a venue whose median lag is ``lag_ms``."""
    name = f"lag {venue}"
    hours = round(lag_ms / HOUR_MS)
    if hours and abs(lag_ms - hours * HOUR_MS) <= HOUR_SLACK_MS:
        ahead = "behind" if hours > 0 else "ahead of"
        return Check(name, "warn", f"ticks are received {lag_ms / 1000:+,.0f} s after their "
                     f"event time: {abs(hours)} h {ahead} this machine's clock, which looks "
                     f"like a wrong BROKER_TIMEZONE",
                     f"set BROKER_TIMEZONE (or the venue's broker_timezone) to the broker "
                     f"server's zone: event times are {-hours:+d} h off")
    if abs(lag_ms) >= DRIFT_MS:
        how = ("ahead of this machine" if lag_ms < 0 else "behind this machine, or ticks "
               "arrive late")
        return Check(name, "warn", f"median lag {lag_ms / 1000:+.1f} s: the broker's clock is "
                     f"{how}", "sync this machine's clock (NTP: timedatectl, or w32tm "
                     "/resync on Windows); if it is in sync, the broker's clock drifts")
    return Check(name, "pass", f"median lag {lag_ms:.1f} ms")


def venue_lags(store: StreamReader, *, sample: int = SAMPLE) -> dict[str, float]:
    """The median lag (ms) of each venue over the latest ``sample`` ticks of its streams."""
    lags: dict[str, list[float]] = {}
    for venue, symbol in store.streams():
        last = store.last(venue, symbol)
        if last is None:
            continue
        ticks = store.read_after(venue, symbol, max(0, last.seq - sample), sample)
        lags.setdefault(venue, []).extend(t.recv_ns / 1e6 - t.time_msc for t in ticks)
    return {venue: statistics.median(values) for venue, values in sorted(lags.items())
            if values}


def lag_checks(store: StreamReader) -> Iterable[Check]:
    for venue, lag in venue_lags(store).items():
        yield judge_lag(venue, lag)


# Clocks: the broker report's verdict, from the store

CLOCK_DAYS = 30  # the last days looked at
CLOCK_SAMPLE = 200  # the first ticks of each stream each day
CLOCK_SECONDS = 5.0  # at most this long reading, however big the store


def daily_lags(store: StreamReader, history: Archivable, *, days: int = CLOCK_DAYS,
               sample: int = CLOCK_SAMPLE, seconds: float = CLOCK_SECONDS
               ) -> dict[str, dict[int, float]]:
    """Each venue's median lag (ms) per UTC day (day start, epoch ms) over the last ``days``
    days of its streams, from the first ``sample`` ticks of each stream each day (read
    through the time index); reading stops after ``seconds``."""
    deadline = time.monotonic() + seconds
    lags: dict[tuple[str, int], list[float]] = {}
    for venue, symbol in store.streams():
        last = store.last(venue, symbol)
        if last is None:
            continue
        newest = last.time_msc // DAY_MS
        for day in range(newest - days + 1, newest + 1):
            if time.monotonic() > deadline:
                break
            ticks = islice(history.iter_stream(venue, symbol, day * DAY_MS, (day + 1) * DAY_MS,
                                             chunk=sample), sample)
            values = [t.recv_ns / 1e6 - t.time_msc for t in ticks]
            if values:
                lags.setdefault((venue, day * DAY_MS), []).extend(values)
    out: dict[str, dict[int, float]] = {}
    for (venue, day), values in sorted(lags.items()):
        out.setdefault(venue, {})[day] = statistics.median(values)
    return out


def clock_checks(store: StreamReader, history: Archivable, zones: Mapping[str, str],
                 default_zone: str) -> Iterable[Check]:
    """Each venue's clock: the report's verdict (report/clocks.py) from its daily lags
    (``store`` and ``history`` are one store, seen as both)."""
    for venue, days in daily_lags(store, history).items():
        zone = zones.get(venue, default_zone)
        v = verdict(days, zone)
        seen = f" ({len(days)} day{'s' if len(days) != 1 else ''} read)"
        if v.suggest is None:
            yield Check(f"clock {venue}", "pass", v.verdict + seen)
        else:
            yield Check(f"clock {venue}", "warn", v.verdict + seen,
                        f"set BROKER_TIMEZONE={v.suggest}"
                        + (f" (or broker_timezone = \"{v.suggest}\" in the venue's [[venues]])"
                           if venue in zones else ""))
