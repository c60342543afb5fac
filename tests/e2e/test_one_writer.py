"""One collector per venue and store, through real processes: a second one is refused
(exit 2, naming the venue and the holder); a holder killed with -9 frees the venue at once
for the next collector and for a supervisor's restart of a worker; doctor names who holds
each venue."""

from __future__ import annotations

import json
import os
import re
import signal

import psutil

from arbitrex.stores.sqlite import SqliteStore
from tests.conftest import STOP_SIGNAL, log_of, must, wait_for
from tests.e2e.streams import last_seq


def stored(path, venue: str = "sim", symbol: str = "EURUSD") -> int:
    return last_seq(path, venue, symbol)


def test_a_second_collector_of_a_venue_is_refused_until_the_first_dies(arbitrex, tmp_path):
    db = tmp_path / "ticks.db"
    first = arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD", "--rate", "100")
    wait_for(lambda: stored(db) > 10, what="the first collector's ticks")
    second = arbitrex.run("collect", "--source", "sim", "--symbols", "EURUSD", "--rate", "200",
                          "--seed", "7", "--duration", "5")
    assert second.returncode == 2, second.stderr
    error = second.stderr.strip().splitlines()[-1]
    assert error.startswith("arbitrex: error: venue sim is already being collected into ")
    assert f"pid {first.pid} on host " in error
    doctor = arbitrex.run("doctor", "--json")
    rows = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert f"pid {first.pid}" in rows["collector of sim"]["detail"]
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    before = stored(db)
    third = arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD", "--rate", "100")
    wait_for(lambda: stored(db) > before + 10, timeout=5, what="the venue taken over at once")
    assert third.poll() is None
    third.send_signal(STOP_SIGNAL)
    assert third.wait(timeout=20) == 0
    rows = {c["name"]: c for c in json.loads(arbitrex.run("doctor", "--json").stdout)["checks"]}
    assert rows["collectors"]["detail"] == "no collector holds a venue now"


def test_a_workers_restart_takes_its_venue_over_at_once(arbitrex, tmp_path):
    db = tmp_path / "ticks.db"
    parent = arbitrex.start("collect", "--source", "sim", "--venues", "icm,pepper",
                            "--symbols", "EURUSD", "--rate", "100")
    wait_for(lambda: stored(db, "icm") > 10 and stored(db, "pepper") > 10, timeout=30,
             what="both workers' ticks")
    pids = [int(p) for p in re.findall(r"venue icm: started \(pid (\d+)\)", log_of(parent))]
    assert len(pids) == 1 and psutil.pid_exists(pids[0])
    os.kill(pids[0], signal.SIGKILL)
    wait_for(lambda: len(re.findall(r"venue icm: started", log_of(parent))) == 2, timeout=15,
             what="the worker's restart")
    before = stored(db, "icm")
    wait_for(lambda: stored(db, "icm") > before + 10, timeout=10, what="the restart's ticks")
    assert "already being collected" not in log_of(parent)
    parent.send_signal(STOP_SIGNAL)
    assert parent.wait(timeout=30) == 0
    assert must(SqliteStore(db).last("icm", "EURUSD")).seq == stored(db, "icm")


def test_multi_venue_collect_names_each_venue_and_draws_a_table_on_a_terminal(arbitrex):
    """Off a terminal every worker's log line names its venue; on one (a pty) the parent
    draws a row per venue and symbol, the workers' lines printed above it."""
    result = arbitrex.run("collect", "--source", "sim", "--venues", "icm,pepper", "--symbols",
                          "EURUSD", "--rate", "50", "--duration", "2")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if " arbitrex.collect: " in line
             and "one worker per venue" not in line]
    assert lines and all("[icm]" in line or "[pepper]" in line for line in lines), lines
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "arbitrex", "collect", "--source", "sim",
                             "--venues", "icm,pepper,oanda", "--symbols", "EURUSD", "--rate", "50",
                             "--duration", "4"], cwd=arbitrex.workdir, env=arbitrex.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the pty closed: every writer has ended
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
        assert proc.wait(timeout=30) == 0
    text = seen.decode(errors="replace")
    assert "ticks/s" in text and "stored" in text and "simulating 50 ticks/s" in text
    assert re.search(r"icm\s+│\s+EURUSD", text) and re.search(r"oanda\s+│\s+EURUSD", text)
    assert "[icm] arbitrex.collect: collecting" in text
