"""What the end-to-end tests share: starting a collector, reading frames, checking order."""

from __future__ import annotations

import json
from collections import defaultdict

from arbitrex.stores.sqlite import SqliteStore
from tests.conftest import log_of, wait_for

SYMBOLS = "EURUSD,GBPUSD,USDJPY"


def last_seq(path, venue: str = "sim", symbol: str = "EURUSD") -> int:
    """The last seq a SQLite store holds of a stream (0: none, or no store yet)."""
    if not path.exists():
        return 0
    store = SqliteStore(path)
    try:
        last = store.last(venue, symbol)
        return last.seq if last else 0
    finally:
        store.close()


def stored_count(runner, symbol: str = "EURUSD") -> int:
    return last_seq(runner.workdir / "ticks.db", "sim", symbol)


def start_collect(runner, rate: int = 300, *extra: str):
    proc = runner.start("collect", "--source", "sim", "--symbols", SYMBOLS, "--rate", str(rate),
                        *extra)
    wait_for(lambda: stored_count(runner) > 5 or proc.poll() is not None, what="ticks stored")
    assert proc.poll() is None, log_of(proc)
    return proc


def recv_json(ws, timeout: float = 10.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def next_of_type(ws, kind: str, timeout: float = 10.0) -> dict:
    while True:
        message = recv_json(ws, timeout)
        if message["type"] == kind:
            return message


def assert_contiguous(ticks: list[dict]) -> dict[str, list[int]]:
    by_symbol: dict[str, list[int]] = defaultdict(list)
    for t in ticks:
        by_symbol[t["symbol"]].append(t["seq"])
    for symbol, seqs in by_symbol.items():
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (symbol, seqs[:50])
    return by_symbol


