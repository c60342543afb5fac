"""The declared Python API: every module says what it exports, and what it says exists."""

from __future__ import annotations

import importlib
import pkgutil

import arbitrex


def modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(arbitrex.__path__, "arbitrex.")
            if not m.name.endswith("__main__")]


def test_every_module_declares_its_names_and_they_exist():
    for name in modules():
        module = importlib.import_module(name)
        if not hasattr(module, "__all__"):
            assert module.__file__ is not None and module.__file__.endswith("__init__.py"), name
            continue
        for exported in module.__all__:
            assert hasattr(module, exported), f"{name}.__all__ names {exported}, which is missing"


def test_the_top_level_gives_the_values_errors_and_the_lazy_modules():
    for name in arbitrex.__all__:
        assert getattr(arbitrex, name) is not None
    assert arbitrex.Tick is importlib.import_module("arbitrex.model").Tick
    assert arbitrex.history.History is importlib.import_module("arbitrex.history").History
