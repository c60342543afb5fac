"""Fixtures: free ports, real `arbitrex` subprocesses, real redis-servers, and waits that
always time out. Every test is marked by its folder: ``unit`` (tests/unit/, fast, in
process) or ``e2e`` (tests/e2e/, real processes): `bash scripts/test.sh -m unit`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from arbitrex.config import FIELDS

if TYPE_CHECKING:
    from tests.redis_server import RedisServer

T = TypeVar("T")

#: How tests stop a process: Ctrl-C (SIGINT) where Windows' constraints are forced
#: (tests/windows/sitecustomize.py), else SIGTERM.
STOP_SIGNAL = signal.SIGINT if os.environ.get("ARBITREX_FORCE_WINDOWS") == "1" else signal.SIGTERM

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        kind = item.path.relative_to(TESTS).parts[0]
        if kind in ("unit", "e2e"):
            item.add_marker(getattr(pytest.mark, kind))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], object], *, timeout: float = 15.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.02)


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """``wait_for`` on a running event loop: the loop goes on meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {condition}"
        await asyncio.sleep(0.005)


def must(value: T | None) -> T:
    """``value``, asserted present (a store's last tick, say)."""
    assert value is not None
    return value


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def clean_env(**overrides: str) -> dict[str, str]:
    """The test process's environment without any arbitrex setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in {f.name for f in FIELDS}}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class Arbitrex:
    """Runs `python -m arbitrex ...` as real subprocesses in one working directory."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, **popen: object) -> subprocess.Popen[bytes]:
        path = self.workdir / f"{args[0]}-{len(self.procs)}.log"
        with open(path, "wb") as log:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "arbitrex", *args], cwd=self.workdir, env=self.env,
                stdout=popen.pop("stdout", log), stderr=log, **popen)  # type: ignore[call-overload]
        proc.log_path = str(path)
        self.procs.append(proc)
        return proc

    def run(self, *args: str, timeout: float = 60, **kwargs: object
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "arbitrex", *args], cwd=self.workdir,
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              **kwargs)  # type: ignore[call-overload]

    def serve(self, *args: str) -> int:
        port = free_port()
        proc = self.start("serve", "--port", str(port), *args)
        wait_for(lambda: port_open(port) or proc.poll() is not None, what="serve to listen")
        assert proc.poll() is None, Path(proc.log_path).read_text()  # type: ignore[attr-defined]
        return port

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(STOP_SIGNAL)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture
def arbitrex(tmp_path: Path) -> Iterator[Arbitrex]:
    runner = Arbitrex(tmp_path, clean_env(SQLITE_PATH=str(tmp_path / "ticks.db")))
    try:
        yield runner
    finally:
        runner.stop_all()


def log_of(proc: subprocess.Popen[bytes]) -> str:
    return Path(proc.log_path).read_text()  # type: ignore[attr-defined]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, on a free loopback port (never 6379)."""
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture(autouse=True)
def _close_stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every store a test opens in this process is closed after it: Python 3.13 warns of a
    database connection left to the garbage collector (and warnings are errors here), at
    whatever later moment the collector runs."""
    from arbitrex.stores.spool import SpoolingStore
    from arbitrex.stores.sqlite import SqliteStore

    opened: list[SqliteStore | SpoolingStore] = []
    for cls in (SqliteStore, SpoolingStore):
        original = cls.__init__

        def init(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> None:
            __original(self, *args, **kwargs)
            opened.append(self)

        monkeypatch.setattr(cls, "__init__", init)
    yield
    for store in reversed(opened):
        try:
            store.close()
        except Exception:  # closed by the test already, or its server is gone
            pass
