"""The values every layer shares, and their codecs, under both the server and the client:

    tick.py   Tick (the one tick record: MT5 rows, JSON records and store rows in and out),
              Position (where a stream stands)
    gap.py    Gap (seqs of a stream that will not come, and why)
    best.py   Best, Quote, Edge (the cross-venue view of a symbol)
    costs.py  Costs (each venue's cost of a round turn, per symbol)
    episode.py  Episode (a run of states in which a pair's net edge stays positive)

``Item`` is what a reader of a server gets: a tick, a gap, or a view. Nothing here does I/O
or imports another layer of arbitrex.
"""

from __future__ import annotations

from arbitrex.model.best import Best, Edge, Quote
from arbitrex.model.costs import Costs
from arbitrex.model.episode import Episode
from arbitrex.model.gap import Gap
from arbitrex.model.tick import Position, Tick

__all__ = ["Best", "Costs", "Edge", "Episode", "Gap", "Item", "Position", "Quote", "Tick"]

#: What a reader of a server gets.
Item = Tick | Gap | Best
