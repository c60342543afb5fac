"""Episodes from history: the store and the archive (``arbitrex.history``), a symbol at a
time. The ticks whose ``time_msc`` is in [start, end) are fed to the engine in the order
they were received (``recv_ns``, ``venue``, ``seq``), states starting empty; an episode still
open after the last tick is reported ``"state": "open"``. A symbol's ticks of the range are
held in memory to be put in that order (one symbol at a time).

    import arbitrex.episodes
    for episode in arbitrex.episodes.from_history(symbols=["EURUSD"], start="2026-11-20"):
        print(episode.sell, episode.buy, episode.duration_ms, episode.peak_net)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

from arbitrex.archive.layout import days_in
from arbitrex.config import load_costs, load_settings
from arbitrex.constants import DEFAULT_CONFIG
from arbitrex.episodes.engine import EpisodeEngine
from arbitrex.history import History, When
from arbitrex.model.costs import Costs
from arbitrex.model.episode import EPISODE_FIELDS, Episode
from arbitrex.model.tick import Tick, in_receipt_order

__all__ = ["from_history", "symbols_in", "table"]


def symbols_in(history: History) -> list[str]:
    """Every symbol the store or the archive holds."""
    held = {symbol for _, symbol in history.store.streams()}
    if history.archive is not None and history.archive.is_dir():
        held |= {key.symbol for key, _ in days_in(history.archive)}
    return sorted(held)


def from_history(symbols: Sequence[str] | None = None, venues: Sequence[str] | None = None,
                 start: When = None, end: When = None, *, history: History | None = None,
                 stale_after_ms: int | None = None, costs: Costs | None = None,
                 env_file: str | Path = ".env") -> Iterator[Episode]:
    """Every episode that starts in the range, ordered by (start_ns, symbol, sell, buy).
    Without ``history``, the store and archive the settings name (``env_file``); without
    ``stale_after_ms`` or ``costs``, STALE_AFTER_MS and the costs of ./arbitrex.toml."""
    owned = history is None
    if history is None or stale_after_ms is None:  # the settings, loaded once
        settings = load_settings(env_file=env_file)
        stale_after_ms = settings.stale_after_ms if stale_after_ms is None else stale_after_ms
        source = history if history is not None else History.of(settings)
    else:
        source = history
    if costs is None:
        costs = load_costs(DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    try:
        per_symbol = []
        for symbol in symbols or symbols_in(source):
            ticks = in_receipt_order(chain.from_iterable(source.streams([symbol], venues,
                                                                        start, end)))
            per_symbol.append(_episodes(ticks, EpisodeEngine(stale_after_ms=stale_after_ms,
                                                             costs=costs)))
        yield from heapq.merge(*per_symbol, key=_order)
    finally:
        if owned:
            source.close()


def _episodes(ticks: Iterable[Tick], engine: EpisodeEngine) -> list[Episode]:
    """One symbol's episodes: every one that closed, and those still open at the end."""
    found = [e for tick in ticks for e in engine.feed(tick) if e.state == "closed"]
    found += engine.open_episodes()
    return sorted(found, key=_order)


def _order(episode: Episode) -> tuple[int, str, str, str]:
    return (episode.start_ns, episode.symbol, episode.sell, episode.buy)


def table(episodes: Iterable[Episode]) -> Any:
    """Episodes as a ``pyarrow.Table`` (pandas: ``.to_pandas()``)."""
    from arbitrex.formats.parquet import as_table

    return as_table(episodes, EPISODE_FIELDS)
