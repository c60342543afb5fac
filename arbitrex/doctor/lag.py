"""Each venue's lag as the store shows it: when its ticks were received minus when they
happened. A lag of whole hours is a wrong ``BROKER_TIMEZONE``; of seconds, a clock that
drifts (the broker's or this machine's). ``judge_lag`` decides without I/O."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from arbitrex.doctor.report import Check
from arbitrex.stores.base import StreamReader

__all__ = [
    "DRIFT_MS", "HOUR_MS", "HOUR_SLACK_MS", "SAMPLE", "judge_lag", "lag_checks",
    "venue_lags",
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
