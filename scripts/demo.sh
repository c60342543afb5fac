#!/usr/bin/env bash
# Set up (a .venv with arbitrex) and run the main job on the embedded default:
# the simulator collecting into SQLite (data/ticks.db) and `serve` streaming it on
# http://127.0.0.1:8000/ (override with WS_PORT). Ctrl-C stops both, cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
export PATH="$PWD/.venv/bin:$PATH"
arbitrex collect --source sim --rate "${RATE:-20}" &
collector=$!
trap 'kill -TERM "$collector" 2>/dev/null; wait "$collector" 2>/dev/null || true' EXIT
echo "open http://127.0.0.1:${WS_PORT:-8000}/  (Ctrl-C to stop)" >&2
arbitrex serve
