"""The main job, on any OS: set up .venv (once) and run `arbitrex up` on the embedded default.

    python3 scripts/demo.py            (Linux, macOS)
    py scripts\\demo.py                 (Windows PowerShell or cmd)

Three simulated brokers (icm, pepper, oanda: one price path, each with its own spread,
feed latency and pauses) collect into SQLite (data/ticks.db) while `serve` streams
it on http://127.0.0.1:8000/ (WS_PORT overrides the port; extra arguments go to
`arbitrex up`, e.g. --open). Ctrl-C stops both, cleanly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def main() -> int:
    python = BIN / ("python.exe" if os.name == "nt" else "python")
    if not python.exists():
        print("creating .venv ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "-e", str(ROOT)], check=True)
    command = [str(python), "-m", "arbitrex", "up", "--source", "sim", "--venues",
               "icm,pepper,oanda", "--rate", os.environ.get("RATE", "50"), *sys.argv[1:]]
    print(f"open http://127.0.0.1:{os.environ.get('WS_PORT', '8000')}/  (Ctrl-C to stop)",
          file=sys.stderr)
    proc = subprocess.Popen(command, cwd=ROOT)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the console's Ctrl-C reached `up` too: it is stopping
            continue


if __name__ == "__main__":
    sys.exit(main())
