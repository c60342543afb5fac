"""One MetaTrader 5 terminal connection: every call behind one lock, failures classified.

The package is a per-process singleton and not documented as thread-safe, so one
``Terminal`` per process and one lock around every call. A call that returns None is
turned into an exception from ``last_error()``: ``TerminalDown`` for the IPC codes
(-10001..-10005, or any failure of an RPyC bridge), ``AuthFailed`` for -6, ``CallFailed``
for the rest (e.g. -4 unknown symbol).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from arbitrex.errors import (
    AuthFailed,
    BridgeDown,
    CallFailed,
    SourceUnavailable,
    TerminalDown,
)
from arbitrex.sources.mt5.bridge import BridgeApi, parse_bridge

__all__ = ["AUTH_FAILED", "COPY_TICKS_ALL", "IPC_CODES", "NOT_FOUND", "Terminal", "load_api"]

COPY_TICKS_ALL = -1
IPC_CODES = frozenset({-10001, -10002, -10003, -10004, -10005})
AUTH_FAILED = -6
NOT_FOUND = -4


def load_api(bridge: str | None) -> Any:
    """The MetaTrader5 module, or the same API over an RPyC bridge when ``bridge`` is
    host:port (``bridge.py``)."""
    if bridge:
        host, port = parse_bridge(bridge)
        return BridgeApi(host, port)
    return importlib.import_module("MetaTrader5")


def _failure(call: str, exc: Exception, code: int) -> TerminalDown:
    """An exception from the API itself (not an error code): the bridge failed."""
    message = str(exc) if isinstance(exc, BridgeDown) else f"bridge error: {exc}"
    return TerminalDown(call, code, message)


class Terminal:
    def __init__(
        self,
        api: Any,
        *,
        path: str | None = None,
        login: int | None = None,
        password: str | None = None,
        server: str | None = None,
        timeout_ms: int = 60_000,
    ) -> None:
        self.api = api
        self.path = path
        self.login = login
        self._password = password
        self.server = server
        self.timeout_ms = timeout_ms
        self.lock = threading.Lock()

    def __repr__(self) -> str:  # never the password
        return f"Terminal(path={self.path!r}, login={self.login!r}, server={self.server!r})"

    @property
    def batched(self) -> bool:
        """Whether ``copy_ticks_many`` reads many symbols in one round trip (a bridge)."""
        return isinstance(self.api, BridgeApi)

    def _error(self, call: str) -> CallFailed:
        try:
            code, message = self.api.last_error()
        except SourceUnavailable:
            raise
        except Exception as exc:  # a bridge that cannot even say why
            return _failure(call, exc, -10001)
        code = int(code)
        kind = TerminalDown if code in IPC_CODES else AuthFailed if code == AUTH_FAILED \
            else CallFailed
        return kind(call, code, str(message))

    def connect(self) -> None:
        """Initialize once (path, login, password, server, timeout)."""
        kwargs: dict[str, Any] = {"timeout": self.timeout_ms}
        if self.login is not None:
            kwargs.update(login=self.login, password=self._password, server=self.server)
        with self.lock:
            try:
                ok = (self.api.initialize(self.path, **kwargs) if self.path
                      else self.api.initialize(**kwargs))
            except SourceUnavailable:
                raise
            except Exception as exc:
                raise _failure("initialize", exc, -10003) from exc
            if not ok:
                error = self._error("initialize")
                if isinstance(error, TerminalDown) or error.code in (-1, -10000):
                    raise TerminalDown("initialize", error.code, error.terminal_message)
                raise error

    def call(self, name: str, *args: Any) -> Any:
        """Call ``api.name(*args)``; None or False becomes the exception its error code says."""
        with self.lock:
            try:
                result = getattr(self.api, name)(*args)
            except SourceUnavailable:
                raise
            except Exception as exc:  # rpyc/bridge failures, serialization errors, timeouts
                raise _failure(name, exc, -10001) from exc
            if result is None or result is False:
                raise self._error(name)
            return result

    def copy_ticks_many(self, requests: Sequence[tuple[str, int, int]]
                        ) -> list[np.ndarray[Any, Any] | CallFailed]:
        """``copy_ticks_from(symbol, from_second, count, COPY_TICKS_ALL)`` of each request,
        in one round trip over a bridge: per request the rows, or the error it failed
        with. TerminalDown when the bridge itself fails."""
        assert isinstance(self.api, BridgeApi)
        with self.lock:
            try:
                answers = self.api.copy_ticks_many(
                    [(symbol, second, count, COPY_TICKS_ALL) for symbol, second, count in
                     requests])
            except SourceUnavailable:
                raise
            except Exception as exc:
                raise _failure("copy_ticks_many", exc, -10001) from exc
        out: list[np.ndarray[Any, Any] | CallFailed] = []
        for answer in answers:
            if isinstance(answer, tuple):
                code, message = answer
                kind = TerminalDown if code in IPC_CODES else CallFailed
                out.append(kind("copy_ticks_from", code, message))
            else:
                out.append(answer)
        return out

    def shutdown(self) -> None:
        with self.lock:
            try:
                self.api.shutdown()
            except Exception:
                pass
