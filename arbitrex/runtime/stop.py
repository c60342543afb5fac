"""How every command stops: one mechanism, the same on every OS.

``Stop`` turns Ctrl-C (SIGINT), SIGTERM where the OS has it, and Ctrl-Break on Windows
(SIGBREAK) into one flag. Handlers are installed with ``signal.signal``, which exists
everywhere (asyncio's ``loop.add_signal_handler`` does not exist on Windows), and the flag
wakes whoever waits for it: threads through a ``threading.Event``, event loops through
``call_soon_threadsafe`` (which both asyncio loops, selector and proactor, wake for).

    with Stop.on_signals() as stop:
        while not stop.wait(1.0): ...          # threads
        await stop.wait_async()                 # a coroutine

A second Ctrl-C while stopping raises KeyboardInterrupt: the user insists.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol

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
        is only set by code."""
        stop = cls()
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in stop_signals():
                previous[signum] = signal.signal(signum, stop._on_signal)
        try:
            yield stop
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
