"""doctor's clock verdict from the store: per-day medians read through the time index, and
the zone to set."""

from __future__ import annotations

from datetime import datetime, timezone

from arbitrex.doctor.lag import clock_checks, daily_lags
from arbitrex.model.tick import Tick
from arbitrex.stores.sqlite import SqliteStore

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def msc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def new_york_close_read_as_athens(store: SqliteStore, venue: str = "icm") -> None:
    """Ten ticks a day, 2026-03-01 to 2026-04-05; from the USA's change to the EU's the
    stored event times are an hour late (the broker follows New York)."""
    ticks = []
    for day in range(36):
        for i in range(10):
            true_ms = msc("2026-03-01T10:00:00") + day * DAY_MS + i * 60_000
            late = HOUR_MS if msc("2026-03-08") <= true_ms < msc("2026-03-29") else 0
            ticks.append(Tick(venue, "EURUSD", 0, true_ms + late, 1.1, 1.1001, 0.0, 0, 0.0, 6,
                              (true_ms + 80) * 1_000_000, true_ms + late + 2 * HOUR_MS))
    store.append(ticks)


def test_the_verdict_names_the_zone_that_fits_every_day(tmp_path):
    store = SqliteStore(tmp_path / "t.db")
    try:
        new_york_close_read_as_athens(store)
        days = daily_lags(store, store)["icm"]
        assert len(days) == 30  # the last 30 days of the stream
        assert days[msc("2026-03-10")] == 80 - HOUR_MS and days[msc("2026-04-01")] == 80
        [check] = clock_checks(store, store, {}, "Europe/Athens")
        assert check.status == "warn" and check.fix == \
            "set BROKER_TIMEZONE=America/New_York+07:00"
        assert "lag -1 h from 2026-03-08 to 2026-03-28" in check.detail
        assert "daylight saving time" in check.detail
        [check] = clock_checks(store, store, {"icm": "America/New_York+07:00"}, "UTC")
        assert check.status == "pass" and "fits every day" in check.detail
    finally:
        store.close()


def test_reading_stops_at_its_deadline(tmp_path):
    store = SqliteStore(tmp_path / "t.db")
    try:
        new_york_close_read_as_athens(store)
        assert daily_lags(store, store, seconds=-1.0) == {}  # past it before the first day
        assert len(daily_lags(store, store, days=3)["icm"]) == 3
    finally:
        store.close()
