"""Episodes summed up per pair (symbol, sell, buy): how many, how long (median, p90), how much
(the median of their peaks), and how long open in all. Pure."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import NamedTuple

from arbitrex.model.episode import Episode

__all__ = ["PairSummary", "summarize"]


class PairSummary(NamedTuple):
    symbol: str
    sell: str
    buy: str
    episodes: int  # closed and still open
    duration_median_ms: float | None  # of the closed ones
    duration_p90_ms: float | None
    longest_ms: float | None
    peak_net_median: float
    open_ms: float  # the closed ones' durations, summed


def _p90(values: list[float]) -> float:
    """The nearest-rank 90th percentile."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(0.9 * len(ranked)) - 1)]


def summarize(episodes: Iterable[Episode]) -> list[PairSummary]:
    """One summary per pair, by symbol, sell, buy."""
    pairs: dict[tuple[str, str, str], list[Episode]] = {}
    for episode in episodes:
        pairs.setdefault((episode.symbol, episode.sell, episode.buy), []).append(episode)
    out = []
    for (symbol, sell, buy), held in sorted(pairs.items()):
        durations = [e.duration_ms for e in held if e.duration_ms is not None]
        out.append(PairSummary(
            symbol, sell, buy, len(held),
            statistics.median(durations) if durations else None,
            _p90(durations) if durations else None,
            max(durations) if durations else None,
            statistics.median(e.peak_net for e in held), sum(durations)))
    return out
