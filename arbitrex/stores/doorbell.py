"""A doorbell beside a SQLite file: the writer rings after each commit, followers wake.

Without it a follower must poll the file, which costs CPU even when nothing changes. With
it a follower sleeps until a commit is visible.

The same on every OS: each listener binds a UDP socket on the loopback (127.0.0.1, a port
the OS picks; both asyncio loops, Windows' proactor included, wait on datagram sockets) and
announces itself with an empty file in ``<db>.bell/`` named ``<pid>-<random>-<port>``,
which it touches every ``HEARTBEAT`` seconds. ``ring`` sends one byte to every announced
listener, after the commit returned, so a woken follower always finds the data. A file
older than ``STALE`` belongs to a listener that died without cleaning up (kill -9): it is
removed and no longer rung. Ringing never blocks and never fails the write: a full socket
buffer means its listener is awake already. A datagram from anyone else only causes a read.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

__all__ = ["Doorbell", "HEARTBEAT", "LOOPBACK", "Listener", "STALE", "Trust", "listen"]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Timeouts
HEARTBEAT = 5.0  # seconds between a listener's touches of its file
STALE = 30.0  # a file untouched this long is a dead listener's


def _bell_dir(db: Path) -> Path:
    return db.with_name(db.name + ".bell")


def _port_of(name: str) -> int | None:
    tail = name.rpartition("-")[2]
    return int(tail) if tail.isdigit() and 0 < int(tail) < 65536 else None


class Doorbell:
    """The writer's side."""

    # Limits
    RELIST = 0.5  # seconds: who listens is read again this often while ringing

    def __init__(self, db: Path) -> None:
        self.dir = _bell_dir(db)
        self._sock: socket.socket | None = None
        self._listed_at = -1e18
        self._ports: dict[str, int] = {}  # file name -> port

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._listed_at < self.RELIST:
            return
        self._listed_at = now
        try:
            entries = list(os.scandir(self.dir))
        except OSError:
            self._ports = {}  # nobody listens
            return
        ports, wall = {}, time.time()
        for entry in entries:
            port = _port_of(entry.name)
            try:
                fresh = wall - entry.stat().st_mtime < STALE
            except OSError:
                continue  # removed meanwhile
            if port is None or not fresh:
                self._forget(entry.name)
                continue
            ports[entry.name] = port
        self._ports = ports

    def ring(self) -> None:
        self._refresh()
        if not self._ports:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        for name, port in list(self._ports.items()):
            try:
                self._sock.sendto(b"!", (LOOPBACK, port))
            except BlockingIOError:
                pass  # the send buffer is full: the listeners have been rung
            except OSError as exc:
                log.debug("ringing %s failed: %s", name, exc)

    def _forget(self, name: str) -> None:
        self._ports.pop(name, None)
        try:
            (self.dir / name).unlink()
        except OSError:
            pass

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Listener:
    """A follower's side: ``sock`` receives a datagram when the writer has committed."""

    def __init__(self, db: Path) -> None:
        self.dir = _bell_dir(db)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            self.sock.bind((LOOPBACK, 0))
            port = self.sock.getsockname()[1]
            self.name = f"{os.getpid()}-{os.urandom(4).hex()}-{port}"
            self.path = self.dir / self.name
            self.path.touch()
        except OSError:
            self.sock.close()
            raise
        self._touched = time.monotonic()

    def take_all(self) -> bool:
        """Read every pending ring without waiting; whether there was one."""
        rang = False
        while True:
            try:
                self.sock.recv(64)
            except (BlockingIOError, InterruptedError):
                return rang
            except OSError:  # e.g. Windows' WSAECONNRESET after a stray ICMP
                return rang
            rang = True

    def heartbeat(self) -> None:
        """Touch the announcement every HEARTBEAT seconds, so that writers keep ringing."""
        now = time.monotonic()
        if now - self._touched >= HEARTBEAT:
            self._touched = now
            try:
                self.path.touch()
            except OSError as exc:  # its directory was removed: announce again
                log.debug("doorbell heartbeat failed (%s); announcing again", exc)
                try:
                    self.dir.mkdir(parents=True, exist_ok=True)
                    self.path.touch()
                except OSError:
                    pass

    def close(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass
        self.sock.close()


class Trust:
    """Whether a follower may sleep until rung, or must poll (pure; the hub keeps one).

    It trusts the bell until a wait that ended by timeout finds new ticks while nothing
    has rung for ``quiet`` seconds: the writer does not ring (an older collector, another
    machine). Then it polls: every ``poll_interval`` while ticks come, and less often the
    longer nothing comes (doubling up to ``idle_poll``), so an idle follower costs little;
    until it hears the bell again. A new listener is given ``quiet`` seconds from ``since``
    (when it began to listen) before ticks without a ring count: a writer finds a new
    listener within ``Doorbell.RELIST``."""

    def __init__(self, *, poll_interval: float, fallback: float = 0.25, quiet: float = 2.0,
                 idle_poll: float = 0.05, since: float = -1e18) -> None:
        self.poll_interval, self.fallback, self.quiet = poll_interval, fallback, quiet
        self.idle_poll = max(idle_poll, poll_interval)
        self.trusted = True
        self.last_ring = since
        self._interval = poll_interval

    @property
    def timeout(self) -> float:
        return self.fallback if self.trusted else self._interval

    def rang(self, now: float) -> None:
        if not self.trusted:
            log.info("the store's writer rings its doorbell: following without polling")
        self.trusted, self.last_ring = True, now

    def timed_out(self, found: bool, now: float) -> None:
        if found and self.trusted and now - self.last_ring > self.quiet:
            self.trusted = False
            log.info("new ticks arrived without a ring (an older collector, or another "
                     "machine?): polling every %g s while they come", self.poll_interval)
        self._interval = self.poll_interval if found else min(self._interval * 2,
                                                               self.idle_poll)


def listen(db: Path) -> Listener | None:
    """A listener for ``db``'s doorbell, or None where there can be none (the directory
    cannot be written, or no loopback socket): followers then poll."""
    try:
        return Listener(db)
    except OSError as exc:
        log.info("no doorbell for %s (%s): following by polling", db, exc)
        return None
