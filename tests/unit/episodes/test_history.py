"""Episodes from history: streamed in receipt order, and, when a clock stepped back, the same
episodes as the ticks put in order in memory (what memory it takes: tests/e2e/test_episodes.py)."""

from __future__ import annotations

import logging
from itertools import chain

import pytest

from arbitrex.episodes import EpisodeEngine, from_history
from arbitrex.episodes.history import _episodes
from arbitrex.history import History
from arbitrex.model.tick import Tick, in_receipt_order
from arbitrex.stores.sqlite import SqliteStore
from tests.history import crossing

STALE = 10_000


def stored(tmp_path, ticks: list[Tick]) -> History:
    store = SqliteStore(tmp_path / "t.db")
    store.append(ticks)
    return History(store)


def in_memory(history: History, symbol: str) -> list:
    """The reference: the symbol's ticks put in receipt order in memory, then fed."""
    ticks = in_receipt_order(chain.from_iterable(history.streams([symbol])))
    return _episodes(ticks, EpisodeEngine(stale_after_ms=STALE))


@pytest.mark.parametrize("step_back", [None, "mid"])
def test_the_episodes_are_those_of_the_ticks_put_in_order(tmp_path, caplog, step_back):
    history = stored(tmp_path, crossing(6000, step_back=step_back))
    caplog.set_level(logging.INFO, logger="arbitrex.episodes.history")
    got = list(from_history(history=history, stale_after_ms=STALE, costs=None,
                            env_file=tmp_path / "none.env"))
    want = sorted(in_memory(history, "EURUSD") + in_memory(history, "GBPUSD"),
                  key=lambda e: (e.start_ns, e.symbol, e.sell, e.buy))
    assert len(got) > 50 and got == want
    stepped = [r.getMessage() for r in caplog.records if "read again" in r.getMessage()]
    if step_back is None:
        assert stepped == []
    else:  # both symbols: mid's broker clock stepped back in each
        assert len(stepped) == 2 and all("mid received seq" in m for m in stepped)
