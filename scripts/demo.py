"""The main job, on any OS: set up .venv (once) and run `arbitrex up` on the embedded default.

    python3 scripts/demo.py            (Linux, macOS)
    py scripts\\demo.py                 (Windows PowerShell or cmd)

Three simulated brokers (icm, pepper, oanda: one price path, each with its own spread,
feed latency and pauses) collect into SQLite (data/ticks.db) while `serve` streams
it on http://127.0.0.1:8000/ (WS_PORT overrides the port; extra arguments go to
`arbitrex up`, e.g. --open). Ctrl-C stops both, cleanly.

Any stop reaches `up`: Ctrl-C, SIGINT or SIGTERM sent to this script (and on Windows
Ctrl-Break or closing the console) ask `up` to stop the way arbitrex's own parents ask their
children (it is started with a stop pipe as its standard input, closed to ask it: the same
on every OS), and this script waits for it and exits with its code. A second Ctrl-C
insists. A set-up failure (no venv support, no pip, no network) is one line with the fix.
This script runs on the system's Python: it imports nothing of arbitrex.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
#: What the last install was made from: pyproject.toml unchanged means nothing to install.
STAMP = VENV / ".arbitrex-installed"
REMOVE_VENV = "rmdir /s /q .venv" if os.name == "nt" else "rm -rf .venv"


class SetupFailed(Exception):
    """A set-up step failed: the message is one line with the fix."""


def create_venv() -> None:
    print("creating .venv ...", file=sys.stderr)
    try:
        venv.EnvBuilder(with_pip=True).create(VENV)
    except (subprocess.CalledProcessError, OSError) as exc:
        hint = ("on Debian/Ubuntu, install the venv package first: sudo apt install "
                f"python3-venv (or python3.{sys.version_info.minor}-venv), then "
                if sys.platform.startswith("linux") else "")
        raise SetupFailed(f"cannot create .venv with pip in it ({exc}); {hint}remove the "
                          f"half-made folder ({REMOVE_VENV}) and run this again") from None


def install() -> None:
    """pip install -e . into .venv, unless pyproject.toml has not changed since."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    has_pip = subprocess.run([str(PYTHON), "-m", "pip", "--version"],
                             capture_output=True).returncode == 0
    if not has_pip:
        raise SetupFailed(f".venv has no pip; remove it ({REMOVE_VENV}) and run this again "
                          "(on Debian/Ubuntu, with python3-venv installed)")
    print("installing arbitrex into .venv ...", file=sys.stderr)
    result = subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet",
                             "--disable-pip-version-check", "-e", str(ROOT)])
    if result.returncode != 0:
        raise SetupFailed("pip could not install arbitrex and its dependencies (its message "
                          "is above): check the network or proxy (pip's --proxy, or "
                          "HTTPS_PROXY), then run this again")
    # the fast event loop (arbitrex[fast]) where a wheel exists for this Python and OS
    fast = "winloop" if sys.platform == "win32" else "uvloop"
    if subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--only-binary=:all:",
                       "--disable-pip-version-check", fast], capture_output=True).returncode:
        print(f"({fast} has no wheel for this Python here: serve runs on asyncio's own loop)",
              file=sys.stderr)
    STAMP.write_text(wanted)


def start_up(command: list[str]) -> subprocess.Popen[bytes]:
    """`up`, in a process group of its own, told to stop by closing its standard input."""
    env = dict(os.environ, ARBITREX_STOP_PIPE="1")
    if sys.platform == "win32":
        return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
    return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                            start_new_session=True)


def run(command: list[str]) -> int:
    proc = start_up(command)
    asked: list[str] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if asked and proc.poll() is None:  # asked twice: the user insists
            print("stopping now", file=sys.stderr)
            proc.kill()
            return
        asked.append(signal.Signals(signum).name)
        print("stopping (Ctrl-C again to force) ...", file=sys.stderr)
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:  # it has ended already
                pass

    for name in ("SIGINT", "SIGTERM", "SIGBREAK", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), forward)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # raised by a handler-less moment: keep waiting for up
            continue


def main() -> int:
    try:
        if not PYTHON.exists():
            create_venv()
        install()
    except SetupFailed as exc:
        print(f"demo: set-up failed: {exc}", file=sys.stderr)
        return 1
    command = [str(PYTHON), "-m", "arbitrex", "up", "--source", "sim", "--venues",
               "icm,pepper,oanda", "--rate", os.environ.get("RATE", "50"), *sys.argv[1:]]
    print(f"open http://127.0.0.1:{os.environ.get('WS_PORT', '8000')}/  (Ctrl-C to stop)",
          file=sys.stderr)
    return run(command)


if __name__ == "__main__":
    sys.exit(main())
