"""A doorbell beside a SQLite file: the writer rings after each commit, followers wake.

Without it a follower must poll the file (every millisecond, for low latency), which costs
CPU even when nothing changes. With it a follower sleeps until a commit is visible.

Each listener binds a Unix datagram socket in the abstract namespace (no path length
limit, nothing left on disk if it dies) and announces itself with an empty file in
``<db>.bell/``, named after the socket. ``ring`` sends one byte to every announced
listener, after the commit returned, so a woken follower always finds the data; a
listener whose socket is gone is forgotten (its file removed). Ringing never blocks and
never fails the write: a full socket means its listener is awake already.

Linux only (abstract sockets): elsewhere ``listen`` returns None and followers poll.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

SUPPORTED = sys.platform.startswith("linux")


def _bell_dir(db: Path) -> Path:
    return db.with_name(db.name + ".bell")


def _address(directory: Path, name: str) -> bytes:
    digest = hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:16]
    return b"\0arbitrex-bell-" + digest.encode() + b"-" + name.encode()


class Doorbell:
    """The writer's side."""

    def __init__(self, db: Path) -> None:
        self.dir = _bell_dir(db)
        self._sock: socket.socket | None = None
        self._seen: tuple[int, int] | None = None  # (mtime_ns, inode) of the listing cached
        self._listed_at = 0.0
        self._listeners: dict[str, bytes] = {}

    # Limits
    RELIST = 0.5  # seconds: a directory's mtime is coarse, so the listing is also re-read

    def _refresh(self) -> None:
        try:
            st = os.stat(self.dir)
        except OSError:
            self._listeners, self._seen = {}, None  # nobody listens
            return
        now = time.monotonic()
        if (st.st_mtime_ns, st.st_ino) == self._seen and now - self._listed_at < self.RELIST:
            return
        self._seen, self._listed_at = (st.st_mtime_ns, st.st_ino), now
        try:
            names = os.listdir(self.dir)
        except OSError:
            names = []
        self._listeners = {n: _address(self.dir, n) for n in names}

    def ring(self) -> None:
        if not SUPPORTED:
            return
        self._refresh()
        if not self._listeners:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        for name, address in list(self._listeners.items()):
            try:
                self._sock.sendto(b"!", address)
            except BlockingIOError:
                pass  # its queue is full: it has been rung and will read
            except (ConnectionRefusedError, FileNotFoundError):
                self._forget(name)
            except OSError as exc:
                log.debug("ringing %s failed: %s", name, exc)

    def _forget(self, name: str) -> None:
        self._listeners.pop(name, None)
        try:
            (self.dir / name).unlink()
        except OSError:
            pass

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Listener:
    """A follower's side: ``fileno`` becomes readable when the writer has committed."""

    def __init__(self, db: Path) -> None:
        self.dir = _bell_dir(db)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = f"{os.getpid()}-{os.urandom(4).hex()}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind(_address(self.dir, self.name))
        (self.dir / self.name).touch()

    def fileno(self) -> int:
        return self.sock.fileno()

    def take(self) -> bool:
        """Read one pending ring (a readable socket with more calls again); whether there
        was one."""
        try:
            self.sock.recv(64)
        except (BlockingIOError, InterruptedError):
            return False
        return True

    def take_all(self) -> bool:
        """Read every pending ring; whether there was one."""
        rang = False
        while self.take():
            rang = True
        return rang

    def close(self) -> None:
        try:
            (self.dir / self.name).unlink()
        except OSError:
            pass
        self.sock.close()


class Trust:
    """Whether a follower may sleep until rung, or must poll (pure; the hub keeps one).

    It trusts the bell until a wait that ended by timeout finds new ticks while nothing
    has rung for ``quiet`` seconds: the writer does not ring (an older collector, another
    machine). Then it polls every ``poll_interval`` until it hears the bell again."""

    def __init__(self, *, poll_interval: float, fallback: float = 0.25, quiet: float = 2.0
                 ) -> None:
        self.poll_interval, self.fallback, self.quiet = poll_interval, fallback, quiet
        self.trusted = True
        self.last_ring = -1e18

    @property
    def timeout(self) -> float:
        return self.fallback if self.trusted else self.poll_interval

    def rang(self, now: float) -> None:
        if not self.trusted:
            log.info("the store's writer rings its doorbell: following without polling")
        self.trusted, self.last_ring = True, now

    def timed_out(self, found: bool, now: float) -> None:
        if found and self.trusted and now - self.last_ring > self.quiet:
            self.trusted = False
            log.info("new ticks arrived without a ring (an older collector, or another "
                     "machine?): polling every %g s", self.poll_interval)


def listen(db: Path) -> Listener | None:
    """A listener for ``db``'s doorbell, or None where there is none (not Linux, or the
    directory cannot be written)."""
    if not SUPPORTED:
        return None
    try:
        return Listener(db)
    except OSError as exc:
        log.info("no doorbell for %s (%s): following by polling", db, exc)
        return None
