"""Child processes kept running: one worker per venue (the MetaTrader5 package is a
per-process singleton), or ``up``'s collect and serve.

``supervise`` starts a command per name, restarts one that dies (capped, jittered
``Backoff``), never restarts one that exits 0 (done) or 2 (bad configuration, e.g. a refused
login: retrying would only lock the account), and on stop asks every child to stop through
its stop pipe (``runtime.stop``: the same on every OS), waits for them to flush, and kills
one only after ``stop_timeout``.

What it knows of each child is in ``states`` (name -> ``running``, ``restart in 3 s``, ...),
for a status table; with ``output`` the children's log lines go through it (a reader
thread per child) instead of straight to the terminal, where they would tear a live table.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import IO

from arbitrex.runtime.backoff import Backoff
from arbitrex.runtime.stop import StopFlag, ask_to_stop, spawn, stop_children

__all__ = ["FINAL", "supervise"]

log = logging.getLogger(__name__)

#: Exit codes after which a worker is not started again: done, or bad configuration.
FINAL = (0, 2)


class _Worker:
    __slots__ = ("name", "command", "proc", "backoff", "start_at", "result")

    def __init__(self, name: str, command: Sequence[str], backoff: Backoff) -> None:
        self.name = name
        self.command = list(command)
        self.proc: subprocess.Popen[bytes] | None = None
        self.backoff = backoff
        self.start_at = 0.0
        self.result: int | None = None  # set once it will not be started again


def supervise(
    commands: Mapping[str, Sequence[str]],
    *,
    stop: StopFlag,
    env: Mapping[str, str] | None = None,
    # Retries
    backoff_initial: float = 1.0,
    backoff_max: float = 30.0,
    # Timeouts
    stop_timeout: float = 15.0,
    check_interval: float = 0.2,
    # What one child's end means for the others
    stop_all_on: tuple[int, ...] = (),
    # What the caller sees
    states: MutableMapping[str, str] | None = None,
    output: Callable[[str], None] | None = None,
) -> int:
    """Run until ``stop``, until every child has ended, or until one ends with a code in
    ``stop_all_on``; the worst exit code."""
    workers = [_Worker(name, command, Backoff(initial=backoff_initial, cap=backoff_max))
               for name, command in commands.items()]
    environ = dict(env) if env is not None else None
    shown = states if states is not None else {}
    while not stop.is_set():
        now = time.monotonic()
        for worker in workers:
            if worker.result is None:
                _tend(worker, now, environ, output)
            shown[worker.name] = _state(worker, now)
        if all(w.result is not None for w in workers):
            break
        ended = next((w for w in workers if w.result in stop_all_on), None)
        if ended is not None:
            log.error("%s ended with %d: stopping the others", ended.name, ended.result)
            break
        stop.wait(check_interval)
    running = {w.name: w.proc for w in workers if w.proc is not None}
    for name in running:
        shown[name] = "stopping"
    for name, code in stop_children(running, timeout=stop_timeout).items():
        next(w for w in workers if w.name == name).result = code
    return max((w.result or 0 for w in workers), default=0)


def _state(worker: _Worker, now: float) -> str:
    if worker.result is not None:
        return "done" if worker.result == 0 else f"stopped (exit {worker.result})"
    if worker.proc is not None:
        return "running"
    return f"restart in {max(0.0, worker.start_at - now):.0f} s"


def _relay(stream: IO[bytes], output: Callable[[str], None]) -> None:
    """A child's standard error, line by line, to ``output`` until it closes."""
    with stream:
        for raw in iter(stream.readline, b""):
            output(raw.decode(errors="replace").rstrip("\r\n"))


def _tend(worker: _Worker, now: float, env: dict[str, str] | None,
          output: Callable[[str], None] | None) -> None:
    """Start a worker that is due, and look at one that runs."""
    if worker.proc is None:
        if now >= worker.start_at:
            worker.proc = spawn(worker.command, env=env, capture=output is not None)
            if output is not None and worker.proc.stderr is not None:
                threading.Thread(target=_relay, args=(worker.proc.stderr, output),
                                 name=f"{worker.name} log", daemon=True).start()
            log.info("%s: started (pid %d)", worker.name, worker.proc.pid)
        return
    code = worker.proc.poll()
    if code is None:
        return
    ask_to_stop(worker.proc)  # it has ended: this closes its end of the stop pipe
    worker.proc = None
    if code in FINAL:
        worker.result = code
        if code == 2:
            log.error("%s: stopped on a configuration error (see above); not restarted",
                      worker.name)
        return
    delay = worker.backoff.next()
    worker.start_at = now + delay
    log.warning("%s: exited with %d; restart %d in %.1f s", worker.name, code,
                worker.backoff.attempt, delay)
