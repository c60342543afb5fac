"""`arbitrex collect --source mt5` as a real process, with the test double as MetaTrader5."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from arbitrex.clock import BrokerClock
from arbitrex.stores.sqlite import SqliteStore
from arbitrex.testing.mt5 import Scenario, write_module
from tests.conftest import log_of, wait_for

# The broker keeps New York close (UTC+2, UTC+3 while the USA is on summer time): its
# offset now, read through the same clock every arbitrex process uses.
ZONE = "America/New_York+07:00"
_NOW_MS = int(time.time() * 1000)  # read once: two reads may straddle a millisecond
OFFSET_MS = BrokerClock(ZONE).to_broker_msc(_NOW_MS) - _NOW_MS


@pytest.fixture
def mt5(arbitrex, tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    write_module(shim)
    arbitrex.env["PYTHONPATH"] = os.pathsep.join(
        [str(shim), *filter(None, [arbitrex.env.get("PYTHONPATH")])])
    arbitrex.env["BROKER_TIMEZONE"] = ZONE
    return arbitrex


def scenario(path: Path, symbols: list[str], *, lead: float = 4.0, seconds: float = 4.0,
             seed: int = 1, **kwargs) -> Scenario:
    s = Scenario.generate(symbols, start_ms=int((time.time() + lead) * 1000), seconds=seconds,
                          rate=25, seed=seed, utc_offset_ms=OFFSET_MS, **kwargs)
    s.save(path)
    return s


def stored(runner, venue: str, symbol: str) -> list[tuple]:
    store = SqliteStore(runner.workdir / "ticks.db")
    try:
        return [(t.broker_msc, t.bid, t.ask, t.last, t.volume, t.flags, t.volume_real)
                for t in store.read_after(venue, symbol, 0, 10**7)]
    finally:
        store.close()


def test_collect_mt5_stores_exactly_the_terminal_ticks_across_an_outage(mt5, tmp_path):
    now = time.time()
    s = scenario(tmp_path / "icm.json", ["EURUSD", "GBPUSD"],
                 outages=[(now + 4.0, now + 5.5, -10004)])
    mt5.env["ARBITREX_FAKE_MT5"] = str(tmp_path / "icm.json")
    result = mt5.run("collect", "--source", "mt5", "--symbols", "EURUSD,GBPUSD,NOSUCH",
                     "--duration", "10", timeout=60)
    assert result.returncode == 0, result.stderr
    for symbol in ("EURUSD", "GBPUSD"):
        assert stored(mt5, "mt5", symbol) == [tuple(r) for r in s.ticks[symbol]]
    assert "NOSUCH is not available on this terminal: Terminal: Not found (-4)" in result.stderr
    assert "terminal lost" in result.stderr and "reconnected" in result.stderr
    store = SqliteStore(mt5.workdir / "ticks.db")
    ticks = store.read_after("mt5", "EURUSD", 0, 10**6)
    store.close()
    assert all(t.time_msc == t.broker_msc - OFFSET_MS for t in ticks)


def test_kill_9_then_restart_backfills_the_pause_without_duplicates(mt5, tmp_path):
    s = scenario(tmp_path / "icm.json", ["EURUSD"], lead=2.0, seconds=6.0)
    mt5.env["ARBITREX_FAKE_MT5"] = str(tmp_path / "icm.json")
    proc = mt5.start("collect", "--source", "mt5", "--symbols", "EURUSD")
    wait_for(lambda: len(stored(mt5, "mt5", "EURUSD")) > 10 if (mt5.workdir / "ticks.db")
             .exists() else False, timeout=20, what="first ticks")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(1.5)  # the pause to backfill (not a synchronisation)
    result = mt5.run("collect", "--source", "mt5", "--symbols", "EURUSD", "--duration", "8",
                     timeout=60)
    assert result.returncode == 0, result.stderr
    assert stored(mt5, "mt5", "EURUSD") == [tuple(r) for r in s.ticks["EURUSD"]]


def test_several_venues_one_process_each_and_a_bad_login_stops_only_its_own(mt5, tmp_path):
    alpha = scenario(tmp_path / "alpha.json", ["EURUSD.a"], seed=2)
    beta = scenario(tmp_path / "beta.json", ["EURUSD", "USDJPY"], seed=3, login=5,
                    password="good", server="Beta-Demo")
    scenario(tmp_path / "gamma.json", ["EURUSD"], seed=4, login=6, password="right")
    (tmp_path / "venues.toml").write_text(f"""
[[venues]]
name = "alpha"
MT5_PATH = '{tmp_path / "alpha.json"}'
symbols = ["EURUSD"]
[venues.aliases]
EURUSD = "EURUSD.a"

[[venues]]
name = "beta"
MT5_PATH = '{tmp_path / "beta.json"}'
MT5_LOGIN = 5
MT5_PASSWORD = "good"
MT5_SERVER = "Beta-Demo"
symbols = ["EURUSD", "USDJPY"]

[[venues]]
name = "gamma"
MT5_PATH = '{tmp_path / "gamma.json"}'
MT5_LOGIN = 6
MT5_PASSWORD = "wrong-password-123"
""")
    result = mt5.run("collect", "--source", "mt5", "--config", "venues.toml", "--duration", "9",
                     timeout=90)
    assert result.returncode == 2, result.stderr  # gamma's configuration is wrong
    assert stored(mt5, "alpha", "EURUSD") == [tuple(r) for r in alpha.ticks["EURUSD.a"]]
    for symbol in ("EURUSD", "USDJPY"):
        assert stored(mt5, "beta", symbol) == [tuple(r) for r in beta.ticks[symbol]]
    assert stored(mt5, "gamma", "EURUSD") == []
    assert result.stderr.count("refused the login") == 1  # no retry storm
    assert "venue gamma: stopped on a configuration error" in result.stderr
    assert "wrong-password-123" not in result.stderr


def test_doctor_checks_the_terminal_and_the_broker_clock(mt5, tmp_path):
    scenario(tmp_path / "icm.json", ["EURUSD"], lead=-5.0, seconds=4.0, login=9, password="pw",
             server="S")
    mt5.env.update(ARBITREX_FAKE_MT5=str(tmp_path / "icm.json"), MT5_LOGIN="9",
                   MT5_PASSWORD="pw", MT5_SERVER="S", SYMBOLS="EURUSD,NOPE")
    result = mt5.run("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["mt5: MetaTrader5"]["status"] == "pass"
    assert checks["mt5: terminal"]["status"] == "pass"
    assert checks["mt5: account"]["detail"] == "logged in as 9 on S"
    assert checks["mt5: symbols"]["status"] == "warn" and "NOPE" in checks["mt5: symbols"]["detail"]
    assert checks["mt5: broker clock"]["status"] == "pass", checks["mt5: broker clock"]
    mt5.env["BROKER_TIMEZONE"] = "UTC"  # wrong: the broker runs New York close
    result = mt5.run("doctor", "--json")
    assert result.returncode == 1
    clock = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["mt5: broker clock"]
    assert clock["status"] == "fail" and f"UTC+{OFFSET_MS // 3_600_000}" in clock["fix"]
    mt5.env["MT5_PASSWORD"] = "nope"
    checks = {c["name"]: c for c in json.loads(mt5.run("doctor", "--json").stdout)["checks"]}
    assert checks["mt5: account"]["status"] == "fail"
    assert "Authorization failed" in checks["mt5: account"]["detail"]


def test_mt5_log_never_shows_the_password(mt5, tmp_path):
    scenario(tmp_path / "icm.json", ["EURUSD"], login=9, password="s3cr3t-pw", server="S")
    mt5.env.update(ARBITREX_FAKE_MT5=str(tmp_path / "icm.json"), MT5_LOGIN="9",
                   MT5_PASSWORD="s3cr3t-pw", MT5_SERVER="S", LOG_LEVEL="DEBUG")
    proc = mt5.start("collect", "--source", "mt5", "--symbols", "EURUSD", "--duration", "2")
    assert proc.wait(timeout=30) == 0
    assert "s3cr3t-pw" not in log_of(proc)
