"""Writing to a client's socket: the one module that knows websockets' internals.

To send one tick to many clients with one encoding and one syscall per client per
dispatch, the hub writes already-framed bytes straight into each connection's transport,
as ``websockets.broadcast`` does. That relies on parts of websockets that are not its
documented API, all used here and only here:

    ServerConnection.protocol        the sans-I/O state machine: ``state``, ``extensions``,
                                     ``send_text()``, ``data_to_send()``
    ServerConnection.transport       the asyncio transport: ``get_write_buffer_size()``,
                                     ``write()``, ``write_eof()``
    ServerConnection.paused, drain() its flow control (over the transport's high-water mark)

``INTERNALS`` names them; tests/unit/stream/test_wire.py fails loudly when a websockets
upgrade changes one of them, before any user sees a broken stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

__all__ = ["INTERNALS", "Wire", "kept", "text_frame"]

log = logging.getLogger(__name__)

#: What this module uses of websockets beyond its documented API (see the module).
INTERNALS = {
    "websockets.asyncio.server.ServerConnection": ("protocol", "transport", "paused", "drain"),
    "websockets.protocol.Protocol": ("state", "extensions", "send_text", "data_to_send"),
}


def kept(payload: bytes) -> bytes:
    """A copy of ``payload`` of exactly its length, for bytes that are kept (a cache, a slow
    client's backlog): orjson's output carries an allocation of 4 KiB or more, whatever
    its length, which a copy does not."""
    return bytes(memoryview(payload))


def text_frame(payload: bytes) -> bytes:
    """A server's WebSocket text frame on the wire: unmasked, unfragmented, no extension
    (RFC 6455 5.2). The same bytes serve every client, so a tick is framed once."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class Wire:
    """One connection's outgoing side: queue messages, then write them in one call."""

    __slots__ = ("conn", "frames", "out")

    def __init__(self, conn: ServerConnection) -> None:
        self.conn = conn
        self.frames = 0  # frames written since the send buffer was last seen empty
        self.out: list[bytes] = []  # framed messages waiting for flush()

    def is_open(self) -> bool:
        return self.conn.protocol.state is State.OPEN

    def buffered(self) -> int:
        """Bytes in the send buffer (and, when it is empty, the frame count restarts)."""
        transport = self.conn.transport
        size = transport.get_write_buffer_size() if transport is not None else 0
        if size == 0:
            self.frames = 0
        return size

    def over(self, max_bytes: int, max_frames: int) -> bool:
        """Whether the send buffer holds more than its bound (in bytes or in frames)."""
        return self.buffered() > max_bytes or self.frames >= max_frames

    def queue(self, frames: Sequence[bytes], wire: bytes | None = None) -> bool:
        """Queue text messages without writing them yet. ``wire`` is all of them already
        framed back to back (``text_frame``), used unless the connection negotiated an
        extension. False when the connection is not open."""
        conn = self.conn
        if conn.protocol.state is not State.OPEN:
            return False
        if wire is not None and not conn.protocol.extensions:
            self.out.append(wire)
        else:
            try:
                for frame in frames:
                    conn.protocol.send_text(frame)
            except Exception as exc:  # the peer went away between the check and the write
                log.debug("write failed: %s", exc)
                return False
        self.frames += len(frames)
        return True

    def flush(self) -> None:
        """Write every queued frame in one call: one syscall per client per dispatch (what
        websockets' ``send_data`` does frame by frame, end of stream included)."""
        transport = self.conn.transport
        chunks = self.conn.protocol.data_to_send()
        data = b"".join(chunks)
        if self.out:
            data += b"".join(self.out)
            self.out.clear()
        if data:
            transport.write(data)
        if not all(chunks):  # an empty chunk asks for the end of the stream
            if transport.can_write_eof():
                transport.write_eof()
            else:
                transport.close()

    def send(self, frame: bytes) -> bool:
        """Queue one text message and write it now, without awaiting; whether it went."""
        if not self.queue((frame,)):
            return False
        try:
            self.flush()
        except Exception as exc:
            log.debug("write failed: %s", exc)
            return False
        return True

    async def drained(self, *, max_bytes: int, max_frames: int, timeout: float) -> bool:
        """Wait until the send buffer is under ``max_bytes`` and ``max_frames``: on the
        transport's flow control (resume_writing) when it is paused, else briefly. False
        when the connection closed or ``timeout`` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = self.conn
        while self.buffered() > max_bytes or self.frames >= max_frames:
            remaining = deadline - loop.time()
            if remaining <= 0 or not self.is_open():
                return False
            if conn.paused:  # over the transport's high-water mark: woken when it drains
                try:
                    await asyncio.wait_for(conn.drain(), remaining)
                except (asyncio.TimeoutError, ConnectionError):  # 3.10: not TimeoutError
                    return False
            else:
                await asyncio.sleep(0.001)
        return True

    async def close(self, code: int, reason: str) -> None:
        await self.conn.close(code, reason)
