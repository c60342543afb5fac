"""Facts several layers share, owned here once (this module imports nothing)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DAY_MS", "END_OF_TIME", "STALE_AFTER_MS"]

#: Milliseconds in a UTC day (archive days, bars of 1d, day boundaries).
DAY_MS = 86_400_000

#: The end of every time range: no tick is stamped this late.
END_OF_TIME = 2**62

#: The cross-venue view: a venue whose quote is this many ms older than the newest is stale
#: (the default of STALE_AFTER_MS).
STALE_AFTER_MS = 10_000

#: The venues file (MT5 terminals, costs) read when --config is not given, if it exists.
DEFAULT_CONFIG = Path("arbitrex.toml")
