"""Checks of the environment, each with its fix. Pure reporting: nothing is changed.

``run_checks`` returns ``Check`` rows (pass / warn / fail); the CLI renders them.
"""

from __future__ import annotations

import importlib.util
import socket
import sqlite3
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from arbitrex.config import Problem, Settings, check_settings
from arbitrex.errors import ArbitrexError


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "pass", "warn" or "fail"
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def config_checks(env_file: Path) -> tuple[Settings | None, list[Check]]:
    """The configuration checks alone (``doctor env check``)."""
    try:
        settings, problems = check_settings(env_file=env_file)
    except ArbitrexError as exc:
        return None, [Check("config", "fail", str(exc), "fix the file or pass --env-file")]
    checks = [_problem_check(p) for p in problems]
    if not env_file.exists():
        checks.insert(0, Check(f"env file {env_file}", "warn", "not found: defaults and the "
                               "environment are used", "cp .env.example .env and edit it"))
    if not any(c.status == "fail" for c in checks):
        checks.append(Check("settings", "pass", "every setting parses"))
    return settings, checks


def _problem_check(problem: Problem) -> Check:
    return Check(f"setting {problem.setting}", problem.level, problem.message, problem.fix)


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", "pass", f"Python {version}")


def _sqlite(settings: Settings) -> Check:
    path = Path(settings.sqlite_path)
    name = f"sqlite store {path}"
    try:
        parent = path.parent if str(path.parent) else Path(".")
        if not path.exists():
            probe = parent
            while not probe.exists():
                probe = probe.parent
            if not _writable(probe):
                return Check(name, "fail", f"{probe} is not writable",
                             "set SQLITE_PATH to a writable place")
            return Check(name, "pass", "will be created on first collect")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            rows = db.execute("SELECT COUNT(*) FROM streams").fetchone()[0] if db.execute(
                "SELECT 1 FROM sqlite_master WHERE name='streams'").fetchone() else 0
        finally:
            db.close()
        if mode != "wal":
            return Check(name, "warn", f"journal mode {mode}, not WAL",
                         "run `arbitrex collect` once: it switches the file to WAL")
        return Check(name, "pass", f"WAL, {rows} streams, sqlite {sqlite3.sqlite_version}")
    except sqlite3.Error as exc:
        return Check(name, "fail", str(exc), "check SQLITE_PATH; move a damaged file aside")


def _writable(path: Path) -> bool:
    import os

    return os.access(path, os.W_OK)


def _port(settings: Settings) -> Check:
    name = f"port {settings.ws_host}:{settings.ws_port}"
    try:
        family = socket.AF_INET6 if ":" in settings.ws_host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((settings.ws_host, settings.ws_port))
    except OSError as exc:
        return Check(name, "warn", f"cannot bind: {exc.strerror} (a running serve, or another "
                     "program)", "stop the other program, or set WS_PORT / --port")
    return Check(name, "pass", "free for `arbitrex serve`")


def _mt5(settings: Settings) -> Check:
    if settings.mt5_bridge:
        found = importlib.util.find_spec("mt5linux") is not None
        return Check("MetaTrader5", "pass" if found else "fail",
                     f"bridge {settings.mt5_bridge}" + ("" if found else ", mt5linux missing"),
                     "" if found else "pip install mt5linux")
    if importlib.util.find_spec("MetaTrader5") is not None:
        return Check("MetaTrader5", "pass", "package importable")
    return Check("MetaTrader5", "warn", "package not installed (only --source sim works)",
                 "Windows: pip install 'arbitrex[mt5]'; Linux: run the terminal under Wine "
                 "and set MT5_BRIDGE=host:port")


def _kafka(settings: Settings) -> Check:
    if settings.kafka_bootstrap_servers and settings.disable_kafka:
        return Check("kafka", "warn", "KAFKA_BOOTSTRAP_SERVERS is set but DISABLE_KAFKA=1, "
                     "so nothing is sent", "set DISABLE_KAFKA=0 to enable the sink")
    if settings.kafka_enabled:
        return Check("kafka", "warn", "the Kafka sink is not part of this version",
                     "set DISABLE_KAFKA=1")
    return Check("kafka", "pass", "disabled (DISABLE_KAFKA=1)")


def run_checks(env_file: Path) -> list[Check]:
    """Every check: configuration first, then what the settings point at."""
    settings, checks = config_checks(env_file)
    checks.insert(0, _python())
    if settings is None:
        return checks
    if settings.backend == "sqlite":
        checks.append(_sqlite(settings))
    else:
        checks.append(Check("store", "warn", f"{settings.backend} store is not part of this "
                            "version", "set TICK_QUEUE_BACKEND=sqlite"))
    checks.append(_port(settings))
    checks.append(_mt5(settings))
    checks.append(_kafka(settings))
    return checks
