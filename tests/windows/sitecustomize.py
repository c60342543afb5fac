"""Windows' constraints, forced on Linux inside every Python process that starts with this
folder on PYTHONPATH and ARBITREX_FORCE_WINDOWS=1 (scripts/test.sh runs the end-to-end tests
of collect, serve, tail, replay and up a second time so):

- asyncio's add_signal_handler, add_reader and add_writer raise NotImplementedError, as on
  Windows' default (proactor) event loop;
- creating an AF_UNIX socket raises OSError;
- the tests stop processes with SIGINT (Ctrl-C), never SIGTERM (tests/conftest.py);
- the event loop is asyncio's own (EVENT_LOOP=asyncio), whose constraints are the ones
  forced here (winloop, the fast loop on Windows, cannot run on Linux).

What arbitrex does on Windows must then work here too, or these runs fail.
"""

from __future__ import annotations

import os

if os.environ.get("ARBITREX_FORCE_WINDOWS") == "1":
    os.environ.setdefault("EVENT_LOOP", "asyncio")
    import asyncio.selector_events
    import asyncio.unix_events
    import errno
    import socket
    from typing import Any, NoReturn

    def _not_on_windows(*args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("not available on Windows' proactor loop (forced by "
                                  "tests/windows/sitecustomize.py)")

    for _name in ("add_reader", "remove_reader", "add_writer", "remove_writer"):
        setattr(asyncio.selector_events.BaseSelectorEventLoop, _name, _not_on_windows)
    for _name in ("add_signal_handler", "remove_signal_handler"):
        setattr(asyncio.unix_events._UnixSelectorEventLoop, _name, _not_on_windows)

    class _Socket(socket.socket):
        def __init__(self, family: Any = -1, type: Any = -1, proto: int = -1,
                     fileno: int | None = None) -> None:
            if fileno is None and family == socket.AF_UNIX:
                raise OSError(errno.EAFNOSUPPORT, "AF_UNIX sockets are not available "
                              "(Windows forced by tests/windows/sitecustomize.py)")
            super().__init__(family, type, proto, fileno)

    socket.socket = _Socket  # type: ignore[misc]
