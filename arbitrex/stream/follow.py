"""How the hub learns of new ticks: it follows the store and hands each read to ``dispatch``.

A store whose ``follow`` never blocks (``NonBlocking``: SQLite, memory) is read on the
event loop itself, with no task and no thread hop: the loop reads when the store's
doorbell rings (``Rings``: SQLite's writer rings after each commit; the bell is a datagram
endpoint, which every asyncio loop has, Windows' proactor included), and a timer reads
every ``Trust.timeout`` besides (polling where there is no doorbell, or its writer does not
ring). A store that can be followed by the loop itself (``FollowsOnLoop``: Redis, on a
connection of its own whose socket the loop reads) is, with no thread. Else a store whose
``follow`` blocks (Redis ``XREAD`` on a Cluster, or over TLS) is read by one long-lived
thread of its own, which issues the next read as soon as it has handed a batch to the loop
(``call_soon_threadsafe``: no executor hop per read), at most ``HANDOVER`` batches ahead of
the loop. Either way a read that fails is logged and retried a second later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from arbitrex.errors import StoreError
from arbitrex.model.tick import Tick
from arbitrex.stores import doorbell
from arbitrex.stores.base import Bell, Follower, FollowsOnLoop, NonBlocking, Rings

__all__ = ["Dispatch", "InLoop", "RETRY_AFTER", "follow"]

log = logging.getLogger(__name__)

Dispatch = Callable[[Sequence[Tick]], None]
C = TypeVar("C")

# Timeouts
RETRY_AFTER = 1.0  # seconds after a failed read
# Limits
HANDOVER = 4  # batches a reading thread may hand to the loop before it waits


def _guarded(dispatch: Dispatch) -> Dispatch:
    def guarded(ticks: Sequence[Tick]) -> None:
        try:
            dispatch(ticks)
        except Exception:  # a bug, not the store: say so, and keep following
            log.exception("dispatching %d ticks failed", len(ticks))
    return guarded


def _failed(exc: StoreError) -> None:
    log.error("following the store failed, retrying in %g s: %s", RETRY_AFTER, exc)


async def follow(store: Follower[C], dispatch: Dispatch, stop: asyncio.Event, *,
                 limit: int, cursor: C | None = None) -> None:
    """Follow ``store`` from ``cursor`` (default: its head now) until ``stop`` is set."""
    if cursor is None:
        cursor = await asyncio.to_thread(store.head)
    if isinstance(store, FollowsOnLoop):
        run = store.on_loop(cursor, _guarded(dispatch), limit=limit, failed=_failed,
                            retry_after=RETRY_AFTER)
        if run is not None:
            task = asyncio.ensure_future(run)
            try:
                await stop.wait()
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            return
    if not isinstance(store, NonBlocking):
        await _in_thread(store, dispatch, stop, cursor, limit)
        return
    reader = InLoop(store, dispatch, cursor, limit=limit, poll_interval=store.poll_interval,
                    bell=store.listen() if isinstance(store, Rings) else None)
    try:
        await reader.start()
        await stop.wait()
    finally:
        reader.close()


async def _in_thread(store: Follower[C], dispatch: Dispatch, stop: asyncio.Event, cursor: C,
                     limit: int) -> None:
    """Read ``store`` in a thread of its own; each batch is dispatched on the loop."""
    loop = asyncio.get_running_loop()
    done = threading.Event()
    room = threading.Semaphore(HANDOVER)  # batches handed over and not yet dispatched

    def deliver(ticks: Sequence[Tick]) -> None:
        room.release()
        try:
            dispatch(ticks)
        except Exception:  # a bug, not the store: say so, and keep following
            log.exception("dispatching %d ticks failed", len(ticks))

    def read() -> None:
        at = cursor
        while not done.is_set():
            try:
                ticks, at = store.follow(at, timeout=0.2, limit=limit)
            except StoreError as exc:
                _failed(exc)
                done.wait(RETRY_AFTER)
                continue
            except Exception:  # a bug: say so, and keep the thread following
                log.exception("reading the store failed, retrying in %g s", RETRY_AFTER)
                done.wait(RETRY_AFTER)
                continue
            if ticks:
                while not room.acquire(timeout=0.2):  # the loop is behind: wait for it
                    if done.is_set():
                        return
                try:
                    loop.call_soon_threadsafe(deliver, ticks)
                except RuntimeError:  # the loop is closed: the server is stopping
                    return

    reader = threading.Thread(target=read, name="arbitrex-follow", daemon=True)
    reader.start()
    try:
        await stop.wait()
    finally:
        done.set()
        await asyncio.to_thread(reader.join, 2.0)


class InLoop(Generic[C]):
    """Reads a non-blocking store on the running loop when rung or timed (see the module)."""

    def __init__(self, store: Follower[C], dispatch: Dispatch, cursor: C, *, limit: int,
                 poll_interval: float, bell: Bell | None) -> None:
        self.store, self.dispatch, self.cursor, self.limit = store, dispatch, cursor, limit
        self.bell = bell
        # Without a doorbell nothing rings: never trusted, it polls every poll_interval.
        self.loop = asyncio.get_running_loop()
        self.trust = doorbell.Trust(poll_interval=poll_interval, since=self.loop.time())
        self.trust.trusted = bell is not None
        self.failed_at: float | None = None
        self.more: asyncio.Handle | None = None  # a read already scheduled
        self.endpoint: asyncio.DatagramTransport | None = None
        self.timer = self.loop.call_later(self.trust.timeout, self._on_timer)

    async def start(self) -> None:
        """Listen to the doorbell (a datagram endpoint on the bell's socket)."""
        if self.bell is not None:
            self.endpoint, _ = await self.loop.create_datagram_endpoint(
                lambda: _Rings(self._on_ring), sock=self.bell.sock)

    def _on_ring(self) -> None:
        """Rung: read soon, once for every ring that arrives meanwhile."""
        self.trust.rang(self.loop.time())
        if self.more is None:
            self.more = self.loop.call_soon(self.read)

    def _on_timer(self) -> None:
        found = self.read()
        self.trust.timed_out(found, self.loop.time())
        if self.bell is not None:
            self.bell.heartbeat()
        self.timer = self.loop.call_later(self.trust.timeout, self._on_timer)

    def read(self) -> bool:
        """Read what is new and dispatch it; whether there was any. A full read leaves the
        rest to a read scheduled right after (other work on the loop goes first)."""
        if self.more is not None:
            self.more.cancel()
            self.more = None
        now = self.loop.time()
        if self.failed_at is not None and now - self.failed_at < RETRY_AFTER:
            return False
        try:
            ticks, self.cursor = self.store.follow(self.cursor, timeout=0, limit=self.limit)
        except StoreError as exc:
            _failed(exc)
            self.failed_at = now
            return False
        self.failed_at = None
        if ticks:
            try:
                self.dispatch(ticks)
            except Exception:  # a bug, not the store: say so, and keep following
                log.exception("dispatching %d ticks failed", len(ticks))
        if len(ticks) >= self.limit:
            self.more = self.loop.call_soon(self.read)
        return bool(ticks)

    def close(self) -> None:
        self.timer.cancel()
        if self.more is not None:
            self.more.cancel()
        if self.endpoint is not None:
            self.endpoint.close()
        if self.bell is not None:
            self.bell.close()


class _Rings(asyncio.DatagramProtocol):
    def __init__(self, on_ring: Callable[[], None]) -> None:
        self.on_ring = on_ring

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.on_ring()

    def error_received(self, exc: Exception) -> None:  # e.g. a stray ICMP on Windows
        log.debug("doorbell: %s", exc)
