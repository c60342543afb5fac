"""`arbitrex up`: collect and serve as children, restarted when they die, stopped together."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

from websockets.sync.client import connect

from tests.conftest import STOP_SIGNAL, free_port, log_of, port_open, wait_for
from tests.e2e.streams import assert_contiguous, recv_json


def children(pid: int) -> dict[str, int]:
    """The `arbitrex` children of ``pid`` by command (collect, serve)."""
    out = subprocess.run(["pgrep", "-P", str(pid), "-a"], capture_output=True, text=True)
    found = {}
    for line in out.stdout.splitlines():
        child, _, command = line.partition(" ")
        for name in ("collect", "serve"):
            if f"arbitrex {name}" in command:
                found[name] = int(child)
    return found


def test_up_runs_both_restarts_a_dead_child_and_stops_both(arbitrex):
    port = free_port()
    up = arbitrex.start("up", "--source", "sim", "--symbols", "EURUSD", "--rate", "200",
                        "--port", str(port))
    wait_for(lambda: port_open(port) or up.poll() is not None, what="serve to listen")
    assert up.poll() is None, log_of(up)
    with connect(f"ws://127.0.0.1:{port}/ws?symbols=EURUSD") as ws:
        first = [recv_json(ws) for _ in range(20)]
        pids = wait_for(lambda: len(children(up.pid)) == 2 and children(up.pid),
                        what="two children")
        assert isinstance(pids, dict)
        os.kill(pids["collect"], signal.SIGKILL)  # the collector dies: up starts another
        wait_for(lambda: children(up.pid).get("collect") not in (None, pids["collect"]),
                 timeout=20, what="collect restarted")
        more = [recv_json(ws) for _ in range(60)]
    ticks = [m for m in first + more if m["type"] == "tick"]
    assert_contiguous(ticks)  # no seq lost or repeated across the restart
    up.send_signal(STOP_SIGNAL)
    assert up.wait(timeout=30) == 0, log_of(up)
    assert children(up.pid) == {} and not port_open(port)
    assert "collect: exited with -9; restart 1" in log_of(up)


def test_a_configuration_error_stops_up_with_exit_2(arbitrex):
    (arbitrex.workdir / ".env").write_text("WS_PORT=eighty\n")
    result = arbitrex.run("up", "--source", "sim", timeout=30)
    assert result.returncode == 2 and "WS_PORT" in result.stderr
    (arbitrex.workdir / ".env").write_text("")
    # collect refuses (no MetaTrader5 here): up stops serve too and says why
    result = arbitrex.run("up", "--source", "mt5", "--port", str(free_port()), timeout=60)
    assert result.returncode == 2, result.stderr
    assert "MetaTrader5 package is not available" in result.stderr
    assert "collect: stopped on a configuration error" in result.stderr


def test_a_busy_port_stops_up_with_exit_2_within_seconds(arbitrex):
    """A port serve cannot bind is not retried forever: up stops collect cleanly and exits 2
    naming --port and the port."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = arbitrex.run("up", "--source", "sim", "--symbols", "EURUSD", "--port",
                              str(port), timeout=60)
        took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert f"--port (WS_PORT): cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "serve: stopped on a configuration error" in result.stderr
    assert "restart 1" not in result.stderr and "collect: exited" not in result.stderr
    assert took < 20, took


def test_up_page_and_metrics_are_served(arbitrex):
    port = free_port()
    up = arbitrex.start("up", "--source", "sim", "--symbols", "EURUSD", "--port", str(port))
    wait_for(lambda: port_open(port) or up.poll() is not None, what="serve to listen")
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert json.loads(response.read()) == {"status": "ok"}
    up.send_signal(STOP_SIGNAL)
    assert up.wait(timeout=30) == 0, log_of(up)


def test_three_simulated_brokers_one_process_each(arbitrex):
    """The main job's shape: up with three simulated brokers; each stream is its own venue,
    the snapshot of a symbol is the last tick of every venue quoting it."""
    port = free_port()
    up = arbitrex.start("up", "--source", "sim", "--venues", "icm,pepper,oanda", "--symbols",
                        "EURUSD", "--rate", "100", "--port", str(port))
    wait_for(lambda: port_open(port) or up.poll() is not None, what="serve to listen")
    assert up.poll() is None, log_of(up)

    def venues() -> set[str]:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/symbols", timeout=5) as resp:
            return {s.split(":")[0] for s in json.loads(resp.read())["streams"]}

    wait_for(lambda: venues() >= {"icm", "pepper", "oanda"} or up.poll() is not None,
             timeout=30, what="ticks from the three brokers")
    with connect(f"ws://127.0.0.1:{port}/ws?symbols=EURUSD") as ws:
        assert recv_json(ws)["type"] == "subscribed"
        snapshots = [recv_json(ws) for _ in range(3)]
    assert all(s["snapshot"] for s in snapshots)
    assert {s["venue"] for s in snapshots} == {"icm", "pepper", "oanda"}
    up.send_signal(STOP_SIGNAL)
    assert up.wait(timeout=30) == 0, log_of(up)
    assert children(up.pid) == {}


def test_bad_venue_names_are_refused(arbitrex):
    result = arbitrex.run("collect", "--source", "sim", "--venues", "icm,bad/name",
                          "--duration", "1")
    assert result.returncode == 2
    assert "--venues: 'bad/name' is not a valid venue name" in result.stderr
    result = arbitrex.run("collect", "--source", "mt5", "--venues", "icm", "--duration", "1")
    assert result.returncode == 2 and "--venues: only the simulator" in result.stderr
