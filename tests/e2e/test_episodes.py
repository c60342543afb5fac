"""arbitrex episodes from history, as a user runs it: NDJSON, files in every format, costs
from the venues file, and bad input."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from arbitrex.model import Episode
from arbitrex.stores.sqlite import SqliteStore
from tests.history import make_tick

S = 10**9
T0 = 1_800_000_000_000


def fill(path) -> None:
    """icm's bid above pep's ask by 2 points, then by 4, then pep moves: converged."""
    store = SqliteStore(path)
    store.append([make_tick(venue="icm", ms=T0, bid=1.10005, ask=1.10007, recv_ns=1 * S),
                  make_tick(venue="pep", ms=T0, bid=1.10001, ask=1.10003, recv_ns=2 * S),
                  make_tick(venue="icm", ms=T0 + 1, bid=1.10007, ask=1.10009, recv_ns=3 * S),
                  make_tick(venue="pep", ms=T0 + 2, bid=1.10006, ask=1.10008, recv_ns=5 * S),
                  make_tick(venue="icm", symbol="XAUUSD", ms=T0, bid=2000.0, ask=2000.5,
                            recv_ns=6 * S)])
    store.close()


def test_episodes_from_history_in_every_form(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db")
    result = arbitrex.run("episodes", "--json")
    assert result.returncode == 0, result.stderr
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    episode = Episode.from_record(record)
    assert (episode.symbol, episode.sell, episode.buy, episode.state) == ("EURUSD", "icm",
                                                                          "pep", "closed")
    assert (episode.start_ns, episode.end_ns, episode.duration_ms) == (2 * S, 5 * S, 3000.0)
    assert (episode.open_net, episode.peak_net, episode.states) == (0.00002, 0.00004, 2)
    assert (episode.closed_by, episode.reason) == ("pep", "converged")
    for name in ("e.parquet", "e.csv", "e.ndjson"):
        result = arbitrex.run("episodes", "--out", name)
        assert result.returncode == 0 and "wrote 1 episodes" in result.stderr, result.stderr
    assert pq.read_table(tmp_path / "e.parquet").to_pylist() == [episode._asdict()]
    assert (tmp_path / "e.csv").read_text().splitlines()[1].startswith(
        "EURUSD,icm,pep,closed,2000000000,5000000000,3000.0,")
    assert json.loads((tmp_path / "e.ndjson").read_text()) == record


def test_costs_in_the_venues_file_leave_only_what_pays(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db")
    (tmp_path / "arbitrex.toml").write_text('[costs.icm]\n"*" = 0.00001\n'
                                            '[costs.pep]\n"*" = 0.00002\n')
    [record] = [json.loads(x) for x in arbitrex.run("episodes", "--json").stdout.splitlines()]
    # 2 points before costs, 3 of costs: the first state does not pay; 4 points does
    assert (record["start_ns"], record["open_net"], record["states"]) == (3 * S, 0.00001, 1)
    (tmp_path / "arbitrex.toml").write_text('[costs.icm]\n"*" = 0.001\n')
    assert arbitrex.run("episodes", "--json").stdout == ""


def test_bad_input_is_one_line(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db")
    for args, named in ((["--out", "nodir/e.csv"], "--out"), (["--out", "e.txt"], "--format"),
                        (["--from", "yesterday"], "--from"),
                        (["--config", "nope.toml"], "--config")):
        result = arbitrex.run("episodes", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.strip().splitlines()[-1].startswith(f"arbitrex: error: {named}")
