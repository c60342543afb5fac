"""What a process is to do, decided once: a plan per process, and the one codec that hands it
to a child.

A command builds its plan from its flags once; a parent hands a child the plan itself
(``--plan JSON`` on its command line, through ``to_json``/``from_json``), never flags
rendered again or roles in environment variables:

    CollectPlan   collect: the source, the store, the run, and the process's ``role``:
                  ``main`` (started by a user: on a terminal the live table; supervises one
                  worker per venue; archives daily with RETAIN_DAYS), ``worker`` (one venue
                  under a collect parent), or ``up`` (collect as a child of up: log lines,
                  archives daily)
    ServePlan     serve under up
    ArchivePlan   the archiving child that collect starts once a day (``python -m
                  arbitrex.archive``: the engine, not the command line)

Settings (``.env``, the environment) are not in a plan: each process loads them itself
from ``env_file``, with the plan's flags on top, as any command does.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, TypeVar

import orjson

from arbitrex.errors import ConfigError

__all__ = ["ArchivePlan", "CollectPlan", "Role", "ServePlan", "from_json", "to_json"]

P = TypeVar("P", "CollectPlan", "ServePlan", "ArchivePlan")
Role = Literal["main", "worker", "up"]


def to_json(plan: CollectPlan | ServePlan | ArchivePlan) -> str:
    return orjson.dumps(asdict(plan)).decode()


def from_json(kind: type[P], text: str) -> P:
    """A plan back from ``to_json`` (ConfigError naming ``plan`` when it is not one)."""
    try:
        data: dict[str, Any] = orjson.loads(text)
        tuples = {f.name for f in fields(kind) if str(f.type).startswith("tuple")}
        values: dict[str, Any] = {k: tuple(v) if k in tuples else v for k, v in data.items()}
        return kind(**values)
    except (orjson.JSONDecodeError, TypeError, AttributeError) as exc:
        raise ConfigError("plan", f"not a {kind.__name__}: {exc}",
                          "--plan is for arbitrex's own child processes") from None


def _command(name: str, plan: CollectPlan | ServePlan) -> list[str]:
    return [sys.executable, "-m", "arbitrex", name, "--plan", to_json(plan)]


@dataclass(frozen=True)
class CollectPlan:
    """One collect process (see the module)."""

    # The source
    source: str = "mt5"
    symbols: str | None = None  # --symbols as given (None: the SYMBOLS setting)
    file: str | None = None
    rate: float = 50.0
    seed: int = 0
    config: str | None = None  # the venues file (MT5), when there is one
    venues: tuple[str, ...] = ()  # simulated brokers
    venue: str | None = None  # this process's one venue
    poll_interval: float | None = None
    # The store and the settings
    store: str | None = None
    env_file: str = ".env"
    # The run
    duration: float | None = None
    metrics_port: int | None = None
    started_ns: int = 0  # a symbol new to the store is collected from this instant
    role: Role = "main"
    board: bool = False  # a worker whose parent draws the table: no status lines of its own

    def flags(self) -> dict[str, Any]:
        """The settings this plan's flags override."""
        return {"SYMBOLS": self.symbols, "TICK_QUEUE_BACKEND": self.store}

    def worker(self, venue: str, *, board: bool) -> CollectPlan:
        """The plan of the worker that collects ``venue`` under this one."""
        return replace(self, venue=venue, role="worker", board=board, metrics_port=None)

    def command(self) -> list[str]:
        return _command("collect", self)

    @property
    def archives(self) -> bool:
        """Whether this process runs the daily archiving (not a venue's worker)."""
        return self.role != "worker"


@dataclass(frozen=True)
class ServePlan:
    """serve as a child of up."""

    host: str
    port: int
    store: str | None = None
    env_file: str = ".env"
    config: str | None = None  # the venues file: its [costs.VENUE] tables

    def command(self) -> list[str]:
        return _command("serve", self)


@dataclass(frozen=True)
class ArchivePlan:
    """One run of the archive engine in a child of collect."""

    days: int
    store: str | None = None
    env_file: str = ".env"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "arbitrex.archive", to_json(self)]
