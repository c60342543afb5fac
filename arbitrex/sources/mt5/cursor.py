"""Where an incremental MT5 poll stands for one symbol, and what a new result adds. Pure.

time_msc is not unique: several ticks share a millisecond, and two genuine ticks can be
identical in every field. So the position is (the broker ms of the last taken tick, how
many ticks at that ms were taken). A poll asks again from that ms's second; ``advance``
skips what was taken and returns the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["Cursor", "advance"]


class Cursor(NamedTuple):
    msc: int  # broker-clock ms of the last taken tick (0: nothing taken yet)
    taken: int  # how many ticks at exactly ``msc`` were taken

    @property
    def from_second(self) -> int:
        """The ``date_from`` (epoch seconds, broker clock) to ask the terminal from."""
        return self.msc // 1000


def advance(cursor: Cursor, times: Sequence[int]) -> tuple[int, Cursor]:
    """Given the time_msc column of a result asked from ``cursor.from_second`` (sorted, as the
    terminal returns it), return (index of the first new row, the cursor after all rows)."""
    start = 0
    n = len(times)
    while start < n and times[start] < cursor.msc:
        start += 1
    at_cursor = 0
    while start < n and times[start] == cursor.msc and at_cursor < cursor.taken:
        start += 1
        at_cursor += 1
    if start == n:
        return n, cursor
    last = times[-1]
    same = 0
    for t in reversed(times):
        if t != last:
            break
        same += 1
    if last == cursor.msc:
        # Everything at this ms in the result was seen; the result may hold fewer than taken
        # only if the terminal lost some, which must not make us re-take them.
        same = max(same, cursor.taken)
    return start, Cursor(last, same)
