"""Episodes: when a cross-venue edge is real money (after costs), for how long, and who
closes it. ``engine.py`` makes them from ticks without I/O (the same engine serves history
and live); ``history.py`` runs it over the store and the archive; ``summary.py`` sums them
up per pair.

    import arbitrex.episodes
    for episode in arbitrex.episodes.from_history(symbols=["EURUSD"]):
        ...
"""

from __future__ import annotations

from arbitrex.episodes.engine import EpisodeEngine
from arbitrex.episodes.history import from_history, table
from arbitrex.episodes.summary import PairSummary, summarize

__all__ = ["EpisodeEngine", "PairSummary", "from_history", "summarize", "table"]
