"""One worker per venue: restarted when it dies, never after a configuration error, asked
to stop (and to flush) on stop, killed only when it will not."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from arbitrex.collect.supervisor import supervise


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_configuration_error_is_final_and_the_others_go_on(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    stop = threading.Event()
    crashing = py(f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(1)")
    timer = threading.Timer(3.0, stop.set)
    timer.start()
    try:
        code = supervise({"bad": py("raise SystemExit(2)"), "crashy": crashing}, stop=stop,
                         backoff_initial=0.05, backoff_max=0.2, check_interval=0.02)
    finally:
        timer.cancel()
    assert code == 2  # the worst exit code: the configuration error
    assert len(runs.read_text()) >= 3  # the crashing one was restarted, again and again


def test_every_worker_done_ends_supervision() -> None:
    started = time.monotonic()
    code = supervise({"a": py("pass"), "b": py("pass")}, stop=threading.Event(),
                     check_interval=0.02)
    assert code == 0 and time.monotonic() - started < 10


def test_stop_asks_workers_through_the_stop_pipe_and_kills_one_that_will_not(
        tmp_path: Path) -> None:
    flushed = tmp_path / "flushed"
    # A worker stops the way every arbitrex command does: its Stop sees the stop pipe close.
    polite = py("from arbitrex.runtime.stop import Stop\n"
                "with Stop.on_signals() as stop:\n"
                f"    open({str(tmp_path / 'ready-polite')!r}, 'w')\n"
                "    stop.wait(30)\n"
                f"    open({str(flushed)!r}, 'w').write(stop.reason)\n")
    stubborn = py("import signal, time\n"  # deaf to its stop pipe, and to SIGTERM
                  "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                  f"open({str(tmp_path / 'ready-stubborn')!r}, 'w')\n"
                  "while True: time.sleep(0.05)")
    stop = threading.Event()

    def stop_when_ready() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
                (tmp_path / "ready-polite").exists() and (tmp_path / "ready-stubborn").exists()):
            time.sleep(0.02)
        stop.set()

    threading.Thread(target=stop_when_ready, daemon=True).start()
    started = time.monotonic()
    code = supervise({"polite": polite, "stubborn": stubborn}, stop=stop, stop_timeout=1.0,
                     check_interval=0.02)
    assert flushed.read_text() == "asked by the parent process"
    assert code == 0  # the polite one exited 0; the killed one's -9 is not a failure code
    assert time.monotonic() - started < 25
