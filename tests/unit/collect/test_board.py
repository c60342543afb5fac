"""The multi-venue collect table: a row per venue and symbol, from the store's last ticks,
the leases' source states and the workers' states."""

from __future__ import annotations

from rich.console import Console

from arbitrex.cli.collecting import _board_table
from arbitrex.collect.board import Board
from arbitrex.model.tick import Tick
from arbitrex.stores.base import Lease
from tests.history import make_tick


def tick(venue: str, symbol: str, seq: int, ms: int) -> Tick:
    return make_tick(venue=venue, symbol=symbol, seq=seq, ms=ms, ask=1.2, recv_ns=0)


def test_rows_per_venue_and_symbol_with_rate_age_stored_and_state():
    board = Board(["icm", "pepper", "oanda"])
    lease = Lease("icm", "h", 1, 0.0, "t", 0, 0, "connected, 2 symbols")
    lasts = {("icm", "EURUSD"): tick("icm", "EURUSD", 100, 10_000),
             ("pepper", "EURUSD"): tick("pepper", "EURUSD", 40, 9_000)}
    board.rows(lasts, [lease], {"icm": "running"}, now_s=1.0, now_ms=10_500)
    lasts[("icm", "EURUSD")] = tick("icm", "EURUSD", 150, 11_900)
    rows = board.rows(lasts, [lease], {"icm": "running", "pepper": "restart in 2 s",
                                       "oanda": "stopped (exit 2)"}, now_s=3.0, now_ms=12_000)
    assert [(r.venue, r.symbol, r.stored, r.rate, r.state) for r in rows] == [
        ("icm", "EURUSD", 150, 25.0, "connected, 2 symbols"),
        ("pepper", "EURUSD", 40, 0.0, "restart in 2 s"),
        ("oanda", "", 0, 0.0, "stopped (exit 2)")]
    assert rows[0].age_s is not None and abs(rows[0].age_s - 0.1) < 1e-9
    console = Console(record=True, width=120)
    console.print(_board_table(rows, "test"))
    text = console.export_text()
    assert "connected, 2 symbols" in text and "25.0" in text and "stopped (exit 2)" in text
