"""What wire.py relies on of websockets, checked against the installed version: a real
server writes pre-framed bytes through ``Wire`` and a real client must read exactly the
messages. If a websockets upgrade changes an internal, these fail, loudly and first."""

from __future__ import annotations

import asyncio
import importlib

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from arbitrex.stream.wire import INTERNALS, Wire, kept, text_frame

MESSAGES = [b'{"n":1}', b"x" * 200, b"y" * 70_000]  # the three frame length encodings


def test_text_frame_matches_rfc_6455_lengths() -> None:
    assert text_frame(b"hi") == b"\x81\x02hi"
    assert text_frame(b"a" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert text_frame(b"a" * 65536)[:10] == b"\x81\x7f" + (65536).to_bytes(8, "big")


def _attributes_missing(conn: ServerConnection) -> list[str]:
    missing = []
    for owner, names in INTERNALS.items():
        module, _, cls = owner.rpartition(".")
        klass = getattr(importlib.import_module(module), cls)
        target = conn if isinstance(conn, klass) else conn.protocol
        missing += [f"{owner}.{n}" for n in names if not hasattr(target, n)]
    return missing


async def _exchange(compression: str | None) -> tuple[list[str], list[str]]:
    seen: dict[str, list[str]] = {}
    done = asyncio.Event()

    async def handler(conn: ServerConnection) -> None:
        seen["missing"] = _attributes_missing(conn)
        wire = Wire(conn)
        assert wire.is_open() and wire.buffered() == 0 and not wire.over(10, 10)
        assert wire.queue(MESSAGES, b"".join(map(text_frame, MESSAGES)))
        assert wire.frames == len(MESSAGES)
        wire.flush()
        assert wire.send(b'{"last":true}')
        assert await wire.drained(max_bytes=0, max_frames=100, timeout=5.0)
        await done.wait()

    async with serve(handler, "127.0.0.1", 0, compression=compression) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=compression,
                           max_size=2**20) as client:
            got = [await asyncio.wait_for(client.recv(), 5) for _ in range(len(MESSAGES) + 1)]
            done.set()
    return seen["missing"], [str(m) for m in got]


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_a_real_client_reads_exactly_what_the_wire_wrote(compression: str | None) -> None:
    missing, got = asyncio.run(_exchange(compression))
    assert missing == [], f"websockets changed what wire.py relies on: {missing}"
    assert got == [m.decode() for m in MESSAGES] + ['{"last":true}']


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_a_tick_framed_once_is_what_websockets_would_send(size):
    from websockets.frames import Frame, Opcode

    payload = b"x" * size
    assert text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)


def test_kept_bytes_are_an_exact_copy() -> None:
    payload = orjson.dumps({"type": "best", "symbol": "EURUSD", "bid": 1.08123})
    copy = kept(payload)
    assert copy == payload and copy is not payload and type(copy) is bytes
