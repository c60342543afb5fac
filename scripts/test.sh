#!/usr/bin/env bash
# Set up everything the tests need (a .venv with the dev extras) and run every gate:
# ruff, mypy, then pytest. Extra arguments go to pytest, e.g. `bash scripts/test.sh -k e2e`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
export PATH="$PWD/.venv/bin:$PATH"
ruff check arbitrex tests scripts
mypy
python -m pytest "$@"
