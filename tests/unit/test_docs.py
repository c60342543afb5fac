"""The README's commands exist and use only options their --help lists."""

import random
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from arbitrex.cli import app
from tests.conftest import REPO, clean_env

README = (REPO / "README.md").read_text()
SUBCOMMANDS = {"archive", "collect", "serve", "tail", "replay", "export", "doctor", "env",
               "episodes", "report",
               "check", "show", "up"}


def readme_commands() -> list[str]:
    """Lines starting with `arbitrex ` inside ```bash blocks."""
    commands, language = [], None
    for line in README.splitlines():
        if line.startswith("```"):
            language = None if language is not None else (line[3:].strip() or "text")
        elif language == "bash" and line.strip().startswith("arbitrex "):
            commands.append(line.strip().split("  #")[0].split(" &")[0].strip())
    return commands


def command_path(line: str) -> list[str]:
    words = line.split()[1:]
    path = []
    for word in words:
        if word in SUBCOMMANDS:
            path.append(word)
        else:
            break
    return path


def test_readme_shows_every_command():
    shown = {" ".join(command_path(line)) for line in readme_commands()}
    for command in ("up", "collect", "serve", "tail", "replay", "export", "archive", "doctor",
                    "episodes", "report",
                    "doctor env check",
                    "doctor env show"):
        assert command in shown, command


@pytest.mark.parametrize("line", readme_commands())
def test_readme_command_matches_help(line):
    path = command_path(line)  # [] for the root's own options (--version)
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, line
    help_text = result.output
    for option in re.findall(r"(--[a-z][a-z-]*)", line):
        assert option in help_text, f"{line}: {option} is not in `arbitrex {' '.join(path)} --help`"


def test_readme_settings_table_lists_every_setting():
    from arbitrex.config import FIELDS

    for spec in FIELDS:
        assert f"`{spec.name}`" in README, spec.name


def test_the_readme_client_example_runs() -> None:
    """The README's arbitrex.client example, run as it is against a real server."""
    import subprocess
    import sys
    import time

    from arbitrex.model.tick import Tick
    from arbitrex.stores.memory import MemoryStore
    from tests.unit.stream.servers import Server

    code = README.split("```python\nimport asyncio\nfrom arbitrex.client")[1].split("```")[0]
    code = "import asyncio\nfrom arbitrex.client" + code
    store = MemoryStore()
    store.add([Tick("sim", "EURUSD", i, 1_800_000_000_000 + i, 1.1, 1.1002, 0.0, 0, 0.0, 6,
                    time.time_ns(), 0) for i in range(1, 151)])
    server = Server(store)
    try:
        out = subprocess.run([sys.executable, "-c", code.replace("8000", str(server.port))],
                             capture_output=True, text=True, timeout=60, cwd=REPO)
    finally:
        server.close()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "sim EURUSD 1 1.1 1.1002" and lines[-1].startswith("sim EURUSD 100 ")
    assert len(lines) == 100


def test_the_quick_start_installs_what_parquet_needs():
    """The quick start installs the package alone (`pip install -e .`): the archive, the
    README's first export (to .parquet) and `replay FILE.parquet` need pyarrow there."""
    from importlib.metadata import requires

    core = [r for r in requires("arbitrex") or [] if "extra ==" not in r]
    assert any(r.startswith("pyarrow") for r in core), core
    first_export = next(c for c in readme_commands() if c.startswith("arbitrex export"))
    assert ".parquet" in first_export


def test_nothing_points_outside_the_repository():
    """README, docs/ and the code cite only what a clone holds; every link resolves."""
    texts = [REPO / "README.md", *(REPO / "docs").glob("*.md"),
             *(REPO / "arbitrex").rglob("*.py"), *(REPO / "scripts").rglob("*.py"),
             *(REPO / "scripts").glob("*.sh")]
    for path in texts:
        text = path.read_text(encoding="utf-8")
        for outside in ("../shared", "SPEC.md", "MT5_FACTS"):
            assert outside not in text, f"{path.relative_to(REPO)} cites {outside}"
        if path.suffix == ".md":
            for target in re.findall(r"\]\(([^)#:]+)\)", text):
                assert (path.parent / target).exists(), f"{path.name} links {target}"
    for cited in set(re.findall(r"docs/[A-Z]+\.md", "".join(p.read_text() for p in texts))):
        assert (REPO / cited).exists(), cited


@pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                    reason="docs/API.md is generated on CPython 3.11 (signatures print "
                           "differently on other versions)")
def test_the_api_page_is_generated_from_the_current_code():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "api_doc.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_readme_episodes_example_runs(tmp_path):
    """The README's arbitrex.episodes example, run as it is over a store with one episode."""
    from arbitrex.stores.sqlite import SqliteStore
    from tests.history import make_tick

    code = README.split("```python\nimport arbitrex.episodes\n")[1].split("```")[0]
    store = SqliteStore(tmp_path / "ticks.db")
    t0, s = 1_800_000_000_000, 10**9
    store.append([make_tick(venue="icm", ms=t0, bid=1.10005, ask=1.10007, recv_ns=s),
                  make_tick(venue="pep", ms=t0, bid=1.10001, ask=1.10003, recv_ns=2 * s),
                  make_tick(venue="pep", ms=t0 + 1, bid=1.10006, ask=1.10008, recv_ns=3 * s)])
    store.close()
    (tmp_path / ".env").write_text(f"SQLITE_PATH={tmp_path / 'ticks.db'}\n")
    out = subprocess.run([sys.executable, "-c", "import arbitrex.episodes\n" + code],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env=clean_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["EURUSD icm -> pep 1 1000.0"]


def test_the_readme_report_example_runs(tmp_path):
    """The README's arbitrex.report example, run as it is over a store of two venues whose
    quotes follow one path, the second 200 ms late."""
    from arbitrex.stores.sqlite import SqliteStore
    from tests.history import make_tick

    code = README.split("```python\nimport arbitrex.report\n")[1].split("```")[0]
    store = SqliteStore(tmp_path / "ticks.db")
    ticks, mid, rng = [], 1.1, random.Random(1)
    for i in range(3000):  # a move every 20 ms for a minute
        mid = round(mid + rng.choice((-1, 1)) * 1e-5, 5)
        for venue, late in (("icm", 0), ("pep", 200)):
            at = 1_800_000_000_000 + i * 20 + late
            ticks.append(make_tick(venue=venue, ms=at, bid=mid, ask=round(mid + 2e-5, 5),
                                   recv_ns=at * 1_000_000 + 3_000_000))
    store.append(sorted(ticks, key=lambda t: t.recv_ns))
    store.close()
    (tmp_path / ".env").write_text(f"SQLITE_PATH={tmp_path / 'ticks.db'}\n")
    out = subprocess.run([sys.executable, "-c", "import arbitrex.report\n" + code],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env=clean_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["icm leads pep by 200.0 ms"]
