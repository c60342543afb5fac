"""The README's commands exist and use only options their --help lists."""

import re

import pytest
from typer.testing import CliRunner

from arbitrex.cli import app
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
SUBCOMMANDS = {"collect", "serve", "tail", "replay", "export", "doctor", "env", "check", "show",
               "up"}


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
    for command in ("up", "collect", "serve", "tail", "replay", "export", "doctor",
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
