"""The fan-out: follows the store, and delivers each tick to the clients subscribed to it.

Each tick is encoded once and written straight into each client's transport, like
``websockets.broadcast``, but with a bound: a client whose send buffer holds more than
``max_buffer`` bytes is slow. With ``slow_client="gap"`` its ticks are held back (only the
latest per stream) and, once it drains, it gets a ``gap`` frame and the latest tick; with
``"close"`` it is closed with 1008 and may resume with ``since``. The bound counts bytes
and frames (written since the buffer was last seen empty). A client that subscribed with
``"batch": true`` gets each dispatch's ticks in one ``{"type": "ticks", "data": [...]}``.
Snapshots and resumes read the store; a resume is sent in chunks that wait for the client
to drain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from arbitrex.errors import StoreError
from arbitrex.stores.base import TickStore
from arbitrex.stream import protocol as proto
from arbitrex.stream.follow import follow
from arbitrex.stream.metrics import ServerMetrics
from arbitrex.stream.session import Key, Session, runs_of
from arbitrex.tick import Tick, encode

log = logging.getLogger(__name__)


def text_frame(payload: bytes) -> bytes:
    """A server's WebSocket text frame on the wire: unmasked, unfragmented, no extension
    (RFC 6455 5.2). The same bytes serve every client, so a tick is framed once."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class Client:
    """A connection and its session."""

    __slots__ = ("conn", "session", "closing", "frames", "batch", "out")

    def __init__(self, conn: ServerConnection, session: Session) -> None:
        self.conn = conn
        self.session = session
        self.closing = False
        self.frames = 0  # frames written since the send buffer was last seen empty
        self.batch: list[bytes] = []  # tick records waiting for this dispatch's "ticks" frame
        self.out: list[bytes] = []  # framed messages waiting for flush()

    def buffered(self) -> int:
        transport = self.conn.transport
        size = transport.get_write_buffer_size() if transport is not None else 0
        if size == 0:
            self.frames = 0
        return size

    def over(self, max_bytes: int, max_frames: int) -> bool:
        """Whether the send buffer holds more than its bound (in bytes or in frames)."""
        return self.buffered() > max_bytes or self.frames >= max_frames

    def queue(self, frame: bytes) -> bool:
        """Queue one text message without writing it yet. False when not open."""
        return self.queue_all((frame,))

    def queue_all(self, frames: Sequence[bytes], wire: bytes | None = None) -> bool:
        """Queue text messages without writing them yet. ``wire`` is all of them already
        framed back to back (``text_frame``), used unless the connection negotiated an
        extension. False when the connection is not open."""
        conn = self.conn
        if self.closing or conn.protocol.state is not State.OPEN:
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

    def write(self, frame: bytes) -> bool:
        """Queue one text frame and write it now, without awaiting."""
        if not self.queue(frame):
            return False
        try:
            self.flush()
        except Exception as exc:
            log.debug("write failed: %s", exc)
            return False
        return True

    def flush_batch(self) -> None:
        if self.batch:
            self.write(proto.ticks_frame(self.batch))
            self.batch.clear()


class _Share:
    """What one dispatch sends to every client that gets the same ticks: the messages
    (one ``ticks`` frame for a batching client, else one per tick) and their wire bytes."""

    __slots__ = ("messages", "wire", "clients")

    def __init__(self, records: list[bytes], batch: bool) -> None:
        self.messages = [proto.ticks_frame(records)] if batch else records
        self.wire = b"".join(map(text_frame, self.messages))
        self.clients = 0  # how many it was queued for


class Hub:
    def __init__(
        self,
        store: TickStore,
        follower: TickStore,
        *,
        metrics: ServerMetrics | None = None,
        slow_client: str = "gap",
        # Limits
        max_buffer: int = 256 * 1024,
        max_frames: int = 4096,
        resume_chunk: int = 1000,
        follow_batch: int = 5000,
        # Timeouts
        drain_timeout: float = 30.0,
        flush_interval: float = 0.02,
        replay: bool = False,
    ) -> None:
        if slow_client not in ("gap", "close"):
            raise ValueError("slow_client must be 'gap' or 'close'")
        self.store = store
        self.follower = follower
        self.metrics = metrics or ServerMetrics()
        self.slow_client = slow_client
        self.max_buffer = max_buffer
        self.max_frames = max_frames
        self.resume_chunk = resume_chunk
        self.follow_batch = follow_batch
        self.drain_timeout = drain_timeout
        self.flush_interval = flush_interval
        self.extra = {"replay": True} if replay else {}
        self.clients: set[Client] = set()
        self.by_symbol: dict[str, set[Client]] = {}
        self._held = asyncio.Event()  # set when a client's ticks are held back
        self.metrics.buffered = self.buffered
        self._tasks: set[asyncio.Task[None]] = set()

    # Clients

    def add(self, client: Client) -> None:
        self.clients.add(client)
        self.metrics.clients = len(self.clients)

    def remove(self, client: Client) -> None:
        self.clients.discard(client)
        self._unindex(client, client.session.symbols)
        self.metrics.clients = len(self.clients)
        self._count_subscriptions()

    def _unindex(self, client: Client, symbols: Iterable[str]) -> None:
        """Take ``client`` out of the symbol -> subscribers index for ``symbols``."""
        for symbol in symbols:
            subscribers = self.by_symbol.get(symbol)
            if subscribers is not None:
                subscribers.discard(client)
                if not subscribers:
                    del self.by_symbol[symbol]

    def _count_subscriptions(self) -> None:
        self.metrics.subscriptions = sum(len(c) for c in self.by_symbol.values())

    def send_error(self, client: Client, code: str, message: str) -> None:
        self.metrics.errors[code] += 1
        client.write(proto.error_frame(code, message))

    def _venues_of(self, symbol: str) -> list[str]:
        return [v for v, s in self.store.streams() if s == symbol]

    def subscribe(self, client: Client, op: proto.Subscribe) -> None:
        session = client.session
        session.subscribe(op.symbols)  # raises ProtocolError past the cap
        session.batch = session.batch or op.batch
        for symbol in op.symbols:
            self.by_symbol.setdefault(symbol, set()).add(client)
        self._count_subscriptions()
        recovered: dict[str, bool] | None = {} if op.since is not None else None
        starts: list[tuple[Key, int]] = []  # streams to catch up, from seq
        snapshots: list[Tick] = []
        try:
            for symbol in op.symbols:
                for venue in self._venues_of(symbol):
                    key = (venue, symbol)
                    since = None
                    if op.since is not None:
                        since = op.since.get(f"{venue}:{symbol}", op.since.get(symbol))
                    if since is None:
                        if key not in session.sent:
                            tick = self.store.last(venue, symbol)
                            if tick is not None:
                                snapshots.append(tick)
                        continue
                    ok, start = self._resume_point(client, key, since)
                    if recovered is not None:
                        recovered[symbol] = recovered.get(symbol, True) and ok
                    if start is None:
                        tick = self.store.last(venue, symbol)
                        if tick is not None:
                            snapshots.append(tick)
                    else:
                        starts.append((key, start))
                if recovered is not None and symbol not in recovered:
                    recovered[symbol] = op.since is not None and op.since.get(symbol, 0) == 0
        except StoreError as exc:
            log.error("subscribe failed: %s", exc)
            self.send_error(client, "store_unavailable", "the store cannot be read; retry")
            return
        client.write(proto.subscribed_frame(op.symbols, recovered))
        for tick in snapshots:
            self._send_tick(client, tick, snapshot=True)
        for key, after in starts:
            session.sent[key] = after
            self._start_catch_up(client, key)

    def _resume_point(self, client: Client, key: Key, since: int) -> tuple[bool, int | None]:
        """(recovered, seq to resume after, or None for a snapshot instead)."""
        venue, symbol = key
        first = self.store.first_seq(venue, symbol)
        last = self.store.last(venue, symbol)
        if first is None or last is None:
            return since == 0, None
        if since > last.seq:
            return False, None  # the client is ahead of this store (a different store?)
        if since + 1 < first:
            self.metrics.gaps["history_trimmed"] += 1
            client.write(proto.gap_frame(venue, symbol, since + 1, first - 1, "history_trimmed"))
            return False, first - 1
        return True, since

    def unsubscribe(self, client: Client, op: proto.Unsubscribe) -> None:
        client.session.unsubscribe(op.symbols)
        self._unindex(client, op.symbols)
        self._count_subscriptions()
        client.write(proto.unsubscribed_frame(op.symbols))

    # Delivery

    def _send_tick(self, client: Client, tick: Tick, frame: bytes | None = None,
                   snapshot: bool = False, now: bool = True) -> None:
        """Send (``now``) or queue (until the caller flushes) one tick."""
        if frame is None:
            frame = encode(tick, **self.extra, **({"snapshot": True} if snapshot else {}))
        if client.session.batch and not snapshot:
            client.batch.append(frame)  # sent as one "ticks" frame at the end of the dispatch
            client.session.mark_sent(tick)
            self.metrics.ticks_out[tick.symbol] += 1
        elif client.write(frame) if now else client.queue(frame):
            client.session.mark_sent(tick)
            self.metrics.ticks_out[tick.symbol] += 1

    def _slow(self, client: Client) -> None:
        if self.slow_client == "close" and not client.closing:
            client.closing = True
            self.metrics.slow_closes += 1
            log.info("closing a slow client (buffer %d bytes)", client.buffered())
            self._spawn(client.conn.close(1008, "slow consumer: reconnect with since"))

    def dispatch(self, ticks: Sequence[Tick]) -> None:
        """Deliver freshly stored ticks (store order) to their subscribers: each client's
        share of one dispatch is decided at once (stream by stream, ``runs_of``) and
        written in one socket write. A tick is encoded once, and what a share puts on the
        wire is built once for every client that gets the same ticks."""
        metrics = self.metrics
        now_ns = time.time_ns()
        symbols = set()
        for tick in ticks:
            metrics.ticks_in[tick.symbol] += 1
            metrics.observe(tick.time_msc, tick.recv_ns, now_ns)
            symbols.add(tick.symbol)
        if ticks:
            metrics.last_tick_recv_ns = ticks[-1].recv_ns
            metrics.last_tick_time_msc = ticks[-1].time_msc
        interested: set[Client] = set()
        for symbol in symbols:
            interested.update(self.by_symbol.get(symbol, ()))
        runs = runs_of(ticks)
        frames: dict[int, bytes] = {}  # tick index -> its record, encoded once
        shares: dict[tuple[tuple[int, ...], bool], _Share] = {}  # (indices, batch) -> wire
        for client in interested:
            if client.closing:
                continue
            over = client.over(self.max_buffer, self.max_frames)
            session = client.session
            send, behind, held = session.plan(ticks, runs=runs, hold=over)
            for key in behind:
                self._spawn(self._catch_up(client, key))
            if held:
                self._held.set()  # the flush loop watches for this client to drain
                if over:
                    self._slow(client)
            if not send:
                continue
            which = (tuple(send), session.batch)
            share = shares.get(which)
            if share is None:
                for i in send:
                    if i not in frames:
                        frames[i] = encode(ticks[i], **self.extra)
                share = shares[which] = _Share([frames[i] for i in send], session.batch)
            if client.queue_all(share.messages, share.wire):
                share.clients += 1
            try:
                client.flush()
            except Exception as exc:  # the peer went away: its handler cleans up
                log.debug("flush failed: %s", exc)
        for (indices, _), share in shares.items():
            for i in indices:
                metrics.ticks_out[ticks[i].symbol] += share.clients

    def buffered(self) -> int:
        """Bytes waiting in all clients' send buffers."""
        return sum(client.buffered() for client in self.clients)

    def flush_pending(self) -> None:
        """Clients that were slow and have drained get their gap frames and latest ticks."""
        for client in self.clients:
            buffered = client.buffered()
            session = client.session
            if not session.pending or client.closing or buffered > self.max_buffer // 4 \
                    or client.frames >= self.max_frames // 4:
                continue
            for skipped, tick in session.take_pending():
                if skipped is not None:
                    self.metrics.gaps["slow_consumer"] += 1
                    client.flush_batch()
                    client.write(proto.gap_frame(tick.venue, tick.symbol, skipped[0],
                                                 skipped[1], "slow_consumer"))
                self._send_tick(client, tick)
            client.flush_batch()

    def _start_catch_up(self, client: Client, key: Key) -> None:
        if key in client.session.catching_up:
            return
        client.session.catching_up.add(key)
        self._spawn(self._catch_up(client, key))

    async def _catch_up(self, client: Client, key: Key) -> None:
        """Send ``key`` from the store after what the session holds as sent, chunk by chunk,
        until live delivery can take over. The key is in ``catching_up`` meanwhile."""
        session = client.session
        venue, symbol = key
        try:
            while symbol in session.symbols and not client.closing:
                if client.conn.protocol.state is not State.OPEN:
                    return  # the client left: nothing more to send
                after = session.sent.get(key, 0)
                ticks = self.store.read_after(venue, symbol, after, self.resume_chunk)
                self._send_chunk(client, ticks)
                if len(ticks) < self.resume_chunk:
                    return  # up to date: live dispatch continues from here
                if session.sent.get(key, 0) == after:
                    return  # nothing could be written: the connection is going away
                if not await self._drained(client):
                    self._slow(client)
                    return
        except StoreError as exc:
            log.error("resume of %s:%s failed: %s", venue, symbol, exc)
            self.send_error(client, "store_unavailable", f"resume of {symbol} failed; retry")
        finally:
            session.catching_up.discard(key)

    def _send_chunk(self, client: Client, ticks: list[Tick]) -> None:
        """Send one stream's ticks read from the store (a catch-up): to a batching client
        as one ``ticks`` frame."""
        if not ticks:
            return
        if not client.session.batch:
            for tick in ticks:
                self._send_tick(client, tick)
            return
        client.flush_batch()
        if client.write(proto.ticks_frame([encode(t, **self.extra) for t in ticks])):
            client.session.mark_sent(ticks[-1])
            self.metrics.ticks_out[ticks[-1].symbol] += len(ticks)

    async def _drained(self, client: Client) -> bool:
        """Wait until the client's send buffer is back under a quarter of its bound: on
        the transport's flow control (resume_writing) when it is paused, else briefly."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout
        conn = client.conn
        while client.buffered() > self.max_buffer // 4 or client.frames >= self.max_frames // 4:
            remaining = deadline - loop.time()
            if remaining <= 0 or conn.protocol.state is not State.OPEN:
                return False
            if conn.paused:  # over the transport's high-water mark: woken when it drains
                try:
                    await asyncio.wait_for(conn.drain(), remaining)
                except (TimeoutError, ConnectionError):
                    return False
            else:
                await asyncio.sleep(0.001)
        return True

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # The loops

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the store (``follow``) and flush slow clients until ``stop`` is set."""
        flusher = asyncio.ensure_future(self._flush_loop(stop))
        try:
            await follow(self.follower, self.dispatch, stop, limit=self.follow_batch)
        finally:
            flusher.cancel()
            for task in list(self._tasks):
                task.cancel()

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        """While some client has ticks held back, look every ``flush_interval`` whether it
        has drained; otherwise sleep until one has (an idle server does not wake)."""
        while not stop.is_set():
            if not any(c.session.pending for c in self.clients):
                self._held.clear()
                await self._held.wait()
            await asyncio.sleep(self.flush_interval)
            self.flush_pending()
