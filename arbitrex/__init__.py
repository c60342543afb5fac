"""arbitrex: MetaTrader 5 ticks collected, stored durably and streamed.

The stable Python API:

    arbitrex.Tick, Gap, Best, Quote, Edge, Episode, Item, Position   the values (``model``)
    arbitrex.ArbitrexError and its children                  what goes wrong (``errors``)
    arbitrex.client    connect(), ticks(), views(): follow a server
    arbitrex.history   read(), bars(), table(), History: stored and archived ticks
    arbitrex.episodes  from_history(), table(), summarize(), EpisodeEngine: edges that paid
    arbitrex.report    figures(), lead_lag(): the broker report's figures

``client``, ``history``, ``episodes`` and ``report`` are imported when first used
(``import arbitrex`` stays light).
Everything else is the command line's and may change.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType

from arbitrex.errors import (
    ArbitrexError,
    ConfigError,
    MissingPackage,
    ProtocolError,
    SourceError,
    StoreError,
    StoreUnavailable,
    TickError,
)
from arbitrex.model import Best, Edge, Episode, Gap, Item, Position, Quote, Tick

try:
    __version__ = version("arbitrex")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ArbitrexError", "Best", "ConfigError", "Edge", "Episode", "Gap", "Item", "MissingPackage",
    "Position", "ProtocolError", "Quote", "SourceError", "StoreError", "StoreUnavailable",
    "Tick", "TickError", "__version__", "client", "episodes", "history", "report",
]

_LAZY = ("client", "episodes", "history", "report")


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        return import_module(f"arbitrex.{name}")
    raise AttributeError(f"module 'arbitrex' has no attribute {name!r}")
