"""One writer per venue: a collector holds its venue's lease in the store while it runs.

Two collectors writing one venue would interleave two price paths in one stream. So a
collector takes the venue's lease before it reads its source (``hold``), renews it every
``beat`` seconds from a thread of its own, and gives it up when it stops. A second collector
is refused with ``VenueHeld`` (exit 2), naming the holder. A holder that died frees the venue:

- on this host at once: its process is gone (``psutil``, the same on Windows and Linux; the
  process's start time tells a reused pid from the holder), so a supervisor's restart of a
  worker killed with -9 takes over without waiting;
- from another host (Redis), or a holder frozen: once its heartbeat is ``ttl`` old (Redis
  expires the key by itself).

A holder that finds its lease taken over (it was frozen longer than ``ttl``, say) must stop:
``Held.lost`` names the new holder (the collector's loop watches it).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

import psutil

from arbitrex.errors import StoreError, VenueHeld
from arbitrex.stores.base import Lease, Leases

__all__ = ["BEAT", "Held", "TTL_MS", "alive", "claim", "describe", "gone", "hold", "now_ms"]

log = logging.getLogger(__name__)

#: A lease whose heartbeat is this old is free (Redis: the key's TTL).
TTL_MS = 5_000
#: How often the holder renews it.
BEAT = 1.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def claim(venue: str) -> Lease:
    """This process's claim on ``venue``."""
    started = psutil.Process().create_time()
    return Lease(venue, socket.gethostname(), os.getpid(), started, uuid.uuid4().hex,
                 now_ms(), now_ms())


def alive(pid: int, started: float) -> bool:
    """Whether the process ``pid`` that started at ``started`` still runs (here)."""
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process: it exists
        return True


def gone(holder: Lease, *, ttl_ms: int = TTL_MS, at_ms: int | None = None) -> bool:
    """Whether ``holder`` no longer holds its venue: its heartbeat is ``ttl_ms`` old, or it
    ran on this host and its process has ended."""
    if (at_ms if at_ms is not None else now_ms()) - holder.beat_ms > ttl_ms:
        return True
    return holder.host == socket.gethostname() and not alive(holder.pid, holder.started)


def describe(holder: Lease, *, at_ms: int | None = None) -> str:
    """``pid 1234 on host box (since 2026-12-03T03:40:12Z, heartbeat 0.4 s ago)``."""
    since = datetime.fromtimestamp(holder.since_ms / 1000, timezone.utc)
    age = ((at_ms if at_ms is not None else now_ms()) - holder.beat_ms) / 1000
    return (f"pid {holder.pid} on host {holder.host} (since "
            f"{since.strftime('%Y-%m-%dT%H:%M:%SZ')}, heartbeat {age:.1f} s ago)")


class Held:
    """A venue's lease, taken: renewed from a thread once started, until released. When it
    is lost to another collector, ``lost`` names who took it."""

    def __init__(self, leases: Leases, mine: Lease, *, ttl_ms: int, beat: float) -> None:
        self.leases = leases
        self.mine = mine
        #: The holder's state, written with each heartbeat (for ``collect``'s table).
        self.state: Callable[[], str] = lambda: ""
        self.ttl_ms = ttl_ms
        self.beat = beat
        self.lost: Lease | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease {mine.venue}",
                                        daemon=True)

    def start(self) -> None:
        """Renew it from now on."""
        self._thread.start()

    def release(self) -> None:
        """Stop renewing it and give it up (if it is still ours); once."""
        if self._done.is_set():
            return
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.lost is None:
            try:
                self.leases.release_lease(self.mine)
            except StoreError as error:  # it expires by itself
                log.warning("could not give up the lease on venue %s: %s", self.mine.venue,
                            error)

    def _renew(self) -> None:
        failing = False
        while not self._done.wait(self.beat):
            try:
                self.mine = self.mine._replace(state=self.state())
                holder = self.leases.renew_lease(self.mine, ttl_ms=self.ttl_ms)
            except StoreError as exc:  # the store is away: nobody else can take it either
                if not failing:
                    log.warning("cannot renew the lease on venue %s (%s); trying again",
                                self.mine.venue, exc)
                failing = True
                continue
            failing = False
            if holder is not None:
                self.lost = holder
                log.error("venue %s was taken over by %s: stopping", self.mine.venue,
                          describe(holder))
                return


def hold(leases: Leases, venue: str, *, where: str, ttl_ms: int = TTL_MS, beat: float = BEAT
         ) -> Held:
    """Take ``venue``'s lease (``where``: the store, for the message), or raise VenueHeld."""
    mine = claim(venue)
    holder = leases.take_lease(mine, ttl_ms=ttl_ms,
                               gone=lambda h: gone(h, ttl_ms=ttl_ms))
    if holder is not None:
        raise VenueHeld(venue, f"venue {venue} is already being collected into {where} by "
                        f"{describe(holder)}; stop that collector first (one collector per "
                        "venue and store), or collect under another venue name")
    return Held(leases, mine, ttl_ms=ttl_ms, beat=beat)
