"""The main job, scripts/demo.py, as a user runs it: every stop reaches `up` and leaves no
process behind; a set-up failure is one line with the fix."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys

import psutil
import pytest

from tests.conftest import REPO, clean_env, free_port, port_open, wait_for


def start_demo(tmp_path, port: int) -> subprocess.Popen[bytes]:
    env = clean_env(WS_PORT=str(port), SQLITE_PATH=str(tmp_path / "ticks.db"), RATE="20")
    with open(tmp_path / "demo.log", "wb") as log:  # the child keeps its own copy
        return subprocess.Popen([sys.executable, str(REPO / "scripts" / "demo.py")], env=env,
                                stdout=log, stderr=log, start_new_session=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_sent_to_the_demo_stops_up_and_every_child(tmp_path, sig):
    port = free_port()
    demo = start_demo(tmp_path, port)
    wait_for(lambda: port_open(port) or demo.poll() is not None, timeout=60,
             what="the demo's server")
    assert demo.poll() is None, (tmp_path / "demo.log").read_text()
    wait_for(lambda: len(psutil.Process(demo.pid).children(recursive=True)) >= 5,
             what="up, collect, serve and the venue workers")
    family = psutil.Process(demo.pid).children(recursive=True)
    os.kill(demo.pid, sig)
    assert demo.wait(timeout=40) == 0, (tmp_path / "demo.log").read_text()
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
    assert not port_open(port)


def copy_of_demo(tmp_path):
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "demo.py", root / "scripts" / "demo.py")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_a_venv_without_pip_is_one_line_with_the_fix(tmp_path):
    root = copy_of_demo(tmp_path)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")],
                   check=True)
    result = subprocess.run([sys.executable, str(root / "scripts" / "demo.py")],
                            capture_output=True, text=True, timeout=60, env=clean_env())
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "demo: set-up failed: .venv has no pip; remove it (rm -rf .venv) and run this again "
        "(on Debian/Ubuntu, with python3-venv installed)")
    assert "Traceback" not in result.stderr


def test_no_ensurepip_names_python3_venv(tmp_path, monkeypatch, capsys):
    """Debian's Python without python3-venv: ensurepip fails while the venv is made (its
    `venv -I` child ignores any PYTHONPATH, so the failure is made in process)."""
    spec = importlib.util.spec_from_file_location("demo", REPO / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    monkeypatch.setattr(demo, "PYTHON", tmp_path / "none" / "python")
    monkeypatch.setattr(sys, "platform", "linux")

    def no_ensurepip(self, env_dir):
        raise subprocess.CalledProcessError(1, ["python", "-m", "ensurepip"])

    monkeypatch.setattr(demo.venv.EnvBuilder, "create", no_ensurepip)
    assert demo.main() == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("demo: set-up failed: cannot create .venv with pip in it")
    assert "sudo apt install python3-venv" in last and "rm -rf .venv" in last
