"""Tick sources. Each implements ``TickSource`` (base.py) in a module of its own."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from arbitrex.config import Settings
from arbitrex.errors import ConfigError, SourceUnavailable
from arbitrex.sources.base import TickSource

if TYPE_CHECKING:
    from arbitrex.sources.mt5.venues import Venue

__all__ = ["TickSource", "make_source", "require_mt5"]

SOURCES = ("sim", "mt5", "file")


MT5_MISSING_HINT = (
    "the MetaTrader5 package is not available: on Windows `pip install 'arbitrex[mt5]'`; on "
    "Linux run the terminal under Wine with an RPyC bridge (README: The Linux bridge) and set "
    "MT5_BRIDGE=host:port")


def require_mt5(bridge: str | None) -> None:
    """Refuse (exit 2, with the hint) when MetaTrader5 is not here and no bridge is set
    (whether a bridge answers is found when connecting: an outage, waited out)."""
    if not bridge and importlib.util.find_spec("MetaTrader5") is None:
        raise SourceUnavailable(MT5_MISSING_HINT)


def make_source(kind: str, settings: Settings, *, rate: float = 50.0, seed: int = 0,
                venue: Venue | None = None, poll_interval: float | None = None,
                started_ns: int | None = None, file: Path | None = None,
                symbols: tuple[str, ...] = (), brokers: tuple[str, ...] = (),
                broker: str | None = None) -> TickSource:
    """The source named ``kind``; SourceUnavailable (exit 2) with a hint when it cannot run.
    The simulator is ``broker`` of ``brokers`` (default: its one broker, sim)."""
    if kind == "sim":
        from arbitrex.sources.sim import POLL_INTERVAL as SIM_POLL_INTERVAL
        from arbitrex.sources.sim import VENUE, SimSource, brokers_for

        names = brokers or (VENUE,)
        chosen = {b.name: b for b in brokers_for(names)}.get(broker or names[0])
        if chosen is None:
            raise ConfigError("venue", f"no simulated broker named {broker!r}",
                              f"use one of {', '.join(names)}")
        return SimSource(settings.symbols, seed=seed, rate=rate, broker=chosen,
                         started_ns=started_ns if len(names) > 1 else None,
                         poll_interval=SIM_POLL_INTERVAL if poll_interval is None
                         else poll_interval)
    if kind == "mt5":
        from arbitrex.clock import BrokerClock
        from arbitrex.sources.mt5.source import POLL_INTERVAL, Mt5Source
        from arbitrex.sources.mt5.terminal import Terminal, load_api
        from arbitrex.sources.mt5.venues import default_venue

        v = venue or default_venue(settings)
        require_mt5(v.mt5_bridge)
        terminal = Terminal(load_api(v.mt5_bridge), path=v.mt5_path, login=v.mt5_login,
                            password=v.mt5_password.reveal() if v.mt5_password else None,
                            server=v.mt5_server, timeout_ms=v.mt5_timeout_ms)
        return Mt5Source(terminal, venue=v.name, symbols=v.symbols, aliases=v.aliases,
                         clock=BrokerClock(v.broker_timezone),
                         poll_interval=POLL_INTERVAL if poll_interval is None else poll_interval,
                         started_ns=started_ns)
    if kind == "file":
        from arbitrex.clock import BrokerClock
        from arbitrex.sources.file import FileSource

        if file is None:
            raise ConfigError("file", "the file source needs the file to read",
                              "give its path (NDJSON, CSV, Parquet or an MT5 tick export)")
        return FileSource(file, symbols=symbols, clock=BrokerClock(settings.broker_timezone))
    raise ConfigError("source", f"unknown source {kind!r}", f"use one of {', '.join(SOURCES)}")
