"""Tick sources. Each implements ``TickSource`` (base.py) in a module of its own."""

from __future__ import annotations

import importlib.util

from arbitrex.config import Settings
from arbitrex.errors import SourceUnavailable
from arbitrex.sources.base import Position, TickSource

__all__ = ["Position", "TickSource", "make_source", "mt5_available"]

SOURCES = ("sim", "mt5", "file")


def mt5_available(settings: Settings) -> bool:
    return settings.mt5_bridge is not None or importlib.util.find_spec("MetaTrader5") is not None


def make_source(kind: str, settings: Settings, *, rate: float = 50.0, seed: int = 0) -> TickSource:
    """The source named ``kind``; SourceUnavailable (exit 2) with a hint when it cannot run."""
    if kind == "sim":
        from arbitrex.sources.sim import SimSource

        return SimSource(settings.symbols, seed=seed, rate=rate)
    if kind == "mt5":
        if not mt5_available(settings):
            raise SourceUnavailable(
                "the MetaTrader5 package is not available: on Windows `pip install "
                "'arbitrex[mt5]'`; on Linux run the terminal under Wine with an mt5linux bridge "
                "and set MT5_BRIDGE=host:port; to try arbitrex without a terminal use "
                "--source sim")
        raise SourceUnavailable("the MetaTrader 5 source is not part of this version yet; "
                                "use --source sim")
    if kind == "file":
        raise SourceUnavailable("--source file is not part of this version yet; use --source sim")
    raise SourceUnavailable(f"unknown source {kind!r}: use one of {', '.join(SOURCES)}")
