"""arbitrex: MetaTrader 5 ticks collected, stored durably and streamed."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("arbitrex")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
