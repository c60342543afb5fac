"""Clocks: a venue's median lag per UTC day gives its clock's offset; the zone that fits
every day is suggested, in words a trader acts on."""

from __future__ import annotations

from datetime import datetime, timezone

from arbitrex.report.clocks import DAY_MS, HOUR_MS, verdict


def day(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def lags_of(first: str, days: int, lag_of) -> dict[int, float]:
    return {day(first) + i * DAY_MS: lag_of(day(first) + i * DAY_MS) for i in range(days)}


def test_new_york_close_read_as_athens_is_an_hour_off_while_only_the_usa_has_moved():
    # the broker keeps New York close; the trader configured Europe/Athens: from the US
    # change (2026-03-08) to the EU's (2026-03-29) stored times are an hour late
    lags = lags_of("2026-03-01", 40, lambda d: 80.0 - (HOUR_MS if day("2026-03-08") <= d
                                                         < day("2026-03-29") else 0))
    v = verdict(lags, "Europe/Athens")
    assert v.suggest == "America/New_York+07:00"
    assert v.verdict == ("lag -1 h from 2026-03-08 to 2026-03-28: the server clock follows "
                         "the USA's daylight saving time: set "
                         "BROKER_TIMEZONE=America/New_York+07:00")
    assert v.daily_lag_ms["2026-03-10"] == 80.0 - HOUR_MS
    assert v.implied_offset_ms["2026-03-10"] == 3 * HOUR_MS  # UTC+3 that day
    assert v.implied_offset_ms["2026-03-02"] == 2 * HOUR_MS


def test_a_zone_that_fits_every_day_is_left_alone():
    v = verdict(lags_of("2026-03-01", 40, lambda d: 120.0), "America/New_York+07:00")
    assert v.suggest is None and "fits every day" in v.verdict


def test_a_clock_on_utc_plus_2_read_as_utc():
    v = verdict(lags_of("2026-01-05", 5, lambda d: -2 * HOUR_MS + 35.0), "UTC")
    assert v.suggest is not None and "the server clock is UTC+2" in v.verdict
    assert all(o == 2 * HOUR_MS for o in v.implied_offset_ms.values())
    assert v.verdict.startswith("lag -2 h from 2026-01-05 to 2026-01-09")


def test_a_quarter_hour_off_and_no_days():
    v = verdict(lags_of("2026-01-05", 2, lambda d: -45 * 60_000.0), "UTC")
    assert v.implied_offset_ms["2026-01-05"] == 45 * 60_000 and "-0.75 h" in v.verdict
    assert verdict({}, "UTC").suggest is None
