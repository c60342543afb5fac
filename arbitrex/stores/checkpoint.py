"""WAL checkpoints beside the writer of a SQLite store, not inside its commits.

Left to itself, SQLite checkpoints in the commit that finds the WAL over 1,000 pages: that
commit copies the WAL into the database file before it returns, and every tick of that
batch waits for it (a few milliseconds every few seconds at 2,000 ticks/s, the slowest
commits by far). A ``Checkpointer`` takes this off the writer's path: a thread with a
connection of its own runs a PASSIVE checkpoint (which never waits for the writer or for
readers, and never makes them wait) every ``interval`` seconds while there are new
commits; the GIL is released while SQLite copies. The writer's own automatic checkpoint
stays, at ``BACKSTOP_PAGES``, for when the thread is stopped or cannot keep up.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

__all__ = ["BACKSTOP_PAGES", "Checkpointer", "INTERVAL"]

log = logging.getLogger(__name__)

# Limits
BACKSTOP_PAGES = 16_000  # the writer checkpoints itself past this WAL size (64 MiB pages)
# Timeouts
INTERVAL = 1.0  # seconds between checkpoints while there are new commits


class Checkpointer:
    """Checkpoints one SQLite file's WAL from a thread of its own (see the module)."""

    def __init__(self, path: Path, *, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0  # how many ran
        self._dirty = threading.Event()  # commits since the last checkpoint
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arbitrex-checkpoint",
                                        daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """The writer committed: checkpoint at the next interval."""
        self._dirty.set()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("checkpoints of %s stay in the writer's commits: %s", self.path, exc)
            return
        try:
            while not self._stop.wait(self.interval):
                if not self._dirty.is_set():
                    continue
                self._dirty.clear()
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # another checkpoint is running: next time
                    log.debug("checkpoint of %s: %s", self.path, exc)
                    self._dirty.set()
        finally:
            db.close()

    def close(self) -> None:
        """Stop the thread (a checkpoint under way finishes first)."""
        self._stop.set()
        self._thread.join(5.0)
