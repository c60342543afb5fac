"""collect's own archiving (RETAIN_DAYS): the archive engine in a child process (``python
-m arbitrex.archive``, given an ``ArchivePlan``) once at start and then once each UTC day,
so that the moving of old days never runs on the ingest path (its reads do not block the
writer under WAL; its deletes go in small transactions)."""

from __future__ import annotations

import logging
import subprocess
import time

from arbitrex.constants import DAY_MS
from arbitrex.plans import ArchivePlan
from arbitrex.runtime.stop import StopFlag

__all__ = ["AFTER_MIDNIGHT_S", "archive_once", "run_daily", "seconds_to_next_run"]

log = logging.getLogger(__name__)
AFTER_MIDNIGHT_S = 120.0  # the day's run starts this long after 00:00 UTC


def seconds_to_next_run(now_ms: int) -> float:
    return (DAY_MS - now_ms % DAY_MS) / 1000 + AFTER_MIDNIGHT_S


def run_daily(plan: ArchivePlan, stop: StopFlag) -> None:
    """Archive as ``plan`` says now and after each UTC midnight until stopped (a thread's
    target)."""
    while not stop.is_set():
        archive_once(plan, stop)
        stop.wait(seconds_to_next_run(int(time.time() * 1000)))


def archive_once(plan: ArchivePlan, stop: StopFlag) -> int | None:
    """One run of the archive engine in a child process; its exit code (None when stopped
    first)."""
    log.info("archiving days older than %d (RETAIN_DAYS) in a child process", plan.days)
    proc = subprocess.Popen(plan.command(), stdin=subprocess.DEVNULL)
    while proc.poll() is None:
        if stop.wait(0.5):
            proc.terminate()  # safe at any moment: the next run finishes the work
            proc.wait(10)
            return None
    if proc.returncode != 0:
        log.error("archiving failed (exit %d); collect goes on, and tries again tomorrow",
                  proc.returncode)
    return proc.returncode
