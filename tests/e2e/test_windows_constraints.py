"""The forced-Windows run (scripts/test.sh) really forces Windows' constraints in the
processes under test: otherwise its passing would prove nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import clean_env

pytestmark = pytest.mark.skipif(os.environ.get("ARBITREX_FORCE_WINDOWS") != "1",
                                reason="only in the run with Windows' constraints forced")

PROBE = """
import asyncio, signal, socket
loop = asyncio.new_event_loop()
for call in (lambda: loop.add_signal_handler(signal.SIGINT, print),
             lambda: loop.add_reader(0, print),
             lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)):
    try:
        call()
        print("allowed")
    except (NotImplementedError, OSError) as exc:
        print(type(exc).__name__)
a, b = socket.socketpair()  # what asyncio itself needs still works
print("socketpair ok")
"""


def test_the_constraints_are_in_force_in_child_processes() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], env=clean_env(), capture_output=True,
                         text=True, timeout=30)
    assert out.stdout.split() == ["NotImplementedError", "NotImplementedError", "OSError",
                                  "socketpair", "ok"], out.stderr
