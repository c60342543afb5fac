"""The report's figures from the history: the store and the archive (``arbitrex.history``),
every stream of the range merged in the order the ticks were received, fed to one
``Study``. Nothing is held but the study's bounded tallies: memory does not grow with the
number of ticks.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from arbitrex.archive.layout import days_in
from arbitrex.config import Settings, load_costs, load_settings
from arbitrex.constants import DEFAULT_CONFIG, END_OF_TIME
from arbitrex.history import History, When, count, epoch_ms
from arbitrex.model.costs import Costs
from arbitrex.model.tick import receipt_key
from arbitrex.report.study import FREEZE_MS, Study

__all__ = ["bounds", "figures", "zones_of"]

Progress = Callable[[int], None]  # called with how many ticks were read since the last call


def zones_of(settings: Settings, config: Path | None = None) -> dict[str, str]:
    """Each declared MT5 venue's BROKER_TIMEZONE (the venues file); the others use the
    setting's."""
    from arbitrex.sources.mt5.venues import declares_venues, load_venues

    path = config if config is not None else DEFAULT_CONFIG
    if not path.is_file() or not declares_venues(path):
        return {}
    return {v.name: v.broker_timezone for v in load_venues(path, settings)}


def bounds(history: History, symbols: Sequence[str], venues: Sequence[str]
           ) -> tuple[int, int] | None:
    """The first and last event time (ms) the history holds of the streams; None if none."""
    lo, hi = END_OF_TIME, 0
    store = history.store
    for venue, symbol in store.streams():
        if (symbols and symbol not in symbols) or (venues and venue not in venues):
            continue
        first = next(iter(store.iter_range(symbols=[symbol], venues=[venue], chunk=1)), None)
        last_of = getattr(store, "last", None)  # a StreamReader's: every store has it
        last = last_of(venue, symbol) if callable(last_of) else None
        if first is None:
            continue
        lo = min(lo, first.time_msc)
        hi = max(hi, last.time_msc if last is not None else END_OF_TIME - 1)
    if history.archive is not None and history.archive.is_dir():
        for key, _ in days_in(history.archive):
            if (not symbols or key.symbol in symbols) and (not venues or key.venue in venues):
                lo, hi = min(lo, key.start_msc), max(hi, key.end_msc)
    return (lo, hi + 1) if hi else None


def figures(symbols: Sequence[str] | None = None, venues: Sequence[str] | None = None,
            start: When = None, end: When = None, *, history: History | None = None,
            freeze_ms: int = FREEZE_MS, stale_after_ms: int | None = None,
            costs: Costs | None = None, zones: Mapping[str, str] | None = None,
            default_zone: str | None = None, env_file: str | Path = ".env",
            progress: Progress | None = None) -> dict[str, Any]:
    """The broker report's figures over the range (what ``arbitrex report --json`` prints).
    Without ``history``, the store and archive the settings name (``env_file``); without
    ``costs``/``zones``, those of ./arbitrex.toml."""
    settings = load_settings(env_file=env_file) if history is None or stale_after_ms is None \
        or default_zone is None or zones is None else None
    source = history if history is not None else History.of(settings)  # type: ignore[arg-type]
    try:
        if costs is None:
            costs = load_costs(DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
        if settings is not None:
            stale_after_ms = settings.stale_after_ms if stale_after_ms is None \
                else stale_after_ms
            default_zone = settings.broker_timezone if default_zone is None else default_zone
            zones = zones_of(settings) if zones is None else zones
        wanted, chosen = tuple(symbols or ()), tuple(venues or ())
        from_msc, to_msc = epoch_ms(start, "start"), epoch_ms(end, "end")
        held = bounds(source, wanted, chosen)
        lo = from_msc if from_msc is not None else held[0] if held else 0
        hi = to_msc if to_msc is not None else held[1] if held else lo + 1
        study = Study(lo, hi, freeze_ms=freeze_ms, stale_after_ms=stale_after_ms or 10_000,
                      costs=costs, zones=zones, default_zone=default_zone or "UTC")
        streams = source.streams(wanted or None, chosen or None, lo, hi)
        take = study.take
        n = 0
        for tick in heapq.merge(*streams, key=receipt_key):
            take(tick)
            n += 1
            if progress is not None and n == 20_000:
                progress(n)
                n = 0
        if progress is not None and n:
            progress(n)
        return study.figures()
    finally:
        if history is None:
            source.close()


def total(history: History, symbols: Sequence[str], start: When, end: When) -> int:
    """How many ticks the range holds (for a progress bar)."""
    to_msc = epoch_ms(end, "end")
    return count(history.store, symbols=symbols, from_msc=epoch_ms(start, "start") or 0,
                 to_msc=END_OF_TIME if to_msc is None else to_msc, archive=history.archive)
