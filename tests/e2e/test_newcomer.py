"""What a newcomer hit, as real commands: clear one-line errors (exit 2) where a command
crashed or waited forever, and hints where it waited silently."""

from __future__ import annotations

import time

import pytest

from tests.conftest import free_port, log_of, wait_for
from tests.history import fill


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_export_out_into_a_missing_folder_or_onto_a_folder(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db", 50).close()
    result = arbitrex.run("export", "--out", "nodir/e.parquet")
    assert result.returncode == 2
    assert last_line(result.stderr) == ("arbitrex: error: --out: the folder nodir does not "
                                        "exist — create it first (mkdir nodir) or write "
                                        "somewhere else")
    (tmp_path / "out.ndjson").mkdir()
    result = arbitrex.run("export", "--out", "out.ndjson")
    assert result.returncode == 2
    assert last_line(result.stderr).startswith("arbitrex: error: --out: out.ndjson is a folder")
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_an_export_that_matches_nothing_says_so(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db", 50).close()
    result = arbitrex.run("export", "--out", "e.csv", "--symbols", "eurusd")
    assert result.returncode == 0
    assert ("no ticks matched: no ticks stored for eurusd (did you mean EURUSD?); the store "
            "holds EURUSD, USDJPY, XAUUSD") in result.stderr


@pytest.mark.parametrize("command", [["collect", "--source", "sim"], ["up", "--source", "sim"],
                                     ["doctor"]])
def test_a_config_file_named_and_missing_is_an_error(arbitrex, command):
    result = arbitrex.run(*command, "--config", "nope.toml", timeout=30)
    assert result.returncode == 2
    assert last_line(result.stderr) == (
        "arbitrex: error: --config: nope.toml does not exist — give the path of your venues "
        "file (arbitrex.toml), or leave --config out")


def test_tail_url_that_no_retry_can_cure_exits_2_at_once(arbitrex):
    arbitrex.env["WS_TOKEN"] = "s3cret"
    port = arbitrex.serve()
    started = time.monotonic()
    result = arbitrex.run("tail", "EURUSD", "--json", "--url", f"ws://127.0.0.1:{port}/nope",
                          timeout=30)
    assert result.returncode == 2
    assert f"ws://127.0.0.1:{port}/nope answered HTTP 404" in last_line(result.stderr)
    del arbitrex.env["WS_TOKEN"]
    result = arbitrex.run("tail", "EURUSD", "--json", "--url", f"ws://127.0.0.1:{port}/ws",
                          timeout=30)
    assert result.returncode == 2 and "refused the connection (401)" in result.stderr
    assert time.monotonic() - started < 20


def test_tail_of_a_server_never_reached_says_cannot_connect(arbitrex):
    port = free_port()
    tail = arbitrex.start("tail", "EURUSD", "--json", "--url", f"ws://127.0.0.1:{port}/ws")
    wait_for(lambda: "cannot connect to" in log_of(tail), what="the hint")
    assert "lost" not in log_of(tail) and tail.poll() is None


def test_tail_of_a_symbol_not_stored_names_those_that_are(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db", 50).close()
    tail = arbitrex.start("tail", "eurusd", "--json")
    wait_for(lambda: "no ticks stored" in log_of(tail), what="the hint")
    assert ("arbitrex tail: no ticks stored for eurusd (did you mean EURUSD?); the store "
            "holds EURUSD, USDJPY, XAUUSD; waiting for them") in log_of(tail)
    assert tail.poll() is None  # it waits, as for a symbol yet to come


def test_tail_json_into_a_reader_that_goes_away_exits_0_quietly(arbitrex, tmp_path):
    """`arbitrex tail EURUSD --json | head -1`: a closed pipe is the end, not an error."""
    import subprocess
    import sys

    collect = arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD", "--rate",
                             "200")
    wait_for(lambda: (tmp_path / "ticks.db").exists() and "collecting" in log_of(collect),
             what="collect")
    tail = subprocess.Popen([sys.executable, "-m", "arbitrex", "tail", "EURUSD", "--json"],
                            cwd=tmp_path, env=arbitrex.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert tail.stdout is not None and tail.stderr is not None
    try:
        assert tail.stdout.readline().startswith(b'{"type":"tick"')
        tail.stdout.close()  # as head does after its line
        assert tail.wait(timeout=20) == 0
        said = tail.stderr.read().decode()
    finally:
        tail.stderr.close()
    assert said == "", said


def test_tail_url_json_keeps_the_replay_mark(arbitrex, tmp_path):
    from arbitrex import formats

    store = fill(tmp_path / "a.db", 200)
    formats.write(store.iter_range(), tmp_path / "day.ndjson", "ndjson")
    store.close()
    port = free_port()
    replay = arbitrex.start("replay", "day.ndjson", "--speed", "max", "--port", str(port))
    wait_for(lambda: "still serving" in log_of(replay), what="the replay to end")
    result = arbitrex.run("tail", "EURUSD", "--json", "--count", "1", "--url",
                          f"ws://127.0.0.1:{port}/ws", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith('"replay":true,"snapshot":true}'), result.stdout
