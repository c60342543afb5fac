"""Redis followed on the event loop itself: one connection of its own, read by the loop.

A thread blocked in ``XREAD`` wakes, then wakes the loop (two wake-ups per batch); here the
loop reads the connection's socket itself (one). The connection is an ``asyncio.Protocol``
(``loop.create_connection``: every asyncio loop has it, Windows' proactor included) whose
bytes hiredis's ``Reader`` turns into replies. Each read is the pair the store's ``follow``
sends (a blocked ``XREAD ... COUNT 1`` that is only the wait, then an ``XREAD`` of the
batch from the same position), pipelined; the batch is dispatched on the loop as soon as
its reply is complete. Streams that appear later are found by ``SCAN`` in a thread, once
per ``discover_interval``. Redis going away, or not answering within ``socket_timeout``
beyond the wait, is reported to ``failed`` (anything else is logged as a bug), and the
follower connects again after ``retry_after``, from where it was. A TLS (``rediss://``)
or Unix-socket URL, and a Cluster, are followed by a thread instead (``address`` returns
None).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import hiredis
from redis.connection import parse_url

from arbitrex.errors import StoreError
from arbitrex.model.tick import Tick

__all__ = ["Address", "Connection", "address", "follow", "wait_then_read"]

log = logging.getLogger(__name__)


class Address(NamedTuple):
    host: str
    port: int
    username: str | None
    password: str | None
    db: int


def address(url: str) -> Address | None:
    """Where a plain TCP connection reaches the Redis of ``url``; None for TLS or a Unix
    socket (a thread follows those)."""
    parts: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]  # redis-py: untyped
    if "connection_class" in parts:  # SSLConnection or UnixDomainSocketConnection
        return None
    return Address(parts.get("host", "localhost"), int(parts.get("port", 6379)),
                   parts.get("username"), parts.get("password"), int(parts.get("db", 0)))


def wait_then_read(cursor: dict[str, str], *, block_ms: int, limit: int
                   ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The two commands a follower sends together: a blocked ``XREAD`` that is only the
    wait (Redis < 7.2 answers it with the one stream that woke it, and a batch spans
    several), then an ``XREAD`` of the batch from the same position, which Redis runs as
    soon as the first is answered: after the script, so its reply holds the whole batch."""
    names, ids = list(cursor), list(cursor.values())
    return (("XREAD", "COUNT", 1, "BLOCK", block_ms, "STREAMS", *names, *ids),
            ("XREAD", "COUNT", limit, "STREAMS", *names, *ids))


class Connection(asyncio.Protocol):
    """One Redis connection on the loop: commands out, each reply to its future in order."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        # per call: its future, and its replies so far, of how many
        self.waiting: collections.deque[tuple[asyncio.Future[list[Any]], list[Any], int]] = (
            collections.deque())
        self.transport: asyncio.Transport | None = None
        self.lost: StoreError | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if not self.waiting:  # a reply nobody asked for: the protocol is out of step
                self._lose(StoreError("Redis sent a reply that was not asked for"))
                return
            future, replies, count = self.waiting[0]
            replies.append(reply)
            if len(replies) == count:
                self.waiting.popleft()
                if not future.done():
                    future.set_result(replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(StoreError(f"the connection to Redis was lost: {exc or 'closed by Redis'}"))

    def _lose(self, error: StoreError) -> None:
        self.lost = self.lost or error
        while self.waiting:
            future, _, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)
        if self.transport is not None:
            self.transport.abort()

    async def call(self, *commands: Sequence[Any], within: float) -> list[Any]:
        """Send ``commands`` at once and wait for their replies; an error reply raises, and
        so does no answer ``within`` seconds (the connection is then dropped)."""
        if self.lost is not None or self.transport is None:
            raise self.lost or StoreError("not connected to Redis")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self.waiting.append((future, [], len(commands)))
        self.transport.write(b"".join(hiredis.pack_command(tuple(c)) for c in commands))
        late = loop.call_later(within, self._lose,
                               StoreError(f"Redis did not answer within {within:g} s"))
        try:
            replies = await future
        finally:
            late.cancel()
        for reply in replies:
            if isinstance(reply, hiredis.ReplyError):
                raise StoreError(f"Redis answered: {reply}")
        return replies

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(where: Address, *, timeout: float) -> Connection:
    """A connection, authenticated and on its database."""
    # The socket is connected in a thread (a blocking connect, rare), then handed to the
    # loop: no loop's own connect machinery is needed, so any loop will do.
    connecting = asyncio.ensure_future(asyncio.to_thread(
        socket.create_connection, (where.host, where.port), timeout))
    try:
        sock = await asyncio.shield(connecting)
    except asyncio.CancelledError:  # stopped meanwhile: close the socket when it comes
        connecting.add_done_callback(_close_late)
        raise
    except OSError as exc:
        raise StoreError(f"cannot connect to Redis at {where.host}:{where.port}: "
                         f"{exc}") from exc
    try:
        _, conn = await asyncio.get_running_loop().create_connection(Connection, sock=sock)
    except BaseException:
        sock.close()
        raise
    hello: list[Sequence[Any]] = []
    if where.password is not None:
        hello.append(("AUTH", where.username, where.password) if where.username
                     else ("AUTH", where.password))
    if where.db:
        hello.append(("SELECT", where.db))
    if hello:
        try:
            await conn.call(*hello, within=timeout)
        except BaseException:
            conn.close()
            raise
    return conn


def _close_late(connecting: asyncio.Future[socket.socket]) -> None:
    if not connecting.cancelled() and connecting.exception() is None:
        connecting.result().close()


Read = Callable[[Any, dict[str, str]], list[Tick]]


async def follow(where: Address, cursor: dict[str, str], dispatch: Callable[[list[Tick]], None],
                 *, read: Read, discover: Callable[[], list[str]], discover_interval: float,
                 limit: int, block_ms: int, connect_timeout: float, socket_timeout: float,
                 failed: Callable[[StoreError], None], retry_after: float) -> None:
    """Follow from ``cursor`` until cancelled (see the module). ``read`` parses a raw
    ``XREAD`` reply into ticks and moves the cursor; ``discover`` lists the stream keys."""
    known: list[str] = []  # the stream keys, as last discovered
    finder = asyncio.create_task(_discovering(known, discover, discover_interval, failed))
    try:
        while True:
            conn: Connection | None = None
            try:
                conn = await connect(where, timeout=connect_timeout)
                await _reading(conn, cursor, known, dispatch, read=read, limit=limit,
                               block_ms=block_ms, socket_timeout=socket_timeout)
            except StoreError as exc:
                failed(exc)
                await asyncio.sleep(retry_after)
            except Exception:  # a bug: say so, and keep following
                log.exception("reading the store failed, retrying in %g s", retry_after)
                await asyncio.sleep(retry_after)
            finally:
                if conn is not None:
                    conn.close()
    finally:
        finder.cancel()


async def _reading(conn: Connection, cursor: dict[str, str], known: list[str],
                   dispatch: Callable[[list[Tick]], None], *, read: Read, limit: int,
                   block_ms: int, socket_timeout: float) -> None:
    """Read on ``conn`` until it fails: each read the wait, then the batch (see the module)."""
    while True:
        for key in known:
            cursor.setdefault(key, "0-0")  # a stream that appeared since
        if not cursor:
            await asyncio.sleep(block_ms / 1000)
            continue
        _, replies = await conn.call(*wait_then_read(cursor, block_ms=block_ms, limit=limit),
                                     within=block_ms / 1000 + socket_timeout)
        ticks = read(replies, cursor) if replies else []
        if ticks:
            dispatch(ticks)


async def _discovering(known: list[str], discover: Callable[[], list[str]], interval: float,
                       failed: Callable[[StoreError], None]) -> None:
    """Keep ``known`` to the stream keys, looking in a thread every ``interval``."""
    while True:
        try:
            known[:] = await asyncio.to_thread(discover)
        except StoreError as exc:  # the read fails too, and says so
            failed(exc)
        except Exception:  # a bug: say so, and look again later
            log.exception("looking for new streams failed")
        await asyncio.sleep(interval)
