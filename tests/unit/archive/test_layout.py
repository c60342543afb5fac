"""Where a day lives in the archive, and which days are old enough (pure)."""

from __future__ import annotations

from arbitrex.archive.layout import (
    DayKey,
    cutoff_msc,
    date_text,
    day_of_text,
    days_in,
    path_of,
)
from arbitrex.constants import DAY_MS

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z


def test_a_day_is_a_utc_day_and_its_name_reads_back():
    key = DayKey("icm", "EURUSD", T0 // DAY_MS)
    assert key.start_msc <= T0 < key.end_msc and key.end_msc - key.start_msc == DAY_MS
    assert date_text(key.day) == "2027-01-15" and day_of_text("2027-01-15") == key.day
    assert day_of_text(date_text(0)) == 0


def test_paths_are_hive_partitions_and_are_found_again(tmp_path):
    keys = [DayKey("pepper", "EURUSD", 20_000), DayKey("icm", "XAUUSD", 20_001),
            DayKey("icm", "EURUSD", 20_001), DayKey("icm", "EURUSD", 20_000)]
    for key in keys:
        path = path_of(tmp_path, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    (tmp_path / "venue=icm" / "symbol=EURUSD" / "notes.txt").write_text("ignored")
    assert str(path_of(tmp_path, keys[0]).relative_to(tmp_path)).replace("\\", "/") == \
        "venue=pepper/symbol=EURUSD/date=2024-10-04.parquet"
    assert [k for k, _ in days_in(tmp_path)] == sorted(keys)
    assert days_in(tmp_path / "none") == []


def test_old_enough_means_whole_days_before_today():
    now = T0  # 08:00 on the 15th
    assert cutoff_msc(now, 0) == (T0 // DAY_MS) * DAY_MS  # today's start: yesterday is old
    assert cutoff_msc(now, 30) == (T0 // DAY_MS - 30) * DAY_MS
