#!/usr/bin/env bash
# Set up everything the tests need (Chromium, a .venv with the dev extras) and run every gate:
# ruff, mypy, then pytest. Extra arguments go to pytest, e.g. `bash scripts/test.sh -k e2e`.
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages for the tests: Debian's Chromium (the demo page is tested in a real browser).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: install Debian's chromium package (sudo apt-get install chromium)" >&2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
export PATH="$PWD/.venv/bin:$PATH"
ruff check arbitrex tests scripts
mypy
python -m pytest "$@"
