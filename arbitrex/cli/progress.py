"""The one progress bar: a count with ETA on a terminal (stderr), nothing otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["counted", "progress"]

T = TypeVar("T")


@contextmanager
def progress(label: str, total: int | Callable[[], int]) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``. ``total`` may be a function: it is then only called on a
    terminal (counting can cost a query)."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    with Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TimeRemainingColumn(), transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total() if callable(total) else total)
        yield lambda n: bar.advance(task, n)


def counted(items: Iterable[T], advance: Callable[[int], None], *, every: int = 5000
            ) -> Iterator[T]:
    """``items``, advancing the bar every ``every`` items (and by the rest at the end)."""
    n = 0
    for item in items:
        yield item
        n += 1
        if n == every:
            advance(n)
            n = 0
    if n:
        advance(n)
