"""Which asyncio event loop runs ``serve`` and ``replay --port``: uvloop on Linux and macOS,
winloop on Windows (``pip install 'arbitrex[fast]'``: both are libuv, and a server whose
hot path is socket writes spends less of its time in the loop), or asyncio's own.

``EVENT_LOOP`` (``--loop``): ``auto`` (the default) takes the fast one when it is installed
and asyncio's otherwise; ``asyncio`` opts out; ``uvloop`` or ``winloop`` insist (a
configuration error naming the pip command when it is missing).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from arbitrex.errors import MissingPackage

__all__ = ["CHOICES", "FAST", "run", "which"]

log = logging.getLogger(__name__)

T = TypeVar("T")
CHOICES = ("auto", "asyncio", "uvloop", "winloop")
#: The fast loop of this OS.
FAST = "winloop" if sys.platform == "win32" else "uvloop"


def which(choice: str) -> str:
    """The loop ``choice`` comes to here: ``asyncio``, ``uvloop`` or ``winloop``."""
    if choice == "asyncio":
        return "asyncio"
    wanted = FAST if choice == "auto" else choice
    try:
        importlib.import_module(wanted)
    except ImportError:
        if choice == "auto":
            return "asyncio"
        raise MissingPackage(wanted, f"--loop {choice}", "fast", "or use --loop asyncio") \
            from None
    return wanted


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """``asyncio.run(main)`` on the loop ``choice`` names."""
    loop = which(choice)
    log.debug("event loop: %s", loop)
    if loop == "asyncio":
        return asyncio.run(main)
    module: Any = importlib.import_module(loop)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=module.new_event_loop) as runner:
            return runner.run(main)
    asyncio.set_event_loop_policy(module.EventLoopPolicy())  # pragma: no cover (3.10)
    try:
        return asyncio.run(main)
    finally:
        asyncio.set_event_loop_policy(None)
