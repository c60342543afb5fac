"""The exceptions arbitrex raises. Library code raises; only the CLI prints.

ArbitrexError
├── ConfigError        a setting is missing or invalid (exit 2); names the setting and the fix
├── SourceUnavailable  the chosen source cannot run here, e.g. no MetaTrader5 (exit 2)
├── SourceError        a source failed while running
├── StoreError         the store cannot be opened, read or written
│   └── StoreUnavailable   its server cannot be reached for now (worth waiting for)
├── TickError          a tick fails validation or a file row cannot be parsed
└── ProtocolError      a client frame is malformed; carries the wire error code
"""

from __future__ import annotations


class ArbitrexError(Exception):
    """Root of every error arbitrex raises on purpose."""

    exit_code = 1


class ConfigError(ArbitrexError):
    """A setting is invalid: the message names it and says how to fix it."""

    exit_code = 2

    def __init__(self, setting: str, problem: str, fix: str) -> None:
        self.setting = setting
        self.problem = problem
        self.fix = fix
        super().__init__(f"{setting}: {problem} — {fix}")


class SourceUnavailable(ArbitrexError):
    """The source cannot run on this machine (a usage problem, not a failure)."""

    exit_code = 2


class SourceError(ArbitrexError):
    """A source failed while running."""


class StoreError(ArbitrexError):
    """The store cannot be opened, read or written."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached for now (Redis down): worth waiting for."""


class TickError(ArbitrexError):
    """A tick is invalid."""


class ProtocolError(ArbitrexError):
    """A client frame is malformed; ``code`` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)
