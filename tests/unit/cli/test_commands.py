"""The command line through CliRunner (fast) and as a real subprocess (the console script)."""

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arbitrex.cli import app
from tests.conftest import REPO

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SYMBOLS", "WS_PORT", "WS_TOKEN", "TICK_QUEUE_BACKEND", "SQLITE_PATH",
                 "MT5_BRIDGE", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize("command", [[], ["up"], ["collect"], ["serve"], ["tail"], ["replay"],
                                     ["export"], ["doctor"], ["doctor", "env"],
                                     ["doctor", "env", "check"],
                                     ["doctor", "env", "show"]])
def test_every_command_has_help_with_an_example(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    if command and command != ["doctor", "env"]:
        assert "Example:" in result.output


def test_bad_env_value_exits_2_with_one_clear_line(tmp_path):
    (tmp_path / ".env").write_text("WS_PORT=eighty\n")
    for command in (["collect", "--source", "sim", "--duration", "0"], ["serve"],
                    ["tail", "EURUSD", "--count", "1"]):
        result = invoke(*command)
        assert result.exit_code == 2, (command, result.output)
        assert "WS_PORT" in result.output and "e.g. WS_PORT=8000" in result.output
        assert "Traceback" not in result.output


def test_mt5_source_missing_exits_2_with_a_hint():
    result = invoke("collect", "--duration", "1")  # default source is mt5
    assert result.exit_code == 2
    assert "MT5_BRIDGE" in result.output and "--source sim" in result.output


def test_doctor_env_check_warns_about_quotes_and_unknown_keys(tmp_path):
    (tmp_path / ".env").write_text('SYMBOLS="EURUSD"\nSYMBLOS=GBPUSD\n')
    result = invoke("doctor", "env", "check", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["setting SYMBOLS"] == "warn"
    assert statuses["setting SYMBLOS"] == "warn"
    fixes = " ".join(c["fix"] for c in report["checks"])
    assert "did you mean SYMBOLS" in fixes


def test_doctor_env_check_fails_on_a_bad_type(tmp_path):
    (tmp_path / ".env").write_text("REDIS_MAXLEN=lots\n")
    result = invoke("doctor", "env", "check", "--json")
    assert result.exit_code == 1
    failed = [c for c in json.loads(result.output)["checks"] if c["status"] == "fail"]
    assert failed[0]["name"] == "setting REDIS_MAXLEN"


def test_doctor_env_show_says_where_values_came_from_and_masks_secrets(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("MT5_PASSWORD=hunter2\nSYMBOLS=EURUSD\n")
    monkeypatch.setenv("WS_PORT", "9100")
    result = invoke("doctor", "env", "show", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["SYMBOLS"]["source"] == ".env" and rows["WS_PORT"]["source"] == "environment"
    assert rows["WS_HOST"]["source"] == "default"
    assert rows["MT5_PASSWORD"]["value"] == "********"
    assert "hunter2" not in result.output


def test_env_example_copied_as_is_is_clean(tmp_path):
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    result = invoke("doctor", "env", "check", "--json")
    assert result.exit_code == 0
    assert all(c["status"] == "pass" for c in json.loads(result.output)["checks"]), result.output


def test_doctor_runs_every_check(tmp_path):
    result = invoke("doctor", "--json", "--env-file", str(tmp_path / "missing.env"))
    names = [c["name"] for c in json.loads(result.output)["checks"]]
    assert result.exit_code == 0, result.output
    for expected in ("python", "settings", "mt5: MetaTrader5", "kafka"):
        assert expected in names
    assert any(n.startswith("sqlite store") for n in names)
    assert any(n.startswith("port ") for n in names)


def test_collect_sim_writes_the_store(tmp_path):
    result = invoke("collect", "--source", "sim", "--symbols", "EURUSD,XAUUSD", "--rate", "500",
                    "--duration", "0.5", "--env-file", str(tmp_path / "none.env"))
    assert result.exit_code == 0, result.output
    from arbitrex.stores.sqlite import SqliteStore

    store = SqliteStore(Path("data/ticks.db"))
    assert {s for _, s in store.streams()} == {"EURUSD", "XAUUSD"}
    store.close()


def test_version_and_shell_completion():
    from arbitrex import __version__

    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"arbitrex {__version__}"
    assert __version__ != "0+unknown"  # installed: the version comes from the package
    help_text = invoke("--help").output
    assert "--install-completion" in help_text and "--show-completion" in help_text


def test_bad_usage_names_the_flag_and_exits_2():
    result = invoke("tail", "EURUSD", "--url", "http://127.0.0.1:1/ws")
    assert result.exit_code == 2
    assert "--url: 'http://127.0.0.1:1/ws' is not a WebSocket URL" in result.output
    result = invoke("collect", "--source", "carrier-pigeon", "--duration", "0")
    assert result.exit_code == 2 and "--source: unknown source" in result.output
    result = invoke("collect", "--source", "sim", "--store", "mongo", "--duration", "0")
    assert result.exit_code == 2 and "--store (TICK_QUEUE_BACKEND):" in result.output


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_a_bug_is_one_line_unless_debugging(monkeypatch, capsys, level):
    from arbitrex import cli

    def broken(settings):
        secret = "hunter" + str(2) + "-local"  # a local: its value must never be printed
        raise RuntimeError(f"boom {len(secret)}")

    monkeypatch.setattr("arbitrex.cli.export.open_store", broken)
    monkeypatch.setenv("LOG_LEVEL", level)
    monkeypatch.setattr(sys, "argv", ["arbitrex", "export", "--out", "x.ndjson"])
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert "RuntimeError" in err and "boom 13" in err and "hunter2-local" not in err
    if level == "DEBUG":
        assert "Traceback" in err
    else:
        assert "Traceback" not in err and "LOG_LEVEL=DEBUG" in err


@pytest.mark.parametrize("level, shown", [("INFO", False), ("DEBUG", True)])
def test_a_client_failing_its_handshake_is_not_logged_as_an_error(capsys, level, shown):
    """Some websockets versions log a dropped handshake (a port probe) as an error with a
    traceback; the server's log keeps it only under LOG_LEVEL=DEBUG."""
    import logging

    from arbitrex.cli.common import setup_logging

    setup_logging(level)
    try:
        raise EOFError("connection closed while reading HTTP request line")
    except EOFError:
        logging.getLogger("websockets.server").error("opening handshake failed", exc_info=True)
    logging.getLogger("websockets.server").warning("something else")
    err = capsys.readouterr().err
    assert ("opening handshake failed" in err) is shown and "something else" in err
