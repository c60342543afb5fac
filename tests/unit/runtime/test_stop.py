"""How every command stops: a signal sets one flag that threads and event loops wait on."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from arbitrex.runtime.stop import Stop, stop_signals


def test_the_stop_signals_are_those_the_os_has() -> None:
    names = {s.name for s in stop_signals()}
    assert {"SIGINT", "SIGTERM"} <= names
    assert ("SIGBREAK" in names) == hasattr(signal, "SIGBREAK")


POSIX = pytest.mark.skipif(os.name == "nt", reason="os.kill of a signal is POSIX's")


@POSIX
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_sets_the_flag_and_the_old_handler_comes_back(signum: int) -> None:
    before = signal.getsignal(signum)
    with Stop.on_signals() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), signum)
        assert stop.wait(5.0)
        assert stop.reason == signal.Signals(signum).name
    assert signal.getsignal(signum) is before


@POSIX
def test_a_second_ctrl_c_while_stopping_insists() -> None:
    with Stop.on_signals() as stop:
        stop.set("first")
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs in this thread: it raises before this ends


def test_an_event_loop_is_woken_from_another_thread() -> None:
    stop = Stop()

    async def main() -> float:
        started = time.monotonic()
        threading.Timer(0.05, stop.set, args=("timer",)).start()
        await asyncio.wait_for(stop.wait_async(), 5.0)
        return time.monotonic() - started

    assert asyncio.run(main()) < 2.0
    assert stop.reason == "timer"


def test_an_event_asked_for_after_the_stop_is_already_set() -> None:
    stop = Stop()
    stop.set("early")

    async def main() -> bool:
        return stop.async_event().is_set()

    assert asyncio.run(main())
    stop.set("again")  # a second set changes nothing
    assert stop.reason == "early"


def test_outside_the_main_thread_no_handler_is_installed() -> None:
    seen: list[bool] = []

    def worker() -> None:
        with Stop.on_signals() as stop:
            seen.append(stop.is_set())

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    assert seen == [False] and signal.getsignal(signal.SIGINT) is before
