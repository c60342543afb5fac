"""MetaTrader5 over an RPyC classic server: a terminal under Wine, reached from Linux.

``MT5_BRIDGE=host:port`` names an RPyC *classic* server running in a Python that has the
MetaTrader5 package (on Linux: the Windows Python under Wine; mt5linux's server is one,
and so is rpyc's own ``rpyc_classic``). ``BridgeApi`` gives the package's functions over
that connection, so ``Terminal`` and the source use it exactly like the package itself.
It talks to the server with rpyc alone (the mt5linux client package is not usable as a
dependency: see docs/MT5.md).

Round trips are what cost over a bridge, so nothing comes back as a netref (a remote object
whose every attribute access is another round trip): helpers defined on the server when
connecting answer with plain values only — records as tuples of (name, value) pairs, tick
arrays as their bytes and dtype (``numpy.frombuffer`` here; rpyc's ``obtain`` of an array
was measured ~20x slower) — and ``copy_ticks_many`` reads every symbol of a poll in one
round trip. Every call is bounded by ``sync_request_timeout``. A server that cannot be
reached, dies or times out raises ``BridgeDown`` (the source treats it as a terminal
outage: reconnect with backoff, initialize again, backfill); the next call connects
afresh. The account password crosses the connection only as an argument of
``initialize``: it is never in a repr, a log line or an error message from here.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Sequence
from typing import Any

import numpy as np

from arbitrex.errors import BridgeDown, SourceUnavailable

__all__ = [
    "BridgeApi", "CALL_TIMEOUT", "CONNECT_TIMEOUT", "HELPERS", "Record", "SERVER_CODE",
    "parse_bridge",
]

log = logging.getLogger(__name__)

# Timeouts
CONNECT_TIMEOUT = 3.0  # seconds to open the TCP connection (rpyc's own default)
CALL_TIMEOUT = 30.0  # seconds any call may take (initialize: MT5_TIMEOUT_MS + 5 s)

#: Defined on the server when connecting. Every answer is made of plain values.
SERVER_CODE = '''
import sys as _arbitrex_sys
import MetaTrader5 as _arbitrex_mt5


def _arbitrex_plain(result):
    if result is None or isinstance(result, (bool, int, float, str, bytes)):
        return ("value", result)
    if hasattr(result, "_asdict"):
        return ("record", tuple(result._asdict().items()))
    if hasattr(result, "tobytes") and hasattr(result, "dtype"):
        return ("array", tuple(tuple(f) for f in result.dtype.descr), result.tobytes())
    if isinstance(result, (tuple, list)):
        return ("value", tuple(result))
    return ("value", repr(result))


def _arbitrex_call(name, args, kwargs):
    return _arbitrex_plain(getattr(_arbitrex_mt5, name)(*args, **dict(kwargs)))


def _arbitrex_copy_many(requests):
    out = []
    for symbol, date_from, count, flags in requests:
        rows = _arbitrex_mt5.copy_ticks_from(symbol, date_from, count, flags)
        if rows is None:
            out.append(("error",) + tuple(_arbitrex_mt5.last_error()))
        else:
            out.append(_arbitrex_plain(rows))
    return tuple(out)


def _arbitrex_versions():
    return (_arbitrex_sys.version.split()[0],
            str(getattr(_arbitrex_mt5, "__version__", "unknown")))
'''
HELPERS = ("_arbitrex_call", "_arbitrex_copy_many", "_arbitrex_versions")


class Record(types.SimpleNamespace):
    """A record the package returns as a named tuple (account_info, symbol_info_tick...)."""

    def _asdict(self) -> dict[str, Any]:
        return dict(vars(self))


def _record(items: Sequence[tuple[str, Any]]) -> Record:
    return Record(**dict(items))


def _array(descr: Sequence[Sequence[str]], data: bytes) -> np.ndarray[Any, Any]:
    dtype = np.dtype([tuple(field) for field in descr])
    return np.frombuffer(data, dtype=dtype).copy()  # writable, like the package's


def _unpack(answer: tuple[Any, ...]) -> Any:
    kind = answer[0]
    if kind == "record":
        return _record(answer[1])
    if kind == "array":
        return _array(answer[1], answer[2])
    return answer[1]


class BridgeApi:
    """The MetaTrader5 package's functions, run on an RPyC classic server."""

    def __init__(self, host: str, port: int, *, call_timeout: float = CALL_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.call_timeout = call_timeout
        self._conn: Any = None
        self._helpers: dict[str, Any] = {}  # the server's helpers, looked up once

    def __repr__(self) -> str:
        return f"BridgeApi({self.host}:{self.port})"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    # The connection

    def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        import rpyc

        try:
            conn = rpyc.classic.connect(self.host, self.port, keepalive=True)
        except (OSError, EOFError) as exc:
            raise BridgeDown(f"bridge {self.where} unreachable ({_reason(exc)})") from None
        conn._config["sync_request_timeout"] = self.call_timeout
        try:
            conn.execute(SERVER_CODE)
            self._helpers = {name: conn.namespace[name] for name in HELPERS}
        except ImportError:
            conn.close()
            raise SourceUnavailable(
                f"the bridge at {self.where} answers, but its Python has no MetaTrader5 "
                "package: pip install MetaTrader5 in the (Windows) Python that runs the "
                "server") from None
        except Exception as exc:
            conn.close()
            raise BridgeDown(f"bridge {self.where} failed ({_reason(exc)})") from None
        self._conn = conn
        return conn

    def _remote(self, helper: str, *args: Any) -> Any:
        self._connection()
        try:
            return self._helpers[helper](*args)
        except SourceUnavailable:
            raise
        except Exception as exc:  # EOFError, ConnectionError, TimeoutError, remote errors
            self.disconnect()
            raise BridgeDown(f"bridge {self.where} failed ({_reason(exc)})") from None

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return _unpack(self._remote("_arbitrex_call", name, args, tuple(kwargs.items())))

    def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already gone
                pass

    def versions(self) -> tuple[str, str]:
        """(the server's Python version, its MetaTrader5 version)."""
        python, package = self._remote("_arbitrex_versions")
        return str(python), str(package)

    # The package's functions

    def initialize(self, path: str | None = None, **kwargs: Any) -> Any:
        timeout_ms = kwargs.get("timeout")
        if isinstance(timeout_ms, int):  # the terminal may take that long to start
            self.call_timeout = max(CALL_TIMEOUT, timeout_ms / 1000 + 5)
        if self._conn is not None:
            self._conn._config["sync_request_timeout"] = self.call_timeout
        return self._call("initialize", *(() if path is None else (path,)), **kwargs)

    def shutdown(self) -> None:
        try:
            self._call("shutdown")
        except BridgeDown:
            pass
        self.disconnect()

    def last_error(self) -> Any:
        return self._call("last_error")

    def version(self) -> Any:
        return self._call("version")

    def terminal_info(self) -> Any:
        return self._call("terminal_info")

    def account_info(self) -> Any:
        return self._call("account_info")

    def symbol_info(self, symbol: str) -> Any:
        return self._call("symbol_info", symbol)

    def symbol_select(self, symbol: str, enable: bool = True) -> Any:
        return self._call("symbol_select", symbol, enable)

    def symbol_info_tick(self, symbol: str) -> Any:
        return self._call("symbol_info_tick", symbol)

    def copy_ticks_from(self, symbol: str, date_from: int, count: int, flags: int) -> Any:
        return self._call("copy_ticks_from", symbol, date_from, count, flags)

    def copy_ticks_range(self, symbol: str, date_from: int, date_to: int, flags: int) -> Any:
        return self._call("copy_ticks_range", symbol, date_from, date_to, flags)

    def copy_ticks_many(self, requests: Sequence[tuple[str, int, int, int]]
                        ) -> list[np.ndarray[Any, Any] | tuple[int, str]]:
        """``copy_ticks_from`` of several symbols in one round trip: per request, the rows,
        or the (code, message) of ``last_error`` where it failed."""
        answers = self._remote("_arbitrex_copy_many", tuple(map(tuple, requests)))
        return [(int(a[1]), str(a[2])) if a[0] == "error" else _unpack(a) for a in answers]


def _reason(exc: BaseException) -> str:
    """An exception's type and first line: a remote traceback stays out of messages."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def parse_bridge(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)
