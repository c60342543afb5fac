"""One worker process per venue: the MetaTrader5 package is a per-process singleton.

``supervise`` starts a command per venue, restarts one that dies (capped, jittered backoff),
never restarts one that exits 2 (bad configuration, e.g. a refused login: retrying would only
lock the account), and on stop sends SIGTERM to all and waits for them to flush.
"""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)


def supervise(
    commands: Mapping[str, Sequence[str]],
    *,
    stop: threading.Event,
    env: Mapping[str, str] | None = None,
    # Retries
    backoff_initial: float = 1.0,
    backoff_max: float = 30.0,
    # Timeouts
    stop_timeout: float = 15.0,
) -> int:
    """Run until ``stop`` or until every worker has ended; the worst exit code."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    restarts: dict[str, int] = {}
    next_start: dict[str, float] = dict.fromkeys(commands, 0.0)
    results: dict[str, int] = {}

    def start(name: str) -> None:
        procs[name] = subprocess.Popen(list(commands[name]), env=dict(env) if env else None)
        log.info("venue %s: worker started (pid %d)", name, procs[name].pid)

    while not stop.is_set():
        now = time.monotonic()
        for name in commands:
            if name in results:
                continue
            proc = procs.get(name)
            if proc is None:
                if now >= next_start[name]:
                    start(name)
                continue
            code = proc.poll()
            if code is None:
                continue
            del procs[name]
            if code in (0, 2):
                results[name] = code
                if code == 2:
                    log.error("venue %s: worker stopped on a configuration error (see above); "
                              "not restarted; the other venues go on", name)
                continue
            restarts[name] = restarts.get(name, 0) + 1
            delay = min(backoff_max, backoff_initial * 2 ** min(restarts[name] - 1, 10))
            delay *= 0.5 + random.random() / 2
            next_start[name] = now + delay
            log.warning("venue %s: worker exited with %d; restart %d in %.1f s", name, code,
                        restarts[name], delay)
        if len(results) == len(commands):
            break
        stop.wait(0.2)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + stop_timeout
    for name, proc in procs.items():
        try:
            results[name] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("venue %s: worker did not stop in %.0f s; killed", name, stop_timeout)
            proc.kill()
            results[name] = proc.wait()
    return max(results.values(), default=0)
