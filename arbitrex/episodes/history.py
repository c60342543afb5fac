"""Episodes from history: the store and the archive (``arbitrex.history``), a symbol at a
time. The ticks whose ``time_msc`` is in [start, end) are fed to the engine in the order
they were received (``recv_ns``, ``venue``, ``seq``), states starting empty; an episode still
open after the last tick is reported ``"state": "open"``.

A symbol's ticks are streamed, its streams merged as they are read: that is the order they
were received in whenever each stream is read in it (the usual case: neither the
collector's clock nor the broker's stepped back in the range), and memory then holds no
ticks, whatever the range. The first tick out of that order makes the symbol read again and
put in order in memory (``in_receipt_order``, which also keeps each stream's seqs rising),
with a line in the log. The episodes found are held, to be given in start order.

    import arbitrex.episodes
    for episode in arbitrex.episodes.from_history(symbols=["EURUSD"], start="2026-11-20"):
        print(episode.sell, episode.buy, episode.duration_ms, episode.peak_net)
"""

from __future__ import annotations

import heapq
import logging
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
from arbitrex.model.tick import Tick, in_receipt_order, receipt_key

__all__ = ["from_history", "symbols_in", "table"]

log = logging.getLogger(__name__)


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
        per_symbol = [_symbol_episodes(source, symbol, venues, start, end,
                                       stale_after_ms=stale_after_ms, costs=costs)
                      for symbol in symbols or symbols_in(source)]
        yield from heapq.merge(*per_symbol, key=_order)
    finally:
        if owned:
            source.close()


class _OutOfOrder(Exception):
    """A stream was not read in the order its ticks were received."""


def _symbol_episodes(source: History, symbol: str, venues: Sequence[str] | None,
                     start: When, end: When, *, stale_after_ms: int, costs: Costs
                     ) -> list[Episode]:
    """One symbol's episodes, its ticks streamed in the order received (see the module);
    read again and ordered in memory when a stream is not read in that order."""
    try:
        return _episodes(_rising(heapq.merge(*source.streams([symbol], venues, start, end),
                                             key=receipt_key)),
                         EpisodeEngine(stale_after_ms=stale_after_ms, costs=costs))
    except _OutOfOrder as exc:
        log.info("%s: %s; its ticks are read again and put in order in memory", symbol, exc)
    ticks = in_receipt_order(chain.from_iterable(source.streams([symbol], venues, start, end)))
    return _episodes(ticks, EpisodeEngine(stale_after_ms=stale_after_ms, costs=costs))


def _rising(ticks: Iterable[Tick]) -> Iterator[Tick]:
    """``ticks``, raising ``_OutOfOrder`` at the first whose ``receipt_key`` is not above the
    one before it. A merge of streams each in that order is in it; a merge with a stream
    out of it is not, somewhere: so the merge is the receipt order exactly when this
    raises nothing."""
    last: tuple[int, str, int] | None = None
    for tick in ticks:
        key = receipt_key(tick)
        if last is not None and key <= last:
            raise _OutOfOrder(f"{tick.venue} received seq {tick.seq} at {tick.recv_ns} ns, "
                              f"before the tick read before it ({last[1]} seq {last[2]} at "
                              f"{last[0]} ns): a clock stepped back")
        last = key
        yield tick


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
