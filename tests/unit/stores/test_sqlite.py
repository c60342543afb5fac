import contextlib
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from arbitrex.errors import StoreError
from arbitrex.model.tick import Position, Tick
from arbitrex.stores.sqlite import SqliteStore
from tests.history import make_tick


def tick(symbol: str = "EURUSD", ms: int = 1000, venue: str = "sim", bid: float = 1.1) -> Tick:
    return make_tick(venue=venue, symbol=symbol, ms=ms, bid=bid)


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "t.db")
    yield s
    s.close()


def test_seq_per_venue_and_symbol_from_one(store):
    out = store.append([tick("EURUSD"), tick("GBPUSD"), tick("EURUSD"), tick("EURUSD", venue="b")])
    assert [(t.venue, t.symbol, t.seq) for t in out] == [
        ("sim", "EURUSD", 1), ("sim", "GBPUSD", 1), ("sim", "EURUSD", 2), ("b", "EURUSD", 1)]
    out = store.append([tick("EURUSD")])
    assert out[0].seq == 3


def test_seq_survives_reopen_and_identical_ticks_are_kept(tmp_path):
    a = SqliteStore(tmp_path / "t.db")
    a.append([tick(), tick(), tick()])  # three identical ticks are three ticks
    a.close()
    b = SqliteStore(tmp_path / "t.db")
    assert b.append([tick()])[0].seq == 4
    assert [t.seq for t in b.read_after("sim", "EURUSD", 0, 100)] == [1, 2, 3, 4]
    b.close()


def test_last_read_after_first_and_positions(store):
    store.append([tick(ms=1000), tick(ms=1001), tick(ms=1001, bid=1.2), tick("GBPUSD", ms=5)])
    assert store.last("sim", "EURUSD").seq == 3
    assert store.last("sim", "EURUSD").bid == 1.2
    assert store.last("sim", "USDJPY") is None
    assert [t.seq for t in store.read_after("sim", "EURUSD", 1, 1)] == [2]
    assert store.first_seq("sim", "EURUSD") == 1
    assert store.streams() == [("sim", "EURUSD"), ("sim", "GBPUSD")]
    assert store.positions("sim") == {"EURUSD": Position(3, 1001, 2),
                                      "GBPUSD": Position(1, 5, 1)}


def test_follow_sees_other_writers_in_order(tmp_path):
    writer = SqliteStore(tmp_path / "t.db")
    reader = SqliteStore(tmp_path / "t.db")
    cursor = reader.head()
    assert reader.follow(cursor, timeout=0.01, limit=10) == ([], cursor)
    writer.append([tick(ms=i) for i in range(1, 8)])
    got, cursor = reader.follow(cursor, timeout=1, limit=5)
    assert [t.seq for t in got] == [1, 2, 3, 4, 5]
    got, cursor = reader.follow(cursor, timeout=1, limit=5)
    assert [t.seq for t in got] == [6, 7]
    writer.close()
    reader.close()


def test_two_writer_processes_never_reuse_a_seq(tmp_path):
    path = tmp_path / "t.db"
    SqliteStore(path).close()
    code = textwrap.dedent(f"""
        from arbitrex.stores.sqlite import SqliteStore
        from arbitrex.model.tick import Tick
        s = SqliteStore({str(path)!r})
        for i in range(200):
            s.append([Tick("sim", "EURUSD", 0, 1 + i, 1.1, 1.2, 0.0, 0, 0.0, 6, 1, 1)] * 3)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=60) == 0
    store = SqliteStore(path)
    seqs = [t.seq for t in store.read_after("sim", "EURUSD", 0, 10_000)]
    assert seqs == list(range(1, 1201))
    store.close()


def test_unwritable_path_is_a_clear_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        SqliteStore(blocker / "sub" / "t.db")


def test_two_writers_taking_turns_never_reuse_a_seq(tmp_path):
    """Each writer keeps its counters between batches; a commit by the other must not be
    missed (the kept counters are dropped when another connection has written)."""
    a, b = SqliteStore(tmp_path / "t.db"), SqliteStore(tmp_path / "t.db")
    seqs = []
    for i in range(6):
        writer = a if i % 3 else b
        seqs += [t.seq for t in writer.append([tick("EURUSD", i), tick("EURUSD", i)])]
    assert seqs == list(range(1, 13))
    a.close()
    b.close()


def _open_at(path, barrier, results):
    barrier.wait()
    try:
        SqliteStore(path).close()
        results.put("ok")
    except Exception as exc:  # reported to the test
        results.put(repr(exc))


def test_processes_opening_a_new_file_together_all_succeed(tmp_path):
    """collect and serve started at once on a fresh file (the demo does): switching it to
    WAL is refused at once to all but one ("database is locked"); the others retry."""
    import multiprocessing

    if sys.platform == "win32":
        ctx = multiprocessing.get_context("spawn")
    else:
        ctx = multiprocessing.get_context("fork")
    for trial in range(15):  # without the retry about one trial in five fails
        path = tmp_path / f"t{trial}.db"
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open_at, args=(path, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        assert [results.get(timeout=5) for _ in procs] == ["ok"] * 4


PAGE = 4096


def test_commits_leave_checkpoints_to_the_thread_beside_the_writer(tmp_path):
    """SQLite would checkpoint inside the commit that finds 1,000 pages in the WAL; the
    store's commits do not (the thread does it), so the WAL grows past that while the
    thread waits, and the database file only grows once a thread has run."""
    path = tmp_path / "t.db"
    waiting = SqliteStore(path, checkpoint_interval=3600)  # its thread waits an hour
    other = SqliteStore(path, checkpoint_interval=0.02)
    try:
        for i in range(1500):  # one tick per commit: a few pages each
            waiting.append([tick(ms=1000 + i)])
        assert (tmp_path / "t.db-wal").stat().st_size > 1100 * PAGE
        assert waiting._checkpointer is not None and waiting._checkpointer.checkpoints == 0
        before = path.stat().st_size
        assert before < 10 * PAGE  # nothing copied into the file yet
        other.append([tick(ms=5000)])  # another writer: its thread checkpoints
        thread = other._checkpointer
        assert thread is not None
        deadline = time.monotonic() + 10
        while thread.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # bounded: a thread's interval, 20 ms
        assert thread.checkpoints >= 1
        assert path.stat().st_size > before + 20 * PAGE  # the WAL's pages are in the file
        last = waiting.last("sim", "EURUSD")
        assert last is not None and last.seq == 1501
    finally:
        waiting.close()
        other.close()
    assert not [t for t in threading.enumerate() if t.name == "arbitrex-checkpoint"]


def _hold_write_lock(path, seconds: float, held: threading.Event,
                     released: list[float]) -> None:
    """Another writer: hold the write lock of ``path`` for ``seconds``, then commit."""
    import sqlite3

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(seconds)
    db.execute("COMMIT")
    released.append(time.monotonic())
    db.close()


@contextlib.contextmanager
def _another_writer(path, seconds: float) -> Iterator[list[float]]:
    """Another writer holding the write lock of ``path`` for ``seconds`` from a thread,
    taken before the block runs; yields the list its release time goes into."""
    held, released = threading.Event(), list[float]()
    holder = threading.Thread(target=_hold_write_lock, args=(path, seconds, held, released))
    holder.start()
    try:
        assert held.wait(5)
        yield released
    finally:
        holder.join(seconds + 5)


def test_a_writer_waits_for_another_in_short_steps(tmp_path):
    """Several collectors (or archive's deletes) write one file: a write that finds the
    lock taken goes as soon as it is free. SQLite's own busy handler tries again after 1,
    2, 5 and 10 ms: with the lock held 12 ms, its try at 18 ms comes 6 ms late."""
    path = tmp_path / "t.db"
    store = SqliteStore(path)
    store.append([tick()])
    late: list[float] = []
    try:
        for _ in range(5):
            with _another_writer(path, 0.012) as released:
                store.append([tick()])
                done = time.monotonic()
            late.append(done - released[0])
    finally:
        store.close()
    assert min(late) < 0.003, late


def test_a_writer_gives_up_after_its_busy_timeout(tmp_path):
    path = tmp_path / "t.db"
    store = SqliteStore(path, busy_timeout_ms=50)
    try:
        with _another_writer(path, 0.5):
            began = time.monotonic()
            with pytest.raises(StoreError, match="locked"):
                store.append([tick()])
            assert time.monotonic() - began < 0.4  # gave up at its timeout, not the holder's
    finally:
        store.close()
    again = SqliteStore(path)
    try:
        assert [t.seq for t in again.append([tick()])] == [1]  # nothing was half-written
    finally:
        again.close()


def test_giving_up_a_lease_does_not_wait_long_for_a_lock(tmp_path):
    """A collector stopping, often because a write failed on a lock held too long, gives
    its lease up waiting about a second (the lease frees itself once the process is gone),
    not a write's whole busy timeout (10 s) again."""
    from arbitrex.collect import lease
    from arbitrex.stores.sqlite import RELEASE_TIMEOUT_MS

    path = tmp_path / "t.db"
    store = SqliteStore(path)
    held_lease = lease.hold(store, "icm", where="here")
    with _another_writer(path, 2.5) as released:
        began = time.monotonic()
        with pytest.raises(StoreError, match="locked"):
            store.release_lease(held_lease.mine)
        waited = time.monotonic() - began
        assert RELEASE_TIMEOUT_MS / 1000 - 0.05 <= waited < 2.4, waited
    assert released, "the other writer committed"
    held_lease.release()  # the lock is free again: given up for real
    assert store.leases() == []
    store.close()
