"""Which event loop runs the servers: auto takes the fast one when installed, asyncio opts
out, a fast loop asked for by name and missing is a configuration error naming pip."""

from __future__ import annotations

import asyncio
import sys

import pytest

from arbitrex.errors import MissingPackage
from arbitrex.runtime import loops


async def loop_name() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_opts_out():
    assert loops.which("asyncio") == "asyncio"
    assert loops.run(loop_name(), "asyncio").startswith("asyncio")


def test_auto_takes_uvloop_where_it_is_installed():
    pytest.importorskip("uvloop")
    assert loops.which("auto") == loops.FAST == "uvloop"
    assert loops.run(loop_name(), "auto").startswith("uvloop")


def test_auto_without_the_fast_loop_is_asyncio(monkeypatch):
    monkeypatch.setitem(sys.modules, loops.FAST, None)  # import fails as if not installed
    assert loops.which("auto") == "asyncio"


def test_a_missing_loop_asked_for_by_name_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "winloop", None)
    with pytest.raises(MissingPackage) as caught:
        loops.which("winloop")
    assert "pip install 'arbitrex[fast]'" in str(caught.value)
    assert "--loop asyncio" in str(caught.value)
