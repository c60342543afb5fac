#!/usr/bin/env bash
# Set up everything the tests need (Chromium, redis-server, a .venv with the dev extras) and
# run every gate: ruff, mypy (strict; and the package as Windows and macOS would see it),
# then pytest. Extra arguments go to pytest, e.g. `bash scripts/test.sh -m unit` (the fast
# tests alone). Without arguments, the end-to-end tests of collect, serve, tail, replay, up,
# the cross-venue view, the archive and Redis run a second time with Windows' constraints forced
# (tests/windows/sitecustomize.py).
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages for the tests: Debian's Chromium (the demo page is tested in a real
# browser) and redis-server (the tests start their own, on free ports).
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "missing:$missing — install these Debian packages (sudo apt-get install$missing)" >&2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
# installed once per pyproject.toml (its hash is kept beside the venv); what
# scripts/demo.py installs is in here too: it need not install again
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat .venv/.arbitrex-installed 2>/dev/null)" != "$wanted" ] \
    || ! .venv/bin/python -c 'import arbitrex, xdist' 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  echo "$wanted" > .venv/.arbitrex-installed
fi
export PATH="$PWD/.venv/bin:$PATH"
ruff check arbitrex tests scripts
# each platform keeps its own cache: a run after a run changes only what changed
mypy
mypy --platform win32 --cache-dir .mypy_cache/win32 arbitrex
mypy --platform darwin --cache-dir .mypy_cache/darwin arbitrex
# The fast tests alone run on two workers (pytest-xdist): most of their time is waiting
# (real servers, real sockets), so two halve it.
if [ "$*" = "-m unit" ]; then set -- -m unit -n 2; fi
python -m pytest "$@"
if [ $# -eq 0 ]; then
  echo "again, with Windows' constraints forced:" >&2
  ARBITREX_FORCE_WINDOWS=1 PYTHONPATH="$PWD/tests/windows${PYTHONPATH:+:$PYTHONPATH}" \
    python -m pytest -m e2e tests/e2e/test_windows_constraints.py \
    tests/e2e/test_collect_serve.py tests/e2e/test_replay_export.py tests/e2e/test_up.py \
    tests/e2e/test_doorbell.py tests/e2e/test_best_view.py tests/e2e/test_archive.py \
    tests/e2e/test_redis.py
fi
