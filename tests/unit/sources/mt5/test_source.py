"""The MT5 source against the test double: no loss, no duplicate, survives the terminal."""

from __future__ import annotations

import logging
import time
import tracemalloc
from datetime import datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arbitrex.errors import AuthFailed, CallFailed, ConfigError, TerminalDown
from arbitrex.model.tick import MT5_TICK_DTYPE
from arbitrex.sources.mt5.cursor import Cursor, advance
from arbitrex.sources.mt5.terminal import Terminal
from arbitrex.stores.sqlite import SqliteStore
from arbitrex.testing.mt5 import FakeTerminal, Scenario, as_module
from tests.mt5_driver import SimClock, collect, make_source

T0 = 1_800_000_000.0  # a UTC instant, in seconds


def stored_rows(store: SqliteStore, symbol: str) -> list[tuple]:
    return [(t.broker_msc, t.bid, t.ask, t.last, t.volume, t.flags, t.volume_real)
            for t in store.read_after("icm", symbol, 0, 10**7)]


# The cursor


def test_cursor_skips_what_was_taken_at_the_same_millisecond():
    times = [1000, 1500, 1500, 1500, 1700]
    start, cur = advance(Cursor(1500, 2), times)
    assert start == 3 and cur == Cursor(1700, 1)
    start, cur = advance(Cursor(1700, 1), [1000, 1700])
    assert start == 2 and cur == Cursor(1700, 1)  # nothing new
    start, cur = advance(Cursor(1700, 1), [1000, 1700, 1700])
    assert start == 2 and cur == Cursor(1700, 2)  # an identical tick arrived in the same ms
    assert advance(Cursor(0, 0), []) == (0, Cursor(0, 0))
    assert Cursor(1_700_123, 1).from_second == 1700


# The double is faithful


def test_double_behaves_like_the_real_package():
    scenario = Scenario(ticks={"EURUSD": [(int(T0 * 1000) - 5, 1.1, 1.2, 0.0, 2**40, 134, 0.0)]},
                        login=5, password="pw", server="S")
    clock = SimClock(T0)
    mt5 = as_module(FakeTerminal(scenario, clock=clock))
    assert mt5.copy_ticks_from("EURUSD", 0, 10, mt5.COPY_TICKS_ALL) is None
    assert mt5.last_error() == (-10004, "No IPC connection")
    assert mt5.initialize(login=5, password="bad", server="S") is False
    assert mt5.last_error()[0] == -6
    assert mt5.initialize(login=5, password="pw", server="S") is True
    assert mt5.symbol_info_tick("EURUSD") is None  # not in Market Watch yet
    assert mt5.symbol_select("NOPE", True) is False and mt5.last_error()[0] == -4
    assert mt5.symbol_select("EURUSD", True) is True
    assert mt5.symbol_info_tick("EURUSD").time_msc == int(T0 * 1000) - 5
    rows = mt5.copy_ticks_from("EURUSD", datetime.fromtimestamp(T0 - 10), 10, -1)
    assert rows.dtype == MT5_TICK_DTYPE and len(rows) == 1
    assert isinstance(rows[0], np.void) and rows[0]["volume"].dtype == np.uint64
    empty = mt5.copy_ticks_from("EURUSD", T0 + 100, 10, -1)
    assert empty is not None and len(empty) == 0 and mt5.last_error() == (1, "Success")
    assert mt5.account_info()._asdict()["login"] == 5


# Failures


def scenario_at(symbols=("EURUSD", "GBPUSD"), seconds=20.0, **kwargs) -> Scenario:
    return Scenario.generate(list(symbols), start_ms=int(T0 * 1000) + 500, seconds=seconds,
                             rate=20, seed=11, **kwargs)


def test_unknown_symbol_is_named_and_skipped(caplog):
    clock = SimClock(T0)
    fake = FakeTerminal(scenario_at(), clock=clock)
    source = make_source(fake, clock, ["EURUSD", "XXXYYY"])
    with caplog.at_level(logging.WARNING):
        source.open({})
    assert source.active == ["EURUSD"]
    assert "XXXYYY is not available on this terminal: Terminal: Not found (-4)" in caplog.text
    clock.t += 5
    assert {t.symbol for t in source.poll(0)} == {"EURUSD"}
    assert "skipped XXXYYY" in source.status()


def test_aliases_map_broker_names_to_canonical_ones():
    clock = SimClock(T0)
    scenario = scenario_at(symbols=("EURUSD.a",))
    source = make_source(FakeTerminal(scenario, clock=clock), clock, ["EURUSD"],
                         aliases={"EURUSD": "EURUSD.a"})
    source.open({})
    clock.t += 5
    ticks = source.poll(0)
    assert ticks and {(t.venue, t.symbol) for t in ticks} == {("icm", "EURUSD")}


def test_failed_login_is_fatal_and_not_retried():
    clock = SimClock(T0)
    fake = FakeTerminal(scenario_at(login=7, password="right", server="S"), clock=clock)
    source = make_source(fake, clock, ["EURUSD"], login=7, password="wrong", server="S")
    with pytest.raises(ConfigError, match="MT5_PASSWORD.*refused the login .*Authorization"):
        source.open({})
    assert fake.calls["initialize"] == 1


def test_connects_once_and_never_re_authorizes_while_healthy():
    clock = SimClock(T0)
    fake = FakeTerminal(scenario_at(login=7, password="pw", server="S"), clock=clock)
    source = make_source(fake, clock, ["EURUSD", "GBPUSD"], login=7, password="pw", server="S")
    source.open({})
    for _ in range(200):
        clock.t += 0.05
        source.poll(0)
    assert fake.calls["initialize"] == 1 and "login" not in fake.calls


def test_password_never_in_repr():
    terminal = Terminal(object(), login=7, password="hunter2", server="S")
    assert "hunter2" not in repr(terminal)


def test_outage_is_noticed_reconnected_with_backoff_and_backfilled(tmp_path, caplog):
    scenario = scenario_at(seconds=30, outages=[(T0 + 5, T0 + 12, -10004)])
    with caplog.at_level(logging.INFO):
        store = collect(scenario, tmp_path / "t.db", start=T0, end=T0 + 40, step_ms=[50])
    for symbol in ("EURUSD", "GBPUSD"):
        assert stored_rows(store, symbol) == [tuple(r) for r in scenario.ticks[symbol]]
    text = caplog.text
    assert "terminal lost" in text and "reconnect attempt" in text and "reconnected" in text


def test_hung_terminal_timeouts_are_survived(tmp_path):
    scenario = scenario_at(seconds=20, outages=[(T0 + 3, T0 + 6, -10005)])
    store = collect(scenario, tmp_path / "t.db", start=T0, end=T0 + 30, step_ms=[70])
    assert stored_rows(store, "EURUSD") == [tuple(r) for r in scenario.ticks["EURUSD"]]


def test_terminal_down_at_start_is_retried_not_fatal(tmp_path):
    scenario = scenario_at(seconds=10, outages=[(T0 - 1, T0 + 3, -10004)])
    store = collect(scenario, tmp_path / "t.db", start=T0, end=T0 + 15, step_ms=[100])
    assert stored_rows(store, "GBPUSD") == [tuple(r) for r in scenario.ticks["GBPUSD"]]


def test_restart_after_a_pause_backfills_without_duplicates(tmp_path):
    scenario = scenario_at(seconds=20)
    path = tmp_path / "t.db"
    collect(scenario, path, start=T0, end=T0 + 6, step_ms=[50]).close()
    # the collector is down from T0+6 to T0+14, then resumes from the store's position
    store = collect(scenario, path, start=T0 + 14, end=T0 + 25, step_ms=[50])
    assert stored_rows(store, "EURUSD") == [tuple(r) for r in scenario.ticks["EURUSD"]]
    seqs = [t.seq for t in store.read_after("icm", "EURUSD", 0, 10**6)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_broker_time_is_converted_to_utc(tmp_path):
    offset = 2 * 3600 * 1000
    scenario = Scenario.generate(["EURUSD"], start_ms=int(T0 * 1000) + 500, seconds=5, rate=10,
                                 seed=2, utc_offset_ms=offset)
    store = collect(scenario, tmp_path / "t.db", start=T0, end=T0 + 8, step_ms=[50],
                    tz="+02:00")
    ticks = store.read_after("icm", "EURUSD", 0, 10**6)
    assert ticks and all(t.time_msc == t.broker_msc - offset for t in ticks)
    assert all(abs(t.recv_ns / 1e6 - t.time_msc) < 1000 for t in ticks)


def test_quiet_symbols_cost_one_cheap_call_per_poll():
    clock = SimClock(T0)
    scenario = Scenario(ticks={"EURUSD": [(int(T0 * 1000) - 1000, 1.1, 1.2, 0.0, 0, 6, 0.0)]})
    fake = FakeTerminal(scenario, clock=clock)
    source = make_source(fake, clock, ["EURUSD"])
    source.open({})
    for _ in range(1000):  # 50 s of polling a symbol that never ticks
        clock.t += 0.05
        source.poll(0)
    assert fake.calls["copy_ticks_from"] <= 60  # about one full check a second
    assert fake.calls["symbol_info_tick"] <= 1001


def test_memory_stays_bounded_over_a_long_run(tmp_path):
    scenario = Scenario.generate(["EURUSD", "GBPUSD"], start_ms=int(T0 * 1000), seconds=600,
                                 rate=50, seed=4)
    clock = SimClock(T0)
    source = make_source(FakeTerminal(scenario, clock=clock), clock, ["EURUSD", "GBPUSD"])
    source.open({})
    taken = 0
    tracemalloc.start()
    try:
        for step in range(12_000):  # 600 simulated seconds, ~60k ticks
            clock.t += 0.05
            taken += len(source.poll(0))
            if step == 2000:
                baseline = tracemalloc.get_traced_memory()[0]
        growth = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert taken == sum(len(v) for v in scenario.ticks.values())
    assert growth < 512 * 1024, growth


# The property: whatever the script, the store holds exactly the script, in order


tick_script = st.lists(
    st.tuples(st.integers(0, 400), st.sampled_from([1.1, 1.10001, 1.10002]),
              st.sampled_from([2, 4, 6, 134])),
    min_size=1, max_size=120)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    scripts=st.lists(tick_script, min_size=1, max_size=3),
    outages=st.lists(st.tuples(st.integers(0, 30_000), st.integers(100, 5000),
                               st.sampled_from([-10004, -10005])), max_size=3),
    restarts=st.sets(st.integers(0, 600), max_size=4),
    steps=st.lists(st.integers(1, 400), min_size=1, max_size=5),
)
def test_stored_equals_script_exactly(tmp_path_factory, scripts, outages, restarts, steps):
    start_ms = int(T0 * 1000) + 1000
    ticks = {}
    for n, script in enumerate(scripts):
        t = start_ms
        rows = []
        for gap, bid, flags in script:  # gap 0: same millisecond (a burst, or an identical tick)
            t += gap
            rows.append((t, bid, round(bid + 0.0001, 5), 0.0, 0, flags, 0.0))
        ticks[f"SYM{n}"] = rows
    scenario = Scenario(ticks=ticks, outages=[(T0 + a / 1000, T0 + (a + d) / 1000, code)
                                              for a, d, code in outages])
    end = T0 + max(r[-1][0] for r in ticks.values()) / 1000 - T0 + 40
    path = tmp_path_factory.mktemp("prop") / "t.db"
    store = collect(scenario, path, start=T0, end=end, step_ms=steps, restarts=restarts)
    for symbol, rows in ticks.items():
        assert stored_rows(store, symbol) == rows, symbol
    store.close()


def test_terminal_classifies_errors():
    clock = SimClock(T0)
    fake = FakeTerminal(Scenario(ticks={"EURUSD": []}), clock=clock)
    terminal = Terminal(fake)
    with pytest.raises(TerminalDown):
        terminal.call("symbol_info", "EURUSD")
    terminal.connect()
    with pytest.raises(CallFailed) as info:
        terminal.call("symbol_info", "NOPE")
    assert info.value.code == -4 and not isinstance(info.value, (TerminalDown, AuthFailed))

    class Broken:
        def symbol_info(self, name):
            raise EOFError("rpyc stream closed")

    with pytest.raises(TerminalDown, match="bridge error"):
        Terminal(Broken()).call("symbol_info", "EURUSD")


def test_real_clock_smoke():
    """The double also works on the wall clock (as it does for subprocesses)."""
    now = time.time()
    fake = FakeTerminal(Scenario.generate(["EURUSD"], start_ms=int(now * 1000) - 2000,
                                          seconds=1, rate=50, seed=1))
    assert fake.initialize()
    rows = fake.copy_ticks_from("EURUSD", now - 10, 1000, -1)
    assert rows is not None and len(rows) == len(fake.scenario.ticks["EURUSD"])
