"""arbitrex episodes from history, as a user runs it: NDJSON, files in every format, costs
from the venues file, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from arbitrex.model import Episode
from arbitrex.stores.sqlite import SqliteStore
from tests.history import crossing, make_tick

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


PEAK_RSS = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-m", "arbitrex", *sys.argv[1:]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB on Linux
"""


@pytest.mark.skipif(sys.platform == "win32", reason="peak RSS is read with resource (POSIX)")
def test_memory_does_not_grow_with_the_range(arbitrex, tmp_path):
    """The ticks are streamed, not held: `arbitrex episodes` over 300,000 ticks peaks above
    what it does over 30,000 by no more than the pages SQLite's cache keeps of the bigger
    store (it holds up to 64 MiB; this store is smaller) and 10 MB (held as they were
    before, the ticks took 180 MB more)."""
    (tmp_path / "arbitrex.toml").write_text('[costs.fast]\n"*" = 0.0003\n'
                                            '[costs.mid]\n"*" = 0.0003\n'
                                            '[costs.slow]\n"*" = 0.0003\n')  # few episodes
    peaks, size = [], 0
    for n in (30_000, 300_000):
        db = tmp_path / f"{n}.db"
        store = SqliteStore(db)
        store.append(crossing(n))
        store.close()
        size = db.stat().st_size
        done = subprocess.run([sys.executable, "-c", PEAK_RSS, "episodes", "--out", f"{n}.csv"],
                              cwd=tmp_path, env=dict(arbitrex.env, SQLITE_PATH=str(db)),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        peaks.append(int(done.stdout) / 1024)
        assert (tmp_path / f"{n}.csv").read_text().count("\n") > 1  # some episodes
    assert peaks[1] - peaks[0] < size / 2**20 + 10, \
        f"peak RSS {peaks[0]:.0f} MB, then {peaks[1]:.0f} MB (store: {size / 2**20:.0f} MB)"


def test_bad_input_is_one_line(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db")
    for args, named in ((["--out", "nodir/e.csv"], "--out"), (["--out", "e.txt"], "--format"),
                        (["--from", "yesterday"], "--from"),
                        (["--config", "nope.toml"], "--config")):
        result = arbitrex.run("episodes", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.strip().splitlines()[-1].startswith(f"arbitrex: error: {named}")


class Hook:
    """A local JSON webhook (Apprise's json://) that records what it is sent."""

    def __init__(self) -> None:
        import http.server
        import threading

        posts: list[dict] = []
        self.posts = posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_follow_prints_live_episodes_and_notifies_through_apprise(arbitrex, tmp_path):
    import subprocess

    from tests.conftest import STOP_SIGNAL, free_port, log_of, wait_for

    hook = Hook()
    try:
        collect = arbitrex.start("collect", "--source", "sim", "--venues", "icm,pepper,oanda",
                                 "--symbols", "EURUSD", "--rate", "50")
        follow = arbitrex.start("episodes", "--follow", "--json", "--notify",
                                f"json://127.0.0.1:{hook.port}/hook", "--notify-on", "both",
                                stdout=subprocess.PIPE)
        refused = arbitrex.start("episodes", "--follow", "--json", "--notify",
                                 f"json://127.0.0.1:{free_port()}/hook")
        wait_for(lambda: len(hook.posts) >= 4, timeout=60, what="notifications")
        follow.send_signal(STOP_SIGNAL)
        out, _ = follow.communicate(timeout=30)
        assert follow.returncode == 0, log_of(follow)
        episodes = [json.loads(line) for line in out.splitlines()]
        assert episodes and {e["state"] for e in episodes} <= {"open", "closed"}
        titles = [p["title"] for p in hook.posts]
        assert any(" / buy " in t and ", net +0.0000" in t for t in titles), titles
        assert "notifications: " in log_of(follow) and " 0 failed, 0 dropped" in log_of(follow)
        # a service that refuses: retried, then counted as failed; episodes go on
        wait_for(lambda: "a notification failed 4 times" in log_of(refused), timeout=60,
                 what="a failed notification")
        refused.send_signal(STOP_SIGNAL)
        assert refused.wait(timeout=30) == 0
        collect.send_signal(STOP_SIGNAL)
        assert collect.wait(timeout=30) == 0
    finally:
        hook.close()


def test_notify_needs_follow_and_a_url_apprise_knows(arbitrex, tmp_path):
    fill(tmp_path / "ticks.db")
    result = arbitrex.run("episodes", "--notify", "json://127.0.0.1:1/x")
    assert result.returncode == 2 and "--notify" in result.stderr and "--follow" in result.stderr
    result = arbitrex.run("episodes", "--follow", "--notify", "nonsense://what", timeout=30)
    assert result.returncode == 2 and "is not a URL Apprise knows" in result.stderr
