"""MT5 over the RPyC bridge, against the real thing: an RPyC classic server (rpyc's own, as
under Wine) in another process, in another time zone, with the MetaTrader5 double
importable on the server's side only; `arbitrex collect` and `doctor` as real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arbitrex.testing.mt5 import Scenario, write_module
from tests.conftest import STOP_SIGNAL, free_port, log_of, port_open, wait_for
from tests.e2e.test_mt5 import OFFSET_MS, ZONE, scenario, stored


class BridgeServer:
    """``rpyc_classic`` on a loopback port; MetaTrader5 is the double, only here."""

    def __init__(self, workdir: Path, scenario_path: Path | None, *, with_mt5: bool = True
                 ) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.shim = workdir / "server-shim"
        self.shim.mkdir(exist_ok=True)
        if with_mt5:
            write_module(self.shim)
        self.env = {"PYTHONPATH": str(self.shim), "TZ": "Asia/Tokyo",  # not the collector's
                    "PATH": "/usr/bin:/bin"}
        if scenario_path is not None:
            self.env["ARBITREX_FAKE_MT5"] = str(scenario_path)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> BridgeServer:
        self.starts += 1
        log = open(self.workdir / f"bridge-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from rpyc.cli.rpyc_classic import main; main()",
             "--host", "127.0.0.1", "-p", str(self.port)], env=self.env, stdout=log,
            stderr=log)
        log.close()
        wait_for(lambda: port_open(self.port), what="the bridge server")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def bridge(tmp_path):
    servers: list[BridgeServer] = []

    def make(scenario_path: Path | None, **kwargs: bool) -> BridgeServer:
        servers.append(BridgeServer(tmp_path, scenario_path, **kwargs))
        return servers[-1]

    yield make
    for server in servers:
        server.kill()


@pytest.fixture
def runner(arbitrex):
    """arbitrex processes that cannot import MetaTrader5 themselves: only the bridge has it."""
    arbitrex.env["BROKER_TIMEZONE"] = ZONE
    return arbitrex


def test_collect_over_the_bridge_across_a_kill_9_of_the_server_is_exact(runner, bridge,
                                                                           tmp_path):
    s = scenario(tmp_path / "icm.json", ["EURUSD", "GBPUSD"], lead=3.0, seconds=8.0,
                 login=9, password="s3cr3t-bridge-pw", server="S")
    server = bridge(tmp_path / "icm.json").start()
    runner.env.update(MT5_BRIDGE=server.address, MT5_LOGIN="9", MT5_PASSWORD="s3cr3t-bridge-pw",
                      MT5_SERVER="S", LOG_LEVEL="DEBUG")
    collect = runner.start("collect", "--source", "mt5", "--symbols", "EURUSD,GBPUSD")
    wait_for(lambda: (runner.workdir / "ticks.db").exists() and len(
        stored(runner, "mt5", "EURUSD")) > 20, timeout=30, what="ticks over the bridge")
    server.kill()  # the bridge dies mid-stream: an outage
    time.sleep(1.5)  # ticks keep coming on the (restarted) terminal meanwhile
    server.start()  # a fresh MetaTrader5: initialized again, the pause backfilled
    end = s.ticks["EURUSD"][-1][0] - OFFSET_MS
    wait_for(lambda: time.time() * 1000 > end + 1500, timeout=30, what="the scenario's end")
    wait_for(lambda: stored(runner, "mt5", "GBPUSD") == [tuple(r) for r in s.ticks["GBPUSD"]],
             timeout=20, what="every GBPUSD tick")
    collect.send_signal(STOP_SIGNAL)
    assert collect.wait(timeout=20) == 0, log_of(collect)
    for symbol in ("EURUSD", "GBPUSD"):  # bursts and identical ticks included, none twice
        assert stored(runner, "mt5", symbol) == [tuple(r) for r in s.ticks[symbol]]
    log = log_of(collect)
    assert "terminal lost" in log and "reconnected" in log
    assert f"bridge {server.address}" in log
    assert "s3cr3t-bridge-pw" not in log and "Traceback" not in log


def test_an_unreachable_bridge_at_start_is_waited_out(runner, bridge, tmp_path):
    s = scenario(tmp_path / "icm.json", ["EURUSD"], lead=4.0, seconds=3.0)
    server = bridge(tmp_path / "icm.json")
    runner.env["MT5_BRIDGE"] = server.address
    collect = runner.start("collect", "--source", "mt5", "--symbols", "EURUSD")
    wait_for(lambda: "unreachable" in log_of(collect), timeout=20, what="the outage logged")
    assert collect.poll() is None
    server.start()
    wait_for(lambda: (runner.workdir / "ticks.db").exists() and stored(
        runner, "mt5", "EURUSD") == [tuple(r) for r in s.ticks["EURUSD"]], timeout=30,
        what="every tick")
    collect.send_signal(STOP_SIGNAL)
    assert collect.wait(timeout=20) == 0, log_of(collect)


def test_doctor_checks_the_bridge_live_and_dead(runner, bridge, tmp_path):
    Scenario(ticks={"EURUSD": [(int(time.time() * 1000) + OFFSET_MS - 2000, 1.1, 1.2, 0.0,
                                0, 6, 0.0)]}, utc_offset_ms=OFFSET_MS).save(tmp_path / "d.json")
    server = bridge(tmp_path / "d.json").start()
    runner.env.update(MT5_BRIDGE=server.address, SYMBOLS="EURUSD")
    checks = {c["name"]: c for c in json.loads(runner.run("doctor", "--json").stdout)["checks"]}
    package = checks["mt5: MetaTrader5"]
    assert package["status"] == "pass" and f"bridge {server.address}" in package["detail"]
    assert "Python 3." in package["detail"] and "MetaTrader5 5.0.6231" in package["detail"]
    assert checks["mt5: terminal"]["status"] == "pass"
    assert checks["mt5: broker clock"]["status"] == "pass", checks["mt5: broker clock"]
    server.kill()
    result = runner.run("doctor", "--json")
    assert result.returncode == 1
    package = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["mt5: MetaTrader5"]
    assert package["status"] == "fail" and f"bridge {server.address} unreachable" in \
        package["detail"] and "Wine" in package["fix"]


def test_a_bridge_without_metatrader5_is_one_clear_line(runner, bridge, tmp_path):
    server = bridge(None, with_mt5=False).start()
    runner.env["MT5_BRIDGE"] = server.address
    result = runner.run("collect", "--source", "mt5", "--symbols", "EURUSD", "--duration", "5")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [f"arbitrex: error: the bridge at {server.address} answers, but its "
                      "Python has no MetaTrader5 package: pip install MetaTrader5 in the "
                      "(Windows) Python that runs the server"], result.stderr
    assert "Traceback" not in result.stderr
    checks = {c["name"]: c for c in json.loads(runner.run("doctor", "--json").stdout)["checks"]}
    assert checks["mt5: MetaTrader5"]["status"] == "fail"
    assert "pip install MetaTrader5" in checks["mt5: MetaTrader5"]["fix"]


def test_a_bridge_that_is_not_host_port_exits_2(runner):
    runner.env["MT5_BRIDGE"] = "wine-box"
    result = runner.run("collect", "--source", "mt5", "--duration", "1")
    assert result.returncode == 2 and "MT5_BRIDGE" in result.stderr
    assert "Traceback" not in result.stderr
