"""How every process stops: one mechanism, the same on every OS.

``Stop`` turns Ctrl-C (SIGINT), SIGTERM where the OS has it, and on Windows Ctrl-Break
(SIGBREAK) and closing the console window into one flag. Handlers are installed with
``signal.signal``, which exists everywhere (asyncio's ``loop.add_signal_handler`` does not
exist on Windows), and the flag wakes whoever waits for it: threads through a
``threading.Event``, event loops through ``call_soon_threadsafe`` (which both asyncio loops,
selector and proactor, wake for). Closing the console (or logging off, or shutting down)
is not a signal Python can handle: the C runtime turns it into a SIGBREAK flag and Windows
ends the process at once. So on Windows a console control handler of our own sets the stop
and holds the close until the block has ended (Windows allows about 5 seconds).

    with Stop.on_signals() as stop:
        while not stop.wait(1.0): ...          # threads
        await stop.wait_async()                 # a coroutine

A second Ctrl-C while stopping raises KeyboardInterrupt: the user insists.

Child processes (``collect``'s workers, ``up``'s collect and serve) are told to stop the same
way on every OS too, through a stop pipe: ``spawn`` starts a child with a pipe as its
standard input (and in a process group of its own, so that the console's Ctrl-C reaches
only the parent, which then stops the children in order); ``ask_to_stop`` closes the pipe;
the child's ``Stop.on_signals`` sees the end of its input and stops, flushing as on Ctrl-C.
A parent that dies closes the pipe too. (SIGTERM to a child would be TerminateProcess on
Windows: no flush.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol

__all__ = ["STOP_PIPE", "Stop", "StopFlag", "ask_to_stop", "spawn", "stop_children", "stop_signals"]

log = logging.getLogger(__name__)


class StopFlag(Protocol):
    """What a loop needs of a stop: a ``Stop``, or a plain ``threading.Event`` in tests."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def stop_signals() -> list[signal.Signals]:
    """The signals that ask a process to stop here: SIGINT, SIGTERM, and SIGBREAK (Windows)."""
    names = ("SIGINT", "SIGTERM", "SIGBREAK")
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


class Stop:
    """A stop flag that threads and event loops can wait on; ``set`` from anywhere."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.reason = ""

    def set(self, reason: str = "") -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed: nobody waits there any more
                pass

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds; whether stop was asked."""
        return self._event.wait(timeout)

    def async_event(self) -> asyncio.Event:
        """An asyncio.Event of the running loop that is set when this stop is."""
        event = asyncio.Event()
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._event.is_set():
                event.set()
            else:
                self._waiters.append((loop, event))
        return event

    async def wait_async(self) -> None:
        await self.async_event().wait()

    # Signals

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # Ctrl-C again: the user insists
        log.debug("%s: stopping", name)
        self.set(name)

    @classmethod
    @contextmanager
    def on_signals(cls) -> Iterator[Stop]:
        """A Stop set by the stop signals while the block runs; the previous handlers are
        restored after. Outside the main thread (where Python allows no handler) the Stop
        is only set by code. In a child started by ``spawn`` the end of the stop pipe sets
        it too."""
        stop = cls()
        previous: dict[signal.Signals, Any] = {}
        if os.environ.get(STOP_PIPE) == "1":
            _watch_stop_pipe(stop)
        done = threading.Event()
        release: Callable[[], None] | None = None
        if sys.platform == "win32":
            release = _hold_console_close(stop, done)
        if threading.current_thread() is threading.main_thread():
            for signum in stop_signals():
                previous[signum] = signal.signal(signum, stop._on_signal)
        try:
            yield stop
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            done.set()  # flushed: a console close held meanwhile may end the process now
            if release is not None:
                release()


# Windows: closing the console

if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _CLOSE_EVENTS = (2, 5, 6)  # CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT
    _CLOSE_GRACE = 4.5  # seconds: Windows ends the process about 5 s after a close
    _HandlerRoutine = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)

    def _hold_console_close(stop: Stop, done: threading.Event) -> Callable[[], None]:
        """Until ``release()``: a console close sets ``stop`` and waits for ``done``."""

        def on_event(event: int) -> bool:
            if event not in _CLOSE_EVENTS:
                return False  # Ctrl-C, Ctrl-Break: the C runtime's SIGINT / SIGBREAK
            stop.set("console closed")
            done.wait(_CLOSE_GRACE)
            return True

        handler = _HandlerRoutine(on_event)  # kept referenced until released
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        if not kernel32.SetConsoleCtrlHandler(handler, True):
            log.debug("no console control handler: %s", ctypes.get_last_error())
            return lambda: None

        def release() -> None:
            kernel32.SetConsoleCtrlHandler(handler, False)

        return release


# Children

#: Set to "1" in a child's environment by ``spawn``: its standard input is the stop pipe.
STOP_PIPE = "ARBITREX_STOP_PIPE"


def _watch_stop_pipe(stop: Stop) -> None:
    """Stop when the parent closes our standard input (or writes to it). The descriptor is
    read directly: a thread blocked in ``sys.stdin``'s buffered reader would hold its lock
    and abort the interpreter's shutdown."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # no usable stdin: nothing to watch
        return

    def watch() -> None:
        try:
            os.read(fd, 64)  # returns on data or at the end of the pipe
        except OSError:
            return
        stop.set("asked by the parent process")

    threading.Thread(target=watch, name="stop-pipe", daemon=True).start()


def spawn(command: Sequence[str], *, env: Mapping[str, str] | None = None,
          capture: bool = False) -> subprocess.Popen[bytes]:
    """Start a child that ``ask_to_stop`` can stop cleanly on every OS (see the module);
    with ``capture``, its standard error (where it logs) is a pipe for the parent to read."""
    environ = dict(os.environ if env is None else env, **{STOP_PIPE: "1"})
    stderr = subprocess.PIPE if capture else None
    if sys.platform == "win32":
        return subprocess.Popen(list(command), env=environ, stdin=subprocess.PIPE,
                                stderr=stderr,
                                creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
    return subprocess.Popen(list(command), env=environ, stdin=subprocess.PIPE, stderr=stderr,
                            start_new_session=True)


def ask_to_stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask a child started by ``spawn`` to stop (it flushes, then exits 0)."""
    if proc.stdin is not None and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError:  # it is gone already
            pass


def stop_children(procs: Mapping[str, subprocess.Popen[bytes]], *, timeout: float
                  ) -> dict[str, int]:
    """Ask every child to stop, wait up to ``timeout`` seconds in all for them to flush,
    kill those that do not; their exit codes."""
    for proc in procs.values():
        ask_to_stop(proc)
    deadline = time.monotonic() + timeout
    codes: dict[str, int] = {}
    for name, proc in procs.items():
        try:
            codes[name] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("%s did not stop in %.0f s; killed", name, timeout)
            proc.kill()
            codes[name] = proc.wait()
    return codes
