"""The command line through CliRunner (fast) and as a real subprocess (the console script)."""

import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import clean_env

runner = CliRunner()


def test_console_script_and_module_both_run():
    exe = shutil.which("arbitrex", path=str(Path(sys.executable).parent)) or shutil.which(
        "arbitrex")
    assert exe, "the arbitrex console script is not installed (pip install -e .)"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60,
                         env=clean_env())
    assert out.returncode == 0 and "collect" in out.stdout


