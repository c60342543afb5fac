"""Crash points for fault tests: ``crash_point("archive:renamed")`` kills the process at once
(SIGKILL: nothing flushed, nothing cleaned up) when ARBITREX_CRASH_AT names that point. The
tests of crash safety run real processes with it; otherwise it costs one dict lookup."""

from __future__ import annotations

import os
import signal

__all__ = ["crash_point"]


def crash_point(name: str) -> None:
    if os.environ.get("ARBITREX_CRASH_AT") == name:
        if hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(137)  # Windows: no SIGKILL; an exit that runs no cleanup
