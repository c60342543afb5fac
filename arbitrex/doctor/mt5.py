"""Each MetaTrader 5 venue's checks: package or bridge, terminal, account, symbols, clock."""

from __future__ import annotations

import importlib.util
import time

from arbitrex.clock import BrokerClock
from arbitrex.doctor.report import Check
from arbitrex.errors import AuthFailed, BridgeDown, CallFailed, SourceUnavailable
from arbitrex.sources.mt5.bridge import BridgeApi, parse_bridge
from arbitrex.sources.mt5.terminal import Terminal, load_api
from arbitrex.sources.mt5.venues import Venue

__all__ = ["mt5_checks"]


def _bridge(bridge: str) -> Check:
    host, port = parse_bridge(bridge)
    api = BridgeApi(host, port, call_timeout=10.0)
    try:
        python, package = api.versions()
    except BridgeDown as exc:
        return Check("MetaTrader5", "fail", str(exc),
                     "start the RPyC classic server in the Windows Python under Wine (README: "
                     "The Linux bridge), or fix MT5_BRIDGE")
    except SourceUnavailable as exc:
        return Check("MetaTrader5", "fail", str(exc),
                     "pip install MetaTrader5 in the Python that runs the bridge server")
    finally:
        api.disconnect()
    return Check("MetaTrader5", "pass", f"bridge {bridge}: Python {python}, MetaTrader5 "
                 f"{package}")


def _mt5_package(bridge: str | None) -> Check:
    if bridge:
        return _bridge(bridge)
    if importlib.util.find_spec("MetaTrader5") is not None:
        return Check("MetaTrader5", "pass", "package importable")
    return Check("MetaTrader5", "warn", "package not installed (only --source sim works)",
                 "Windows: pip install 'arbitrex[mt5]'; Linux: run the terminal under Wine "
                 "and set MT5_BRIDGE=host:port")


def mt5_checks(venue: Venue, *, timeout_ms: int = 5000, now_ms: int | None = None
               ) -> list[Check]:
    """Package, terminal, account, symbols and broker clock of one venue."""
    package = _mt5_package(venue.mt5_bridge)
    package = Check(f"{venue.name}: {package.name}", package.status, package.detail, package.fix)
    if package.status != "pass":
        return [package]
    prefix = f"{venue.name}: "
    terminal = Terminal(load_api(venue.mt5_bridge), path=venue.mt5_path, login=venue.mt5_login,
                        password=venue.mt5_password.reveal() if venue.mt5_password else None,
                        server=venue.mt5_server,
                        timeout_ms=min(timeout_ms, venue.mt5_timeout_ms))
    checks = [package]
    try:
        terminal.connect()
    except AuthFailed as exc:
        return checks + [Check(prefix + "account", "fail", str(exc),
                               "check MT5_LOGIN, MT5_PASSWORD and MT5_SERVER")]
    except CallFailed as exc:
        return checks + [Check(prefix + "terminal", "fail", str(exc),
                               "start the terminal, check MT5_PATH (or MT5_BRIDGE)")]
    try:
        version = terminal.call("version")
        checks.append(Check(prefix + "terminal", "pass", f"reachable, build {version[1]}"))
        try:
            account = terminal.call("account_info")
            checks.append(Check(prefix + "account", "pass",
                                f"logged in as {account.login} on {account.server}"))
        except CallFailed as exc:
            checks.append(Check(prefix + "account", "fail", f"not logged in: {exc}",
                                "log in in the terminal, or set MT5_LOGIN/PASSWORD/SERVER"))
        good, bad = [], []
        for symbol in venue.symbols:
            name = venue.aliases.get(symbol, symbol)
            try:
                terminal.call("symbol_select", name, True)
                good.append(symbol)
            except CallFailed as exc:
                bad.append(f"{name} ({exc.terminal_message})")
        checks.append(Check(prefix + "symbols", "warn" if bad else "pass",
                            f"{len(good)} selectable" + (f"; not: {', '.join(bad)}" if bad
                                                          else ""),
                            "fix SYMBOLS or the venue's aliases" if bad else ""))
        checks.append(_broker_clock(terminal, venue, good, now_ms))
    finally:
        terminal.shutdown()
    return checks


def _broker_clock(terminal: Terminal, venue: Venue, symbols: list[str], now_ms: int | None
                  ) -> Check:
    name = f"{venue.name}: broker clock"
    clock = BrokerClock(venue.broker_timezone)
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    newest = None
    for symbol in symbols:
        try:
            info = terminal.call("symbol_info_tick", venue.aliases.get(symbol, symbol))
        except CallFailed:
            continue
        newest = max(newest or 0, int(info.time_msc))
    if newest is None:
        return Check(name, "warn", "no tick to compare with", "retry while the market is open")
    ahead_s = (clock.to_utc_msc(newest) - now_ms) / 1000
    implied = round((newest - now_ms) / 3_600_000, 1)
    if ahead_s > 120:
        return Check(name, "fail", f"the newest tick converts to {ahead_s:.0f} s in the future "
                     f"with BROKER_TIMEZONE={venue.broker_timezone}",
                     f"set BROKER_TIMEZONE to the broker's zone (the clock looks like UTC"
                     f"{implied:+g} h now; e.g. Europe/Athens for UTC+2/+3 brokers)")
    if ahead_s < -3600:
        return Check(name, "warn", f"the newest tick is {-ahead_s / 3600:.1f} h old (market "
                     "closed?): cannot judge BROKER_TIMEZONE", "check again while it trades")
    return Check(name, "pass", f"newest tick {-ahead_s:.1f} s ago in UTC "
                 f"(BROKER_TIMEZONE={venue.broker_timezone})")
