"""arbitrex archive on real processes: old days move to Parquet day files and every reader
still sees one history; a kill -9 at any step, then a rerun, loses and doubles nothing;
bad input is refused before the store is touched."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from arbitrex.model.tick import Tick
from arbitrex.sources.sim import SimModel
from arbitrex.stores.sqlite import SqliteStore
from tests.conftest import log_of, must
from tests.e2e.streams import next_of_type

DAY = 86_400_000
pytest.importorskip("pyarrow")


def fill_days(path: Path | None, n: int = 6000, days: float = 5.0, store=None, *,
              whole: bool = False) -> int:
    """n simulated ticks over two symbols, spread over the last ``days`` days (``whole``:
    from a UTC midnight), into the SQLite store at ``path`` (or ``store``); the time of the
    first."""
    now = int(time.time() * 1000)
    start = (now // DAY - int(days)) * DAY if whole else now - int(days * DAY)
    model = SimModel(["EURUSD", "USDJPY"], seed=11)
    ticks = []
    for i in range(n):
        symbol, bid, ask, flags, _ = next(model)
        ms = start + i * int(days * DAY) // n
        ticks.append(Tick("sim", symbol, 0, ms, bid, ask, 0.0, i, 0.5, flags, ms * 10**6 + 7,
                          ms))
    store = store or SqliteStore(must(path))
    store.append(ticks)
    store.close()
    return start


def stored_days(path: Path) -> set[tuple[str, int]]:
    db = sqlite3.connect(path)
    try:
        return set(db.execute("SELECT DISTINCT symbol, time_msc / 86400000 FROM ticks"))
    finally:
        db.close()


def query(path: Path, sql: str) -> object:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def archived_days(root: Path) -> set[tuple[str, int]]:
    from arbitrex.archive.layout import days_in

    return {(key.symbol, key.day) for key, _ in days_in(root)}


def export(arbitrex, name: str) -> bytes:
    result = arbitrex.run("export", "--out", name)
    assert result.returncode == 0, result.stderr
    return (arbitrex.workdir / name).read_bytes()


def test_archive_moves_old_days_and_the_history_reads_the_same(arbitrex):
    duckdb = pytest.importorskip("duckdb")
    db = arbitrex.workdir / "ticks.db"
    fill_days(db)
    before = export(arbitrex, "before.ndjson")
    size = db.stat().st_size
    result = arbitrex.run("archive", "--older-than", "2")
    assert result.returncode == 0, result.stderr
    root = arbitrex.workdir / "data" / "archive"
    today = int(time.time() * 1000) // DAY
    assert archived_days(root) and all(day < today - 2 for _, day in archived_days(root))
    assert not archived_days(root) & stored_days(db)  # no day in both places
    assert all(day >= today - 2 for _, day in stored_days(db))
    assert export(arbitrex, "after.ndjson") == before  # one history, byte-identical
    assert list(root.rglob("*.tmp-*")) == []
    # other programs read the tree as one table (hive partitioning)
    con = duckdb.connect()
    archived = con.execute(
        f"SELECT count(*), count(DISTINCT symbol), min(venue) FROM read_parquet("
        f"'{root}/**/*.parquet', hive_partitioning = true)").fetchone()
    remaining = query(db, "SELECT count(*) FROM ticks")
    assert archived[0] + remaining == 6000 and archived[1:] == (2, "sim")
    # the space freed is reused: storing as many ticks again does not grow the file
    assert db.stat().st_size <= size
    store = SqliteStore(db)
    store.append([Tick("sim", "EURUSD", 0, int(time.time() * 1000), 1.1, 1.2, 0, 0, 0, 6, 0, 0)
                  for _ in range(archived[0] // 2)])
    store.close()
    assert db.stat().st_size <= size
    # replay and bars read the archive too
    result = arbitrex.run("export", "--out", "bars.ndjson", "--bars", "1d")
    assert result.returncode == 0, result.stderr
    bars = [json.loads(line) for line in
            (arbitrex.workdir / "bars.ndjson").read_text().splitlines()]
    assert sum(b["ticks"] for b in bars) == 6000 + archived[0] // 2


def test_a_resume_into_archived_history_gets_a_history_trimmed_gap(arbitrex):
    fill_days(arbitrex.workdir / "ticks.db")
    assert arbitrex.run("archive", "--older-than", "2").returncode == 0
    first = query(arbitrex.workdir / "ticks.db",
                  "SELECT min(seq) FROM ticks WHERE symbol = 'EURUSD'")
    assert isinstance(first, int)
    port = arbitrex.serve()
    with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": ["EURUSD"],
                            "since": {"EURUSD": 10}}))
        assert next_of_type(ws, "subscribed")["recovered"] == {"EURUSD": False}
        gap = next_of_type(ws, "gap")
        assert (gap["from_seq"], gap["to_seq"], gap["reason"]) == (11, first - 1,
                                                                   "history_trimmed")
        assert next_of_type(ws, "tick")["seq"] == first


@pytest.mark.parametrize("step", ["written", "verified", "renamed", "dropped"])
def test_a_kill_at_any_step_then_a_rerun_loses_and_doubles_nothing(arbitrex, step):
    db = arbitrex.workdir / "ticks.db"
    fill_days(db)
    before = export(arbitrex, "before.ndjson")
    arbitrex.env["ARBITREX_CRASH_AT"] = f"archive:{step}"
    crashed = arbitrex.run("archive", "--older-than", "2")
    assert crashed.returncode == -9, crashed.stderr
    assert export(arbitrex, "between.ndjson") == before  # readable meanwhile, as one
    del arbitrex.env["ARBITREX_CRASH_AT"]
    rerun = arbitrex.run("archive", "--older-than", "2")
    assert rerun.returncode == 0, rerun.stderr
    root = arbitrex.workdir / "data" / "archive"
    assert export(arbitrex, "after.ndjson") == before
    assert not archived_days(root) & stored_days(db)
    assert list(root.rglob("*.tmp-*")) == []


def test_ticks_of_an_archived_day_stored_later_join_its_file(arbitrex):
    db = arbitrex.workdir / "ticks.db"
    start = fill_days(db)
    assert arbitrex.run("archive", "--older-than", "2").returncode == 0
    store = SqliteStore(db)  # a backfill of an old day, after it was archived
    store.append([Tick("sim", "EURUSD", 0, start + 5, 1.1, 1.2, 0, 0, 0, 6, 0, 0)])
    store.close()
    before = export(arbitrex, "before.ndjson")
    assert arbitrex.run("archive", "--older-than", "2").returncode == 0
    assert export(arbitrex, "after.ndjson") == before  # in time order, each seq once
    assert not archived_days(arbitrex.workdir / "data" / "archive") & stored_days(db)


def test_bad_input_is_refused_before_the_store_is_touched(arbitrex):
    db = arbitrex.workdir / "ticks.db"
    fill_days(db, 600)
    for days in ("0", "-3"):
        result = arbitrex.run("archive", "--older-than", days)
        assert result.returncode == 2 and "--older-than" in result.stderr
    result = arbitrex.run("archive")
    assert result.returncode == 2 and "RETAIN_DAYS" in result.stderr
    (arbitrex.workdir / "a-file").write_text("")
    arbitrex.env["ARCHIVE_DIR"] = str(arbitrex.workdir / "a-file" / "archive")
    result = arbitrex.run("archive", "--older-than", "1")
    assert result.returncode == 2 and "ARCHIVE_DIR" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert query(db, "SELECT count(*) FROM ticks") == 600


def test_a_corrupt_day_file_fails_the_reader_naming_it(arbitrex):
    fill_days(arbitrex.workdir / "ticks.db", 600)
    assert arbitrex.run("archive", "--older-than", "2").returncode == 0
    victim = sorted((arbitrex.workdir / "data" / "archive").rglob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    result = arbitrex.run("export", "--out", "x.ndjson")
    assert result.returncode == 1 and str(victim.name) in result.stderr, log_of
    assert "Traceback" not in result.stderr


def test_collect_archives_by_itself_with_retain_days_and_ingest_goes_on(arbitrex):
    db = arbitrex.workdir / "ticks.db"
    fill_days(db, 60_000)
    arbitrex.env["RETAIN_DAYS"] = "2"
    collect = arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD,GBPUSD",
                             "--rate", "200", "--duration", "12")
    root = arbitrex.workdir / "data" / "archive"
    worst = 0.0  # the longest the newest stored tick was behind now, while archiving
    deadline = time.monotonic() + 60
    while collect.poll() is None and time.monotonic() < deadline:
        newest = query(db, "SELECT max(recv_ns) FROM ticks WHERE venue = 'sim' AND "
                           "symbol = 'GBPUSD'")
        if isinstance(newest, int):
            worst = max(worst, time.time() - newest / 1e9)
        time.sleep(0.02)
    assert collect.wait(30) == 0, log_of(collect)
    assert archived_days(root) and not archived_days(root) & stored_days(db)
    assert "archived" in log_of(collect)
    print(f"newest stored tick at most {worst * 1000:.0f} ms behind while archiving")
    assert worst < 1.0, worst  # ingest did not stall (the sim feed is read every 10 ms)


def archive_row(arbitrex) -> dict:
    result = arbitrex.run("doctor", "--json")
    rows = json.loads(result.stdout)["checks"]
    return next(r for r in rows if r["name"].startswith("archive "))


def test_doctor_checks_the_archive(arbitrex):
    fill_days(arbitrex.workdir / "ticks.db", 600)
    assert archive_row(arbitrex)["status"] == "pass"
    arbitrex.env["ARBITREX_CRASH_AT"] = "archive:renamed"
    assert arbitrex.run("archive", "--older-than", "2").returncode == -9
    del arbitrex.env["ARBITREX_CRASH_AT"]
    row = archive_row(arbitrex)
    assert row["status"] == "warn" and "both archived and in the store" in row["detail"]
    assert arbitrex.run("archive", "--older-than", "2").returncode == 0
    assert archive_row(arbitrex)["status"] == "pass"
    victim = sorted((arbitrex.workdir / "data" / "archive").rglob("*.parquet"))[0]
    victim.write_bytes(b"PAR1 not really")
    row = archive_row(arbitrex)
    assert row["status"] == "fail" and victim.name in row["detail"]


def test_a_redis_store_is_archived_the_same_way(arbitrex, redis_server):
    from arbitrex.stores.redis import RedisStore

    arbitrex.env.update(TICK_QUEUE_BACKEND="redis", REDIS_URL=redis_server.url)
    fill_days(None, store=RedisStore(redis_server.url))
    before = export(arbitrex, "before.ndjson")
    arbitrex.env["ARBITREX_CRASH_AT"] = "archive:renamed"
    assert arbitrex.run("archive", "--older-than", "2").returncode == -9
    del arbitrex.env["ARBITREX_CRASH_AT"]
    assert export(arbitrex, "between.ndjson") == before
    result = arbitrex.run("archive", "--older-than", "2")
    assert result.returncode == 0, result.stderr
    assert export(arbitrex, "after.ndjson") == before
    store = RedisStore(redis_server.url)
    today = int(time.time() * 1000) // DAY
    left = {t.time_msc // DAY for v, s in store.streams()
            for t in store.read_after(v, s, 0, 100_000)}
    store.close()
    assert left and min(left) >= today - 2
    assert archived_days(arbitrex.workdir / "data" / "archive")


@pytest.mark.parametrize("ticks, limit, fails", [(60_000, 100_000, "cannot write"),
                                                 (10_000, 60_000, "cannot delete")])
def test_a_disk_that_fills_while_archiving_loses_nothing(arbitrex, ticks, limit, fails):
    """A file size limit (RLIMIT_FSIZE) stands in for a full disk: writes past it fail.
    With larger days the first day file cannot be written (the store is untouched); with
    smaller ones the files are written and the store's own deletes fail (its WAL grows).
    Either way: one clear line, no tick lost or doubled, and a rerun with room finishes."""
    resource = pytest.importorskip("resource")
    import signal
    import subprocess
    import sys

    db = arbitrex.workdir / "ticks.db"
    fill_days(db, ticks, whole=True)  # whole days: the same sizes at any time of day
    before = export(arbitrex, "before.ndjson")
    rows = query(db, "SELECT count(*) FROM ticks")

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([sys.executable, "-m", "arbitrex", "archive", "--older-than", "2"],
                            cwd=arbitrex.workdir, env=arbitrex.env, capture_output=True,
                            text=True, timeout=120, preexec_fn=small_disk)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert fails in result.stderr
    if fails == "cannot write":
        assert query(db, "SELECT count(*) FROM ticks") == rows  # untouched
    root = arbitrex.workdir / "data" / "archive"
    assert list(root.rglob("*.tmp-*")) == []
    assert export(arbitrex, "between.ndjson") == before
    assert arbitrex.run("archive", "--older-than", "2").returncode == 0
    assert export(arbitrex, "after.ndjson") == before
    assert not archived_days(root) & stored_days(db)


def test_duckdb_reads_the_sqlite_store_directly(tmp_path):
    """As the README shows; DuckDB's sqlite extension is downloaded on first use, so this
    is skipped where it cannot be fetched."""
    duckdb = pytest.importorskip("duckdb")
    db = tmp_path / "ticks.db"
    fill_days(db, 600)
    con = duckdb.connect()
    try:
        con.execute("INSTALL sqlite")
        con.execute("LOAD sqlite")
    except duckdb.Error as exc:
        pytest.skip(f"DuckDB's sqlite extension is not available here: {str(exc)[:80]}")
    con.execute(f"ATTACH '{db}' AS store (TYPE sqlite, READ_ONLY)")
    assert con.execute("SELECT count(*), count(DISTINCT symbol) FROM store.ticks"
                       ).fetchone() == (600, 2)
