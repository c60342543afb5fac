"""What trading costs at each venue: per symbol (``"*"``: every other symbol), in price units
for one round turn of one unit (a commission of 7 USD per lot of 100,000 EUR, round turn,
on EURUSD: 0.00007). A venue or symbol not given costs 0. ``config.load_costs`` reads them
from the ``[costs.VENUE]`` tables of arbitrex.toml."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["NO_COSTS", "Costs"]


class Costs:
    """Each venue's cost of a round turn, per symbol."""

    def __init__(self, table: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.table = {venue: dict(symbols) for venue, symbols in (table or {}).items()}

    def of(self, venue: str, symbol: str) -> float:
        symbols = self.table.get(venue)
        if not symbols:
            return 0.0
        return symbols.get(symbol, symbols.get("*", 0.0))

    def __bool__(self) -> bool:
        return any(any(v for v in symbols.values()) for symbols in self.table.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Costs) and self.table == other.table

    def __repr__(self) -> str:
        return f"Costs({self.table!r})"


#: No costs: net edges equal edges.
NO_COSTS = Costs()
