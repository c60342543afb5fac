"""Every check of the environment, in order, each with its fix. Nothing is changed.

``run_checks`` returns ``Check`` rows (pass / warn / fail); the CLI renders them.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from arbitrex import __version__
from arbitrex.config import Problem, Settings, check_settings, load_costs
from arbitrex.doctor.archive import archive_check
from arbitrex.doctor.lag import clock_checks, lag_checks
from arbitrex.doctor.leases import lease_checks
from arbitrex.doctor.mt5 import mt5_checks
from arbitrex.doctor.report import Check
from arbitrex.doctor.stores import redis_checks, sqlite_check
from arbitrex.errors import ArbitrexError
from arbitrex.report.figures import zones_of
from arbitrex.sources.mt5.venues import declares_venues, default_venue, load_venues
from arbitrex.stores import open_store
from arbitrex.stores.base import Archivable

__all__ = ["Check", "config_checks", "costs_check", "run_checks"]


def config_checks(env_file: Path) -> tuple[Settings | None, list[Check]]:
    """The configuration checks alone (``doctor env check``)."""
    try:
        settings, problems = check_settings(env_file=env_file)
    except ArbitrexError as exc:
        return None, [Check("config", "fail", str(exc), "fix the file or pass --env-file")]
    checks = [_problem_check(p) for p in problems]
    if not env_file.exists():
        checks.insert(0, Check(f"env file {env_file}", "warn", "not found: defaults and the "
                               "environment are used", "cp .env.example .env (Windows: "
                               "copy .env.example .env) and edit it"))
    if not any(c.status == "fail" for c in checks):
        checks.append(Check("settings", "pass", "every setting parses"))
    return settings, checks


def _problem_check(problem: Problem) -> Check:
    return Check(f"setting {problem.setting}", problem.level, problem.message, problem.fix)


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", "pass", f"Python {version}, arbitrex {__version__}")


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


def _kafka(settings: Settings) -> Check:
    if settings.kafka_bootstrap_servers and settings.disable_kafka:
        return Check("kafka", "warn", "KAFKA_BOOTSTRAP_SERVERS is set but DISABLE_KAFKA=1, "
                     "so nothing is sent", "set DISABLE_KAFKA=0 to enable the sink")
    if settings.kafka_enabled:
        try:
            from confluent_kafka import KafkaException, Producer
        except ImportError:
            return Check("kafka", "fail", "enabled but confluent-kafka is not installed",
                         "pip install 'arbitrex[kafka]', or DISABLE_KAFKA=1")
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                             "socket.timeout.ms": 3000})
        try:
            metadata = producer.list_topics(timeout=5)
        except KafkaException as exc:
            return Check("kafka", "fail", f"enabled but unreachable at "
                         f"{settings.kafka_bootstrap_servers}: {exc}",
                         "start Kafka or fix KAFKA_BOOTSTRAP_SERVERS (or DISABLE_KAFKA=1)")
        return Check("kafka", "pass", f"reachable: {len(metadata.brokers)} brokers; topic "
                     f"{settings.kafka_topic}")
    return Check("kafka", "pass", "disabled (DISABLE_KAFKA=1)")


def _read_store(settings: Settings, config: Path | None) -> list[Check]:
    """Each venue's lag and clock, and the archive against the store."""
    try:
        store = open_store(settings)
        try:
            checks = [*lease_checks(store), *lag_checks(store)]
            if isinstance(store, Archivable):
                checks += clock_checks(store, store, zones_of(settings, config),
                                       settings.broker_timezone)
            checks.append(archive_check(Path(settings.archive_dir),
                                        store if isinstance(store, Archivable) else None))
            return checks
        finally:
            store.close()
    except ArbitrexError as exc:
        return [Check("store", "warn", f"the store could not be read: {exc}")]


def run_checks(env_file: Path, config: Path | None = None) -> list[Check]:
    """Every check: configuration first, then what the settings point at."""
    settings, checks = config_checks(env_file)
    checks.insert(0, _python())
    if settings is None:
        return checks
    store_checks = ([sqlite_check(settings)] if settings.backend == "sqlite"
                    else redis_checks(settings))
    checks.extend(store_checks)
    if store_checks[0].status == "pass":  # a file in WAL mode, a Redis that answers: read it
        checks.extend(_read_store(settings, config))
    checks.append(_port(settings))
    try:
        venues = (load_venues(config, settings)
                  if config is not None and config.exists() and declares_venues(config)
                  else [default_venue(settings)])
    except ArbitrexError as exc:
        checks.append(Check(f"venues {config}", "fail", str(exc), "fix the file"))
        venues = []
    for venue in venues:
        checks.extend(mt5_checks(venue))
    checks.append(costs_check(config))
    checks.append(_kafka(settings))
    return checks


def costs_check(config: Path | None) -> Check:
    """The [costs.VENUE] tables of the venues file, read as every command reads them."""
    try:
        costs = load_costs(config if config is not None and config.exists() else None)
    except ArbitrexError as exc:
        return Check("costs", "fail", str(exc), "fix the value in the venues file")
    if not costs:
        return Check("costs", "pass", "none configured: net edges equal edges")
    return Check("costs", "pass", ", ".join(f"{venue}: {len(symbols)} entries"
                                            for venue, symbols in sorted(costs.table.items())))
