"""A smoke test of the main path on any OS (the GitHub workflow runs it on Windows and
Linux): collect (simulator) -> SQLite -> serve -> `tail --url`, then both stopped through
their stop pipes (as `up` stops its children), each exiting 0.

    python scripts/smoke.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arbitrex.runtime.stop import spawn, stop_children  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"smoke: serve did not listen on {port} in {timeout:.0f} s")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = dict(os.environ, SQLITE_PATH=str(Path(tmp) / "ticks.db"), WS_PORT=str(port))
        arbitrex = [sys.executable, "-m", "arbitrex"]
        children = {
            "collect": spawn([*arbitrex, "collect", "--source", "sim", "--symbols", "EURUSD",
                              "--rate", "50"], env=env),
            "serve": spawn([*arbitrex, "serve"], env=env),
        }
        try:
            wait_port(port)
            tail = subprocess.run([*arbitrex, "tail", "EURUSD", "--url",
                                   f"ws://127.0.0.1:{port}/ws", "--json", "--count", "5"],
                                  env=env, capture_output=True, text=True, timeout=60)
            lines = [json.loads(line) for line in tail.stdout.splitlines()]
            if tail.returncode != 0 or len(lines) != 5:
                print(tail.stderr, file=sys.stderr)
                raise SystemExit(f"smoke: tail exited {tail.returncode} with {len(lines)} ticks")
            seqs = [t["seq"] for t in lines]
            if seqs != list(range(seqs[0], seqs[0] + 5)):
                raise SystemExit(f"smoke: seqs not contiguous: {seqs}")
        finally:
            codes = stop_children(children, timeout=20)
    if any(code != 0 for code in codes.values()):
        raise SystemExit(f"smoke: exit codes after the stop: {codes}")
    print(f"smoke: ok (ticks {seqs[0]}..{seqs[-1]}; collect and serve stopped with 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
