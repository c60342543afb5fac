from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from arbitrex.clock import BrokerClock, parse_timezone


def msc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
        ) -> int:
    moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def test_utc_is_identity():
    assert BrokerClock("UTC").to_utc_msc(123456) == 123456


def test_fixed_offset():
    clock = BrokerClock("+02:00")
    assert clock.to_utc_msc(msc(2026, 1, 5, 12)) == msc(2026, 1, 5, 10)


def test_iana_zone_follows_daylight_saving():
    clock = BrokerClock("Europe/Athens")  # UTC+2 in winter, UTC+3 in summer
    assert clock.to_utc_msc(msc(2026, 1, 5, 12)) == msc(2026, 1, 5, 10)
    assert clock.to_utc_msc(msc(2026, 7, 6, 12)) == msc(2026, 7, 6, 9)
    assert clock.to_broker_msc(msc(2026, 7, 6, 9)) == msc(2026, 7, 6, 12)


@pytest.mark.parametrize("bad", ["Mars/Olympus", "+25:00", "2 hours"])
def test_bad_zones_are_refused(bad):
    with pytest.raises(ValueError):
        parse_timezone(bad)


NY_CLOSE = "America/New_York+07:00"


def test_new_york_close_is_utc_plus_2_in_winter_and_3_in_us_summer():
    clock = BrokerClock(NY_CLOSE)
    assert clock.to_utc_msc(msc(2026, 1, 15, 12)) == msc(2026, 1, 15, 10)
    assert clock.to_utc_msc(msc(2026, 7, 15, 12)) == msc(2026, 7, 15, 9)
    # the weeks the USA and the EU disagree: New York close follows the USA, Athens the EU
    assert clock.to_utc_msc(msc(2026, 3, 20, 12)) == msc(2026, 3, 20, 9)
    assert BrokerClock("Europe/Athens").to_utc_msc(msc(2026, 3, 20, 12)) == msc(2026, 3, 20, 10)


def test_new_york_close_across_both_us_changes():
    clock = BrokerClock(NY_CLOSE)
    # 2026-03-08 02:00 New York is 09:00 broker time: 09:00-10:00 never exists; it is read
    # with the offset from before the change (+2), so 09:30 and 10:30 are one UTC instant
    assert clock.to_utc_msc(msc(2026, 3, 8, 8, 30)) == msc(2026, 3, 8, 6, 30)
    assert clock.to_utc_msc(msc(2026, 3, 8, 9, 30)) == msc(2026, 3, 8, 7, 30)
    assert clock.to_utc_msc(msc(2026, 3, 8, 10, 30)) == msc(2026, 3, 8, 7, 30)
    # 2026-11-01 02:00 New York goes back to 01:00: broker 08:00-09:00 comes twice; it is
    # read as the first time (+3)
    assert clock.to_utc_msc(msc(2026, 11, 1, 8, 30)) == msc(2026, 11, 1, 5, 30)
    assert clock.to_utc_msc(msc(2026, 11, 1, 9, 30)) == msc(2026, 11, 1, 7, 30)
    # the other way is exact at every instant
    assert clock.to_broker_msc(msc(2026, 3, 8, 7, 30)) == msc(2026, 3, 8, 10, 30)
    assert clock.to_broker_msc(msc(2026, 11, 1, 5, 30)) == msc(2026, 11, 1, 8, 30)
    assert clock.to_broker_msc(msc(2026, 11, 1, 6, 30)) == msc(2026, 11, 1, 8, 30)


@settings(max_examples=300, deadline=None)
@given(st.integers(msc(2024, 1, 1), msc(2030, 1, 1)),
       st.sampled_from([NY_CLOSE, "Europe/Athens", "America/New_York-01:30", "UTC",
                        "America/St_Johns"]))
@example(msc(2029, 3, 11, 7), "America/New_York-01:30")  # the clocks go forward mid-hour
@example(msc(2026, 3, 8, 5, 30), "America/St_Johns")  # forward at 05:30 UTC
def test_broker_time_and_back_is_the_same_instant_outside_a_repeated_hour(utc, zone):
    clock = BrokerClock(zone)
    broker = clock.to_broker_msc(utc)
    back = clock.to_utc_msc(broker)
    # only a wall time that comes twice (clocks going back) can be read as its first time
    assert back == utc or back == utc - 3_600_000


def test_a_shifted_zone_names_itself_and_is_a_tzinfo():
    zone = parse_timezone(NY_CLOSE)
    assert str(zone.tzname(None)) == NY_CLOSE
    instant = datetime(2026, 7, 15, 9, tzinfo=timezone.utc).astimezone(zone)
    assert (instant.hour, instant.utcoffset()) == (12, timedelta(hours=3))


@pytest.mark.parametrize("bad", ["America/New_York+25:00", "Nowhere/Else+07:00",
                                 "America/New_York+7", "America/New_York+07:75"])
def test_bad_shifted_zones_are_refused(bad):
    with pytest.raises(ValueError):
        parse_timezone(bad)
