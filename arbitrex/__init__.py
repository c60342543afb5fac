"""arbitrex: MetaTrader 5 ticks collected, stored durably and streamed."""

__version__ = "0.1.0"
