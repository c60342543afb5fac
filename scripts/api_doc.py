"""Write docs/API.md, the stable Python API, from the docstrings and signatures of the code.

    python scripts/api_doc.py            # rewrite docs/API.md
    python scripts/api_doc.py --check    # exit 1 when docs/API.md differs from the code

tests/unit/test_docs.py runs the check, so the page never drifts from the code.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "API.md"
#: The modules of the stable API, in the page's order.
MODULES = ("arbitrex.model", "arbitrex.client", "arbitrex.history", "arbitrex.episodes",
           "arbitrex.report", "arbitrex.errors")


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):  # a builtin or a C type without one
        return ""


def _doc(obj: Any) -> str:
    return inspect.getdoc(obj) or ""


def _entry(name: str, obj: Any) -> list[str]:
    if inspect.isclass(obj):
        head = f"### class `{name}`"
        fields = getattr(obj, "_fields", None)
        lines = [head, "", _doc(obj)]
        if fields:
            lines += ["", "Fields: " + ", ".join(f"`{f}`" for f in fields) + "."]
        methods = [(m, getattr(obj, m)) for m in sorted(vars(obj)) if not m.startswith("_")
                   and (inspect.isfunction(getattr(obj, m)) or isinstance(vars(obj)[m],
                                                                           classmethod))]
        for method, func in methods:
            lines += ["", f"- `{name}.{method}{_signature(func)}`: "
                      + (_doc(func).split("\n\n")[0].replace("\n", " ") or "")]
        return [*lines, ""]
    if callable(obj):
        return [f"### `{name}{_signature(obj)}`", "", _doc(obj), ""]
    return [f"### `{name}`", "", f"`{obj!r}`" if not isinstance(obj, ModuleType) else "", ""]


def render() -> str:
    lines = ["# The Python API", "",
             "Generated from the code by `python scripts/api_doc.py` (a test checks it is "
             "current). `import arbitrex` gives the values and the errors at the top level; "
             "`arbitrex.client` and `arbitrex.history` are imported on first use. What is not "
             "here is the command line's and may change.", ""]
    for name in MODULES:
        module = importlib.import_module(name)
        lines += [f"## `{name}`", "", _doc(module), ""]
        for exported in module.__all__:
            lines += _entry(exported, getattr(module, exported))
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip() + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare, do not write")
    a = ap.parse_args()
    text = render()
    if a.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is not current: python scripts/api_doc.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print("wrote", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
