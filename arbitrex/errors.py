"""The exceptions arbitrex raises. Library code raises; only the CLI prints.

ArbitrexError                  exit 1 unless said otherwise
├── ConfigError        exit 2  a setting or an input is missing or invalid; names it and the fix
├── MissingPackage     exit 2  an optional package this needs is not installed; says the pip
│                              command
├── SourceUnavailable  exit 2  the chosen source cannot run here, e.g. no MetaTrader5
├── VenueHeld          exit 2  another collector writes this venue into this store
├── SourceError                a source failed while running
│   ├── CallFailed             an MT5 call failed (code and the terminal's message)
│   │   ├── TerminalDown       the terminal is not reachable: reconnect, then backfill
│   │   └── AuthFailed         the broker refused the login: never retried (collect: exit 2)
│   └── BridgeDown             the RPyC bridge cannot be reached, died or did not answer
├── StoreError                 the store cannot be opened, read or written
│   └── StoreUnavailable       its server cannot be reached for now (worth waiting for)
├── ArchiveError               an archive day file cannot be written or read
├── ListenError        exit 2  a server cannot listen where it was told to (a busy port: a
│                              restart cannot cure it)
├── TickError                  a tick fails validation or a file row cannot be parsed
└── ProtocolError              a client frame is malformed; carries the wire error code

Library errors name settings (``WS_PORT``) and neutral input names (``symbols``, ``url``),
never command-line flags: ``setting`` says which, and the CLI adds the flag that sets it.
"""

from __future__ import annotations

__all__ = [
    "ArbitrexError", "ArchiveError", "AuthFailed", "BridgeDown", "CallFailed",
    "ConfigError", "ListenError", "MissingPackage", "ProtocolError", "SourceError",
    "SourceUnavailable", "StoreError", "StoreUnavailable", "TerminalDown", "TickError",
    "VenueHeld",
]


class ArbitrexError(Exception):
    """Root of every error arbitrex raises on purpose."""

    exit_code = 1
    setting: str | None = None  # the setting or input at fault, when one is


class ConfigError(ArbitrexError):
    """A setting is invalid: the message names it and says how to fix it."""

    exit_code = 2

    def __init__(self, setting: str, problem: str, fix: str) -> None:
        self.setting = setting
        self.problem = problem
        self.fix = fix
        super().__init__(f"{setting}: {problem} — {fix}")


class MissingPackage(ArbitrexError):
    """An optional package is not installed: the message gives the pip command."""

    exit_code = 2

    def __init__(self, package: str, needed_for: str, extra: str, alternative: str = "") -> None:
        self.package = package
        self.pip = f"pip install 'arbitrex[{extra}]'"
        text = f"{needed_for} needs {package}, which is not installed: {self.pip}"
        super().__init__(text + (f" ({alternative})" if alternative else ""))


class SourceUnavailable(ArbitrexError):
    """The source cannot run on this machine (a usage problem, not a failure)."""

    exit_code = 2


class VenueHeld(ArbitrexError):
    """Another collector holds the venue's lease (one writer per venue and store)."""

    exit_code = 2

    def __init__(self, venue: str, message: str) -> None:
        self.venue = venue
        super().__init__(message)


class SourceError(ArbitrexError):
    """A source failed while running."""


class CallFailed(SourceError):
    """An MT5 call failed; ``code`` and ``terminal_message`` are ``last_error()``'s."""

    def __init__(self, call: str, code: int, message: str) -> None:
        self.code = code
        self.terminal_message = message
        super().__init__(f"{call} failed: {message} ({code})")


class TerminalDown(CallFailed):
    """The terminal is not reachable (closed, hung, or the bridge failed)."""


class AuthFailed(CallFailed):
    """The broker refused the login: retrying would only lock the account."""


class BridgeDown(SourceError):
    """The bridge cannot be reached, died, or did not answer in time."""


class ArchiveError(ArbitrexError):
    """An archive file cannot be written or read."""


class StoreError(ArbitrexError):
    """The store cannot be opened, read or written."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached for now (Redis down): worth waiting for."""


class ListenError(ArbitrexError):
    """A server cannot listen on its host and port; ``setting`` names the port's setting."""

    exit_code = 2

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}")


class TickError(ArbitrexError):
    """A tick is invalid."""


class ProtocolError(ArbitrexError):
    """A client frame is malformed; ``code`` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)
