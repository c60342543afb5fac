"""The hub: follows the store, subscribes clients, and keeps every client's stream whole.

Live ticks go out through ``fanout.fan_out``, written straight into each client's transport
(``wire.py``), with a bound: a client whose send buffer holds more than ``max_buffer``
bytes (or ``max_frames`` frames) is slow. With ``slow_client="gap"`` its ticks are held
back (only the latest per stream) and, once it drains, it gets a ``gap`` frame and the
latest tick; with ``"close"`` it is closed with 1008 and may resume with ``since``. A
client that subscribed with ``"batch": true`` gets each dispatch's ticks in one
``{"type": "ticks", "data": [...]}``. What a subscription sends is decided by the session
(``Session.plan_subscribe``); snapshots and resumes read the store, and a resume is sent in
chunks that wait for the client to drain.

The cross-venue view (``"view": "best"``) is sent after the ticks of each dispatch: a
``best`` frame per changed symbol, cut from the state ``views.BestViews`` picks for the
client. A slow client's frames are not queued behind its backlog: it is owed the symbol,
and gets the state of the moment once it has drained.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any

from arbitrex.constants import STALE_AFTER_MS
from arbitrex.errors import StoreError
from arbitrex.model import Gap
from arbitrex.model.costs import NO_COSTS, Costs
from arbitrex.model.episode import Episode
from arbitrex.model.tick import Tick, encode, in_receipt_order
from arbitrex.stores.base import Follower, StreamReader
from arbitrex.stream import protocol as proto
from arbitrex.stream.episodes import LiveEpisodes
from arbitrex.stream.fanout import Fanned, fan_out
from arbitrex.stream.follow import follow
from arbitrex.stream.index import Connection, Index
from arbitrex.stream.metrics import ServerMetrics
from arbitrex.stream.session import Bounds, Key, Session, since_of
from arbitrex.stream.views import BestViews
from arbitrex.stream.wire import kept, text_frame

__all__ = ["Hub", "Pack"]

log = logging.getLogger(__name__)


class Pack:
    """A client's ``best`` frames of one dispatch, them framed for the wire, and how many
    clients it was queued to (counted once per dispatch, not per client)."""

    __slots__ = ("symbols", "messages", "wire", "clients")

    def __init__(self, frames: Iterable[tuple[str, tuple[bytes, bytes] | None]]) -> None:
        present = [(symbol, frame) for symbol, frame in frames if frame is not None]
        self.symbols = [s for s, _ in present]
        self.messages = [f[0] for _, f in present]
        self.wire = b"".join(f[1] for _, f in present)
        self.clients = 0


class Hub:
    def __init__(
        self,
        store: StreamReader,
        follower: Follower[Any],
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
        stale_after_ms: int = STALE_AFTER_MS,
        costs: Costs = NO_COSTS,
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
        # a replay is followed from its first tick, whenever the server starts reading it:
        # every replayed tick is dispatched (and makes its episodes' states)
        self.start: Any = follower.head() if replay else None
        self.index = Index()
        self.views = BestViews(store, stale_after_ms=stale_after_ms, costs=costs)
        self.metrics.top_edges = self.top_edges
        self.episodes = LiveEpisodes(self.metrics, stale_after_ms=stale_after_ms, costs=costs)
        self._held = asyncio.Event()  # set when a client's ticks are held back
        self.metrics.buffered = self.buffered
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def clients(self) -> set[Connection]:
        return self.index.clients

    def reader_behind(self) -> bool:
        """Whether a client that reads is more than half its send buffer behind (one that
        stopped reading is already held back: it does not count). The replay server waits
        while this holds (backpressure for ``--speed max``)."""
        return any(c.buffered() > self.max_buffer // 2 and not c.session.pending
                   for c in self.clients)

    # Clients

    def add(self, client: Connection) -> None:
        self.index.add(client)
        self.metrics.clients = len(self.index.clients)

    def remove(self, client: Connection) -> None:
        self.index.remove(client)
        self.metrics.clients = len(self.index.clients)
        self.metrics.subscriptions = self.index.subscriptions()

    def send_error(self, client: Connection, code: str, message: str) -> None:
        self.metrics.errors[code] += 1
        client.send(proto.error_frame(code, message))

    def subscribe(self, client: Connection, op: proto.Subscribe) -> None:
        if op.view == "best":
            self._subscribe_best(client, op.symbols)
            return
        if op.view == "episodes":
            self._subscribe_episodes(client, op.symbols)
            return
        session = client.session
        session.subscribe(op.symbols)  # raises ProtocolError past the cap
        session.batch = session.batch or op.batch
        self.index.subscribe(client, op.symbols)
        self.metrics.subscriptions = self.index.subscriptions()
        try:
            streams = self._streams_of(op.symbols)
            bounds = {key: self._bounds(key) for key in streams
                      if since_of(op.since, key) is not None}
            plan = session.plan_subscribe(op.symbols, streams, op.since, bounds)
            snapshots = [t for t in (self.store.last(*key) for key in plan.snapshots)
                         if t is not None]
        except StoreError as exc:
            log.error("subscribe failed: %s", exc)
            self.send_error(client, "store_unavailable", "the store cannot be read; retry")
            return
        client.send(proto.subscribed_frame(op.symbols, plan.recovered))
        for gap in plan.gaps:
            self.metrics.gaps["history_trimmed"] += 1
            client.send(proto.gap_frame(gap))
        for tick in snapshots:
            self._send_tick(client, tick, snapshot=True)
        for key, after in plan.resumes:
            session.sent[key] = after
            self._start_catch_up(client, key)
        for symbol in op.symbols:
            if symbol in session.best:  # now held in both views: cut from what was sent
                self._send_best(client, symbol)

    def _subscribe_best(self, client: Connection, symbols: tuple[str, ...]) -> None:
        """The view of ``symbols``: ``subscribed``, then the state of each (a snapshot)."""
        session = client.session
        session.subscribe(symbols, "best")  # raises ProtocolError past the cap
        self.index.subscribe(client, symbols, "best")
        self.metrics.subscriptions = self.index.subscriptions()
        try:
            streams = self._streams_of(symbols)
            for symbol in symbols:
                if session.both(symbol):
                    self.views.seed_session(session, symbol, streams)
                else:
                    self._seed(symbol, streams)
        except StoreError as exc:
            log.error("subscribe failed: %s", exc)
            self.send_error(client, "store_unavailable", "the store cannot be read; retry")
            return
        client.send(proto.subscribed_frame(symbols, view="best"))
        for symbol in symbols:
            self._send_best(client, symbol, snapshot=True)

    def _subscribe_episodes(self, client: Connection, symbols: tuple[str, ...]) -> None:
        """The episodes of ``symbols``: ``subscribed``, then the open ones (a snapshot)."""
        client.session.subscribe(symbols, "episodes")  # raises ProtocolError past the cap
        self.index.subscribe(client, symbols, "episodes")
        self.metrics.subscriptions = self.index.subscriptions()
        client.send(proto.subscribed_frame(symbols, view="episodes"))
        for frame in self.episodes.snapshot(symbols):
            client.send(frame)

    def _streams_of(self, symbols: Sequence[str]) -> list[Key]:
        """The stored (venue, symbol) streams of ``symbols``, in the order of ``symbols``."""
        venues: dict[str, list[str]] = {}
        for venue, symbol in self.store.streams():
            venues.setdefault(symbol, []).append(venue)
        return [(venue, symbol) for symbol in symbols for venue in venues.get(symbol, ())]

    def _bounds(self, key: Key) -> Bounds:
        last = self.store.last(*key)
        return Bounds(self.store.first_seq(*key), last.seq if last is not None else None)

    def unsubscribe(self, client: Connection, op: proto.Unsubscribe) -> None:
        client.session.unsubscribe(op.symbols, op.view)
        self.index.unsubscribe(client, op.symbols, op.view)
        self.metrics.subscriptions = self.index.subscriptions()
        client.send(proto.unsubscribed_frame(op.symbols, op.view))

    # Delivery

    def _send_tick(self, client: Connection, tick: Tick, *, snapshot: bool = False) -> None:
        """Send one tick now (a snapshot, or the latest held back); a batching client's
        live tick waits for the batch's ``ticks`` frame."""
        frame = encode(tick, **self.extra, **({"snapshot": True} if snapshot else {}))
        if client.session.batch and not snapshot:
            client.batch.append(frame)
        elif not client.send(frame):
            return
        client.session.mark_sent(tick)
        self.metrics.ticks_out[tick.symbol] += 1

    def _send_best(self, client: Connection, symbol: str, *, snapshot: bool = False) -> None:
        """Send the client's view of ``symbol`` now, after the ticks it was sent; a client
        over its bound is owed it instead (the state of the moment, once it drains)."""
        if client.closing:
            return
        if not snapshot and client.wire.over(self.max_buffer, self.max_frames):
            client.session.best_owed.add(symbol)
            self._held.set()
            return
        frame = self.views.frame(self.views.latest(client.session, symbol), symbol,
                                 snapshot=snapshot)
        if frame is not None:
            client.flush_batch()
            if client.queue(*frame):
                self.metrics.best_out[symbol] += 1
            client.flush()

    def top_edges(self) -> dict[str, float | None]:
        """Each symbol's top edge (for /metrics): every stored symbol's state is read once."""
        try:
            streams = self.store.streams()
            for symbol in {s for _, s in streams}:
                self._seed(symbol, streams)
        except StoreError as exc:
            log.debug("top edges from what was followed only: %s", exc)
        return self.views.top_edges()

    def _seed(self, symbol: str, streams: Sequence[Key]) -> None:
        """Seed the server's state of ``symbol`` from the store (``BestViews.seed``); a
        session in step with it takes a book of its own first (the state may move past
        what it was sent)."""
        if self.views.seeded(symbol):
            return
        for client in self.index.interested((symbol,), "best"):
            client.session.unshare()
        self.views.seed(symbol, streams)

    def _slow(self, client: Connection) -> None:
        if self.slow_client == "close" and not client.closing:
            client.closing = True
            self.metrics.slow_closes += 1
            log.info("closing a slow client (buffer %d bytes)", client.buffered())
            self._spawn(client.wire.close(1008, "slow consumer: reconnect with since"))

    def dispatch(self, ticks: Sequence[Tick]) -> None:
        """Deliver freshly stored ticks to their subscribers, in the order they were
        received, each tick's episode frames right after it. What is only counted is
        counted after the writes (``_account``): no client's write waits for it.

        The server's state of the view takes each part of the dispatch after the clients
        did: a session in step (``Session.shared``) that does not take the part whole
        copies the state as it was sent to it first."""
        now_ns = time.time_ns()
        ticks = in_receipt_order(ticks)
        changed: set[str] = set()
        touched: set[Connection] = set()
        written: list[int] = []  # when each client's write was handed to the kernel
        start = 0
        for i, episodes in self.episodes.take(ticks):
            watchers = self.index.interested((episodes[0].symbol,), "episodes")
            if watchers:  # cut here: the tick's frame, then its episodes
                self._fan_out(ticks[start:i + 1], touched, written, last=False)
                changed |= self.views.take(ticks[start:i + 1])
                start = i + 1
                touched.update(self._queue_episodes(episodes, watchers))
        if start < len(ticks):
            self._fan_out(ticks[start:], touched, written)
            changed |= self.views.take(ticks[start:])
        if changed:
            touched.update(self._queue_views(changed))
        clock = time.time_ns
        for client in touched:  # each client's dispatch, ticks then views, in one write
            client.flush()
            written.append(clock())  # handed to the kernel
        self._account(ticks, now_ns, written)

    def _account(self, ticks: Sequence[Tick], now_ns: int, written: list[int]) -> None:
        """Count a dispatch begun at ``now_ns``: its ticks, their latency then, and each
        client's write (``written``: when each was handed to the kernel)."""
        if not ticks:
            return
        metrics = self.metrics
        observe = metrics.observe
        counts = metrics.ticks_in
        for tick in ticks:
            counts[tick.symbol] += 1
            observe(tick.time_msc, tick.recv_ns, now_ns, tick.venue)
        metrics.last_tick_recv_ns = ticks[-1].recv_ns
        metrics.last_tick_time_msc = ticks[-1].time_msc
        oldest = min(t.recv_ns for t in ticks)
        since_receipt = metrics.written["receive"].observe
        since_dispatch = metrics.written["dispatch"].observe
        for at in written:
            since_receipt((at - oldest) / 1e9)
            since_dispatch((at - now_ns) / 1e9)

    def _fan_out(self, ticks: Sequence[Tick], touched: set[Connection], written: list[int],
                 *, last: bool = True) -> None:
        """Send ``ticks`` to their subscribers (``fan_out``: the ``last`` ticks of a dispatch
        are written at once to a client holding nothing else, the others' are queued in
        ``touched``) and see to what it left."""
        fanned: Fanned = fan_out(ticks, self.index.interested({t.symbol for t in ticks}),
                                 extra=self.extra, max_buffer=self.max_buffer,
                                 max_frames=self.max_frames, metrics=self.metrics, last=last)
        written += fanned.written
        for client, key in fanned.behind:
            self._spawn(self._catch_up(client, key))
        if fanned.held:
            self._held.set()  # the flush loop watches for the client to drain
        for client in fanned.slow:
            self._slow(client)
        touched.update(fanned.queued)

    def _queue_episodes(self, episodes: list[Episode], clients: set[Connection]
                        ) -> list[Connection]:
        """Queue one tick's episode frames to ``clients`` (owed to a client over its
        bound); the clients queued to."""
        messages = [kept(proto.episode_frame(e)) for e in episodes]  # a slow client keeps them
        wire = b"".join(map(text_frame, messages))
        queued = []
        for client in clients:
            if client.closing:
                continue
            if client.wire.over(self.max_buffer, self.max_frames):
                for message in messages:
                    client.session.owe_episode(message)
                self._held.set()
            elif client.wire.queue(messages, wire):
                queued.append(client)
        return queued

    def _queue_views(self, symbols: set[str]) -> list[Connection]:
        """Queue a ``best`` frame per changed symbol to each client holding its view (one
        owed instead to a client over its bound); the clients queued to.

        The server's state of each symbol is framed once. A client holding both views
        whose ticks sent are the server's latest (the usual case) gets that frame too; so
        clients holding the same symbols get the same bytes, joined once per dispatch."""
        watchers = self.index.interested(symbols, "best")
        if not watchers:
            return []  # nothing is framed for nobody
        views = self.views
        server = views.book.latest
        shared = {s: views.frame(server[s], s) for s in symbols if server.get(s)}
        every = tuple(sorted(symbols))
        packs: dict[tuple[str, ...], Pack] = {}  # held symbols -> their frames, all shared
        own_packs: list[Pack] = []
        queued = []
        max_buffer, max_frames = self.max_buffer, self.max_frames
        for client in watchers:
            session = client.session
            if client.closing:
                continue
            best = session.best
            held = every if symbols <= best else tuple(sorted(symbols.intersection(best)))
            if client.wire.over(max_buffer, max_frames):
                session.best_owed.update(held)
                self._held.set()
                continue
            own = () if session.in_step else self._own_states(session, held)
            if own:
                mine = session.book.latest
                pack = Pack((s, views.frame(mine.get(s, {}), s) if s in own else shared.get(s))
                            for s in held)
                own_packs.append(pack)
            else:
                pack = packs.get(held) or packs.setdefault(
                    held, Pack((s, shared.get(s)) for s in held))
            if pack.messages and client.wire.queue(pack.messages, pack.wire):
                pack.clients += 1
                queued.append(client)
        counts = self.metrics.best_out
        for pack in (*packs.values(), *own_packs):
            for symbol in pack.symbols:
                counts[symbol] += pack.clients
        return queued

    def _own_states(self, session: Session, held: Sequence[str]) -> list[str]:
        """Of ``held``, the symbols whose state for this session is not the server's (held
        in both views, and the ticks sent are not the server's latest). When there are
        none and every symbol it holds in both views agrees, the server's book stands for
        the session's (``Session.share``: its frames are the server's without comparing,
        until something other than a whole dispatch changes what it holds or was sent)."""
        mine, server = session.book.latest, self.views.book.latest
        both = session.symbols
        own = [s for s in held if s in both and mine.get(s) != server.get(s)]
        if not own and all(mine.get(s) == server.get(s)
                           for s in both.intersection(session.best)):
            session.share(self.views.book)
        return own

    def buffered(self) -> int:
        """Bytes waiting in all clients' send buffers."""
        return sum(client.buffered() for client in self.index.clients)

    def _drained_enough(self, client: Connection) -> bool:
        return (client.buffered() <= self.max_buffer // 4
                and client.wire.frames < self.max_frames // 4)

    def flush_pending(self) -> None:
        """Clients that were slow and have drained get their gap frames and latest ticks."""
        for client in self.index.clients:
            session = client.session
            if not session.owes() or client.closing or not self._drained_enough(client):
                continue
            for skipped, tick in session.take_pending():
                if skipped is not None:
                    self.metrics.gaps["slow_consumer"] += 1
                    client.flush_batch()
                    client.send(proto.gap_frame(Gap(tick.venue, tick.symbol, skipped[0],
                                                    skipped[1], "slow_consumer")))
                self._send_tick(client, tick)
            client.flush_batch()
            for symbol in session.take_owed():
                self._send_best(client, symbol)
            owed, dropped = session.take_owed_episodes()
            for frame in owed:
                client.send(frame)
            if dropped:  # what is open now, since some frames did not fit
                self.metrics.episode_frames_dropped += dropped
                log.info("a slow client missed %d episode frames: sent it a snapshot", dropped)
                for frame in self.episodes.snapshot(sorted(session.episodes)):
                    client.send(frame)

    # Catching up from the store

    def _start_catch_up(self, client: Connection, key: Key) -> None:
        if key in client.session.catching_up:
            return
        client.session.catching_up.add(key)
        self._spawn(self._catch_up(client, key))

    async def _catch_up(self, client: Connection, key: Key) -> None:
        """Send ``key`` from the store after what the session holds as sent, chunk by chunk,
        until live delivery can take over. The key is in ``catching_up`` meanwhile."""
        session = client.session
        venue, symbol = key
        try:
            while symbol in session.symbols and not client.closing and client.wire.is_open():
                after = session.sent.get(key, 0)
                ticks = self.store.read_after(venue, symbol, after, self.resume_chunk)
                self._send_chunk(client, ticks)
                if len(ticks) < self.resume_chunk:
                    return  # up to date: live dispatch continues from here
                if session.sent.get(key, 0) == after:
                    return  # nothing could be written: the connection is going away
                if not await client.wire.drained(max_bytes=self.max_buffer // 4,
                                                 max_frames=self.max_frames // 4,
                                                 timeout=self.drain_timeout):
                    self._slow(client)
                    return
        except StoreError as exc:
            log.error("resume of %s:%s failed: %s", venue, symbol, exc)
            self.send_error(client, "store_unavailable", f"resume of {symbol} failed; retry")
        finally:
            session.catching_up.discard(key)

    def _send_chunk(self, client: Connection, ticks: list[Tick]) -> None:
        """Send one stream's ticks read from the store (a catch-up): to a batching client
        as one ``ticks`` frame."""
        if not ticks:
            return
        if not client.session.batch:
            for tick in ticks:
                self._send_tick(client, tick)
        else:
            client.flush_batch()
            if client.send(proto.ticks_frame([encode(t, **self.extra) for t in ticks])):
                client.session.mark_sent(ticks[-1])
                self.metrics.ticks_out[ticks[-1].symbol] += len(ticks)
        if client.session.both(ticks[-1].symbol):
            self._send_best(client, ticks[-1].symbol)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # The loops

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the store (``follow``) and flush slow clients until ``stop`` is set. The
        episodes start from the latest stored tick of each stream, taken after the head the
        following starts at (a replay is followed from its first tick instead)."""
        cursor = self.start
        if cursor is None:
            try:
                cursor = await asyncio.to_thread(self.follower.head)
            except StoreError as exc:  # follow() waits for the store
                log.warning("the store cannot be read yet: %s", exc)
            self.episodes.seed(self.store)
        flusher = asyncio.ensure_future(self._flush_loop(stop))
        try:
            await follow(self.follower, self.dispatch, stop, limit=self.follow_batch,
                         cursor=cursor)
        finally:
            flusher.cancel()
            for task in list(self._tasks):
                task.cancel()

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        """While some client has ticks held back, look every ``flush_interval`` whether it
        has drained; otherwise sleep until one has (an idle server does not wake)."""
        while not stop.is_set():
            if not any(c.session.owes() for c in self.index.clients):
                self._held.clear()
                await self._held.wait()
            await asyncio.sleep(self.flush_interval)
            self.flush_pending()
