"""doctor's checks in process, each against the real thing it checks: a settings file, a
store file, an unreachable Redis, a bound port, and a terminal (the MetaTrader5 double)."""

from __future__ import annotations

import dataclasses
import importlib.machinery
import importlib.util
import socket
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from arbitrex import __version__
from arbitrex.config import Secret, Settings, load_settings
from arbitrex.doctor.checks import config_checks, run_checks
from arbitrex.doctor.mt5 import mt5_checks
from arbitrex.doctor.stores import redis_checks, sqlite_check
from arbitrex.model.tick import Tick
from arbitrex.sources.mt5.venues import Venue
from arbitrex.stores.sqlite import SqliteStore
from arbitrex.testing.mt5 import FakeTerminal, Scenario, as_module
from tests.conftest import free_port


def settings_with(**values: str) -> Settings:
    return load_settings(environ=values, env_file="/nonexistent/.env")


def test_a_bad_value_fails_and_the_report_says_which_arbitrex(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("WS_PORT=eighty\nSYMBOLS='EURUSD'\n")
    settings, checks = config_checks(env)
    assert settings is None
    by_name = {c.name: c for c in checks}
    assert by_name["setting WS_PORT"].status == "fail"
    assert "e.g. WS_PORT=8000" in by_name["setting WS_PORT"].fix
    assert by_name["setting SYMBOLS"].status == "warn"
    report = run_checks(env)
    assert report[0].name == "python" and f"arbitrex {__version__}" in report[0].detail


def test_the_sqlite_store_from_nothing_to_wal_to_damaged(tmp_path: Path) -> None:
    path = tmp_path / "data" / "ticks.db"
    settings = settings_with(SQLITE_PATH=str(path))
    assert sqlite_check(settings).detail == "will be created on first collect"
    store = SqliteStore(path)
    store.append([Tick("sim", "EURUSD", 0, 1_800_000_000_000, 1.1, 1.2, 0.0, 0, 0.0, 6, 1, 1)])
    store.close()
    check = sqlite_check(settings)
    assert check.status == "pass" and "WAL, 1 streams" in check.detail
    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    assert sqlite_check(settings_with(SQLITE_PATH=str(plain))).status == "warn"
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"not a database" * 100)
    check = sqlite_check(settings_with(SQLITE_PATH=str(damaged)))
    assert check.status == "fail" and "move a damaged file aside" in check.fix


def test_an_unreachable_redis_fails_with_the_fix() -> None:
    checks = redis_checks(settings_with(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
                                        TICK_QUEUE_BACKEND="redis"))
    assert [(c.name, c.status) for c in checks] == [("redis", "fail")]
    assert "start Redis" in checks[0].fix


def test_a_port_in_use_is_a_warning(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = tmp_path / ".env"
        env.write_text(f"WS_PORT={port}\nSQLITE_PATH={tmp_path / 'ticks.db'}\n")
        checks = {c.name: c for c in run_checks(env)}
    assert checks[f"port 127.0.0.1:{port}"].status == "warn"


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> FakeTerminal:
    """The MetaTrader5 double, importable as the package in this process."""
    now_ms = int(time.time() * 1000)
    scenario = Scenario(ticks={"EURUSD": [(now_ms + 7_200_000 - 2000, 1.1, 1.2, 0.0, 0, 6, 0.0)]},
                        utc_offset_ms=7_200_000, login=9, password="pw", server="S")
    fake = FakeTerminal(scenario)
    module = as_module(fake)
    module.__spec__ = importlib.machinery.ModuleSpec("MetaTrader5", None)
    monkeypatch.setitem(sys.modules, "MetaTrader5", module)
    return fake


def test_a_terminal_account_symbols_and_broker_clock(terminal: FakeTerminal) -> None:
    venue = Venue("icm", ("EURUSD", "NOPE"), mt5_login=9, mt5_server="S",
                  broker_timezone="+02:00", mt5_password=Secret("pw"))
    checks = {c.name: c for c in mt5_checks(venue)}
    assert checks["icm: terminal"].status == "pass"
    assert checks["icm: account"].detail == "logged in as 9 on S"
    assert checks["icm: symbols"].status == "warn" and "NOPE" in checks["icm: symbols"].detail
    assert checks["icm: broker clock"].status == "pass", checks["icm: broker clock"]
    wrong = dataclasses.replace(venue, broker_timezone="UTC")
    clock = {c.name: c for c in mt5_checks(wrong)}["icm: broker clock"]
    assert clock.status == "fail" and "UTC+2" in clock.fix


def test_without_the_package_or_a_bridge_only_a_warning() -> None:
    if importlib.util.find_spec("MetaTrader5") is not None:  # pragma: no cover (Windows)
        pytest.skip("MetaTrader5 is installed here")
    checks = mt5_checks(Venue("mt5", ("EURUSD",)))
    assert [(c.name, c.status) for c in checks] == [("mt5: MetaTrader5", "warn")]


@pytest.mark.parametrize("lag_ms, status, words", [
    (12.5, "pass", "median lag 12.5 ms"),
    (-7_200_000 + 35.0, "warn", "2 h ahead of this machine's clock"),
    (3_600_000 - 90_000, "warn", "wrong BROKER_TIMEZONE"),
    (3_500.0, "warn", "+3.5 s: the broker's clock is behind"),
    (-1_500.0, "warn", "ahead of this machine"),
    (900.0, "pass", "median lag 900.0 ms"),
    (1_800_000.0, "warn", "clock"),  # half an hour: not a zone of whole hours
])
def test_a_venue_lag_is_judged(lag_ms: float, status: str, words: str) -> None:
    from arbitrex.doctor.lag import judge_lag

    check = judge_lag("icm", lag_ms)
    assert check.name == "lag icm" and check.status == status and words in check.detail
    assert ("BROKER_TIMEZONE" in check.fix) == ("BROKER_TIMEZONE" in check.detail)


def test_doctor_reads_each_venues_lag_from_the_store(tmp_path: Path) -> None:
    path = tmp_path / "ticks.db"
    store = SqliteStore(path)
    t0 = 1_800_000_000_000
    lags = {"ok": 8, "tz": -3 * 3_600_000 + 20, "drift": 4_000}
    ticks = [Tick(venue, symbol, 0, t0 + i * 100, 1.1, 1.2, 0.0, 0, 0.0, 6,
                  (t0 + i * 100 + lag + i % 7) * 10**6, t0)
             for venue, lag in lags.items() for symbol in ("EURUSD", "GBPUSD")
             for i in range(300)]
    store.append(ticks)
    store.close()
    env = tmp_path / ".env"
    env.write_text(f"SQLITE_PATH={path}\n")
    by_name = {c.name: c for c in run_checks(env)}
    assert by_name["lag ok"].status == "pass"
    assert by_name["lag tz"].status == "warn" and "3 h ahead" in by_name["lag tz"].detail
    assert "+3 h off" in by_name["lag tz"].fix
    assert by_name["lag drift"].status == "warn" and "+4.0 s" in by_name["lag drift"].detail
