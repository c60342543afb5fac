"""The server's episodes (``"view": "episodes"``): one ``EpisodeEngine`` fed every tick the
hub dispatches, in the order it sends them (receipt order), so that the episode frames a
client gets are exactly those of the states of the ticks sent before them.

``take`` feeds a dispatch and says, tick by tick, which episodes each one opened or closed;
the hub cuts its fan-out after each such tick and queues the frames there. Ended episodes
are counted in the metrics as they happen; the open ones are read when ``/metrics`` is
scraped. ``seed`` starts the engine from the latest stored tick of each stream (as
``arbitrex episodes --follow`` does), so that episodes open at start are seen at once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from arbitrex.constants import STALE_AFTER_MS
from arbitrex.episodes.engine import EpisodeEngine
from arbitrex.errors import StoreError
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.episode import Episode
from arbitrex.model.tick import Tick, in_receipt_order
from arbitrex.stores.base import StreamReader
from arbitrex.stream import protocol as proto
from arbitrex.stream.metrics import ServerMetrics

__all__ = ["LiveEpisodes"]

log = logging.getLogger(__name__)


class LiveEpisodes:
    """The engine of a server, its metrics, and its frames."""

    def __init__(self, metrics: ServerMetrics, *, stale_after_ms: int = STALE_AFTER_MS,
                 costs: Costs = NO_COSTS) -> None:
        self.engine = EpisodeEngine(stale_after_ms=stale_after_ms, costs=costs)
        self.metrics = metrics
        metrics.episodes_open = self.open_counts

    def seed(self, store: StreamReader) -> None:
        """Feed the latest stored tick of each stream (what is open at start); a store that
        cannot be read leaves the engine to start from the first ticks followed."""
        try:
            latest = [t for t in (store.last(*key) for key in store.streams()) if t is not None]
        except StoreError as exc:
            log.warning("episodes start from the first ticks followed: %s", exc)
            return
        self.take(in_receipt_order(sorted(latest, key=lambda t: (t.venue, t.symbol))))

    def take(self, ticks: Sequence[Tick]) -> list[tuple[int, list[Episode]]]:
        """Feed ``ticks`` (receipt order): (index of the tick, the episodes its state closed
        then opened), for each tick that closed or opened some."""
        feed = self.engine.feed
        ended = self.metrics.ended
        events = []
        for i, tick in enumerate(ticks):
            episodes = feed(tick)
            if episodes:
                events.append((i, episodes))
                for e in episodes:
                    if e.state == "closed":
                        ended(e.symbol, e.sell, e.buy, e.duration_ms or 0.0)
        return events

    def snapshot(self, symbols: Sequence[str]) -> list[bytes]:
        """The open episodes of ``symbols`` as snapshot frames, by symbol, sell, buy."""
        return [proto.episode_frame(e, snapshot=True)
                for e in self.engine.open_episodes(tuple(symbols))]

    def open_counts(self) -> dict[str, int]:
        """Open episodes per symbol (every symbol seen, 0 included)."""
        counts = Counter({symbol: 0 for symbol in self.engine.symbols()})
        counts.update(e.symbol for e in self.engine.open_episodes())
        return dict(counts)
