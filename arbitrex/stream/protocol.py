"""The WebSocket protocol of docs/PROTOCOL.md without I/O: parse client frames, build server frames.

``parse_client_frame`` returns one of ``Subscribe``, ``Unsubscribe``, ``Ping`` or raises
``ProtocolError`` with the wire code (bad_request, unknown_op, bad_symbol, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from arbitrex.errors import ProtocolError, TickError
from arbitrex.model.episode import Episode
from arbitrex.model.gap import Gap
from arbitrex.model.tick import check_symbol

__all__ = [
    "ClientOp", "MAX_FRAME_BYTES", "MAX_SYMBOLS_PER_FRAME", "PONG", "Ping", "Subscribe",
    "Unsubscribe", "VIEWS", "episode_frame", "error_frame", "gap_frame", "parse_client_frame",
    "parse_query_symbols", "parse_symbols", "subscribed_frame", "ticks_frame",
    "unsubscribed_frame",
]

# Limits
MAX_FRAME_BYTES = 64 * 1024  # larger client frames are closed with 1009
MAX_SYMBOLS_PER_FRAME = 1024
VIEWS = ("ticks", "best", "episodes")  # a subscription is to the ticks, the cross-venue
# view, or the episodes of a symbol


@dataclass(frozen=True)
class Subscribe:
    symbols: tuple[str, ...]
    since: Mapping[str, int] | None = None  # "SYMBOL" or "VENUE:SYMBOL" -> last seq held
    batch: bool = False
    view: str = "ticks"


@dataclass(frozen=True)
class Unsubscribe:
    symbols: tuple[str, ...]
    view: str = "ticks"


@dataclass(frozen=True)
class Ping:
    pass


ClientOp = Subscribe | Unsubscribe | Ping


def parse_symbols(value: Any) -> tuple[str, ...]:
    """A JSON array of symbol strings -> a tuple without duplicates."""
    if not isinstance(value, list):
        raise ProtocolError("bad_request", '"symbols" must be a JSON array of symbol strings')
    if len(value) > MAX_SYMBOLS_PER_FRAME:
        raise ProtocolError("bad_request", f"at most {MAX_SYMBOLS_PER_FRAME} symbols per frame")
    for item in value:
        if not isinstance(item, str):
            raise ProtocolError("bad_request", '"symbols" must contain only strings')
        try:
            check_symbol(item)
        except TickError as exc:
            raise ProtocolError("bad_symbol", str(exc)) from None
    return tuple(dict.fromkeys(value))


def parse_query_symbols(text: str) -> tuple[str, ...]:
    """The ``symbols=`` query parameter: comma-separated."""
    return parse_symbols([s for s in text.split(",") if s])


def _parse_since(value: Any) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError("bad_request", '"since" must be an object of symbol -> last seq')
    since = {}
    for key, seq in value.items():
        venue, _, symbol = key.rpartition(":")
        try:
            check_symbol(symbol)
            if venue:
                check_symbol(venue)
        except TickError as exc:
            raise ProtocolError("bad_symbol", str(exc)) from None
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63:
            raise ProtocolError("bad_request", f'"since" of {key} must be a seq >= 0')
        since[key] = seq
    return since


def _parse_view(value: Any) -> str:
    if value is None:
        return "ticks"
    if value not in VIEWS:
        raise ProtocolError("bad_request", '"view" must be "ticks", "best" or "episodes"')
    return str(value)


def parse_client_frame(text: str | bytes) -> ClientOp:
    if isinstance(text, bytes):
        raise ProtocolError("bad_request", "binary frames are not accepted; send JSON text")
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError("bad_request", "frame is not valid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_request", "frame must be a JSON object with an \"op\"")
    op = message.get("op")
    if op == "subscribe":
        batch = message.get("batch", False)
        if not isinstance(batch, bool):
            raise ProtocolError("bad_request", '"batch" must be true or false')
        return Subscribe(parse_symbols(message.get("symbols")),
                         _parse_since(message.get("since")), batch,
                         _parse_view(message.get("view")))
    if op == "unsubscribe":
        return Unsubscribe(parse_symbols(message.get("symbols")),
                           _parse_view(message.get("view")))
    if op == "ping":
        return Ping()
    if not isinstance(op, str):
        raise ProtocolError("bad_request", 'frame needs an "op" string')
    raise ProtocolError("unknown_op", f"unknown op {op[:40]!r}: use subscribe, unsubscribe "
                        "or ping")


# Server frames


def _dump(frame: dict[str, Any]) -> bytes:
    return orjson.dumps(frame)


PONG = _dump({"type": "pong"})


def subscribed_frame(symbols: Iterable[str], recovered: Mapping[str, bool] | None = None,
                     view: str = "ticks") -> bytes:
    frame: dict[str, Any] = {"type": "subscribed", "symbols": list(symbols)}
    if recovered is not None:
        frame["recovered"] = dict(recovered)
    if view != "ticks":
        frame["view"] = view
    return _dump(frame)


def unsubscribed_frame(symbols: Iterable[str], view: str = "ticks") -> bytes:
    frame: dict[str, Any] = {"type": "unsubscribed", "symbols": list(symbols)}
    if view != "ticks":
        frame["view"] = view
    return _dump(frame)


def ticks_frame(records: Iterable[bytes]) -> bytes:
    """Several encoded tick records as one ``{"type": "ticks", "data": [...]}`` frame."""
    return b'{"type":"ticks","data":[' + b",".join(records) + b"]}"


def gap_frame(gap: Gap) -> bytes:
    return _dump(gap.record())


def episode_frame(episode: Episode, *, snapshot: bool = False) -> bytes:
    return _dump(episode.record(snapshot=True) if snapshot else episode.record())


def error_frame(code: str, message: str) -> bytes:
    return _dump({"type": "error", "code": code, "message": message})
