"""Where a day of a stream lives in the archive, and which days are old enough: no I/O.

``ARCHIVE_DIR/venue=VENUE/symbol=SYMBOL/date=YYYY-MM-DD.parquet`` holds one UTC day of one
(venue, symbol) stream: the stored fields other than venue and symbol, which the path
holds (DuckDB, pandas and polars read the tree as one table with hive partitioning).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from arbitrex.constants import DAY_MS
from arbitrex.model.tick import STORED_FIELDS

__all__ = [
    "ARCHIVED_FIELDS", "DayKey", "cutoff_msc", "date_text", "day_of_text", "days_in",
    "path_of",
]

#: The columns of a day file, in order.
ARCHIVED_FIELDS = tuple(f for f in STORED_FIELDS if f not in ("venue", "symbol"))
_NAME = re.compile(r"date=(\d{4}-\d{2}-\d{2})\.parquet")


class DayKey(NamedTuple):
    venue: str
    symbol: str
    day: int  # days since 1970-01-01 (UTC)

    @property
    def start_msc(self) -> int:
        return self.day * DAY_MS

    @property
    def end_msc(self) -> int:
        return (self.day + 1) * DAY_MS


def date_text(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=timezone.utc).strftime("%Y-%m-%d")


def day_of_text(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) // 86_400


def path_of(root: Path, key: DayKey) -> Path:
    return (root / f"venue={key.venue}" / f"symbol={key.symbol}"
            / f"date={date_text(key.day)}.parquet")


def cutoff_msc(now_msc: int, older_than_days: int) -> int:
    """Days ending at or before this moment ended more than ``older_than_days`` days ago:
    the start of the UTC day ``older_than_days`` whole days before today's."""
    return (now_msc // DAY_MS - older_than_days) * DAY_MS


def days_in(root: Path) -> list[tuple[DayKey, Path]]:
    """Every day file under ``root`` (sorted by venue, symbol, day)."""
    found = []
    for venue_dir in root.glob("venue=*"):
        for symbol_dir in venue_dir.glob("symbol=*"):
            for path in symbol_dir.glob("date=*.parquet"):
                match = _NAME.fullmatch(path.name)
                if match:
                    found.append((DayKey(venue_dir.name[6:], symbol_dir.name[7:],
                                         day_of_text(match[1])), path))
    return sorted(found)
