from datetime import datetime, timezone

import pytest

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
