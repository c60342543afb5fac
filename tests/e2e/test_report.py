"""arbitrex report as a user runs it: three simulated brokers collected, the report taken
while they are still being written (--json: the names SPEC fixes, their documented
latencies as lead-lag), then the page, opened in Chromium on a laptop and a phone; bad
input, and a range with one venue (no pairs: empty sections, no crash)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import wait_for
from tests.e2e.test_best_view import VENUES, collect_three, stored
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, FLAGS

SCORECARD = {"ticks", "spread_median", "spread_p95", "lag_median_ms", "lag_p99_ms",
             "stale_share", "freezes", "longest_freeze_ms", "best_bid_share", "best_ask_share",
             "episodes_sell", "episodes_buy"}


@pytest.fixture
def collected(arbitrex):
    return collect_three(arbitrex, rate=200, at_least=1200, timeout=60)


def test_the_report_of_three_brokers(arbitrex, collected):
    result = arbitrex.run("report", "--json")  # the store is being written meanwhile
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures["venues"]) == set(VENUES)
    for venue in VENUES:
        v = figures["venues"][venue]
        assert {"ticks", "outages", "outage_ms"} <= set(v)
        assert set(v["symbols"]) == {"EURUSD", "GBPUSD"}
        for s in v["symbols"].values():
            assert SCORECARD <= set(s) and s["ticks"] > 0
    # the brokers' documented feed latencies (by position in --venues: 15, 140 and 330 ms),
    # recovered as who leads whom
    latency = dict(zip(VENUES, (15, 140, 330), strict=True))
    leads = {(r["symbol"], r["leader"], r["follower"]): r for r in figures["lead"]}
    for symbol in ("EURUSD", "GBPUSD"):
        for i, a in enumerate(VENUES):
            for b in VENUES[i + 1:]:
                r = leads[(symbol, a, b)]
                assert abs(r["lead_ms"] - (latency[b] - latency[a])) <= 15, r
        assert figures["ranking"][symbol] == list(VENUES)
    for venue in VENUES:
        clock = figures["clocks"][venue]
        assert clock["suggest"] is None and len(clock["daily_lag_ms"]) >= 1
    pair = figures["episodes"][0]
    assert {"symbol", "sell", "buy", "count", "duration_median_ms", "duration_p90_ms",
            "longest_ms", "peak_net_median"} <= set(pair)
    collected.terminate()
    assert collected.wait(30) == 0

    result = arbitrex.run("report", "--out", "report.html")
    assert result.returncode == 0 and "wrote the report" in result.stderr, result.stderr
    page = (arbitrex.workdir / "report.html").read_text()
    # nothing to fetch: it opens offline
    assert page.count("<svg") >= 5 and not re.search(r"<script|<link|src=|href=.http", page)
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        laptop = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        laptop.on("request", lambda r: requests.append(r.url))
        laptop.goto((arbitrex.workdir / "report.html").as_uri())
        assert requests == [(arbitrex.workdir / "report.html").as_uri()]
        assert laptop.locator("figure svg").count() >= 5
        assert laptop.get_by_text("icm → oanda").count() >= 1  # the ranking, and a bar
        laptop.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto((arbitrex.workdir / "report.html").as_uri())
        assert phone.evaluate("() => document.body.scrollWidth <= window.innerWidth + 1")
        phone.screenshot(path=str(ARTIFACTS / "report-phone.png"))
        browser.close()


def test_bad_input_and_a_single_venue(arbitrex, tmp_path):
    result = arbitrex.run("report", "--freeze-ms", "0")
    assert result.returncode == 2 and "--freeze-ms" in result.stderr
    result = arbitrex.run("report", "--from", "2026-11-21T00:00:00Z", "--to",
                          "2026-11-20T00:00:00Z")
    assert result.returncode == 2 and "--to" in result.stderr
    result = arbitrex.run("report", "--out", str(tmp_path / "nowhere" / "r.html"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = arbitrex.run("report", "--json")  # nothing stored yet: empty, said so
    assert result.returncode == 0 and "no ticks in the range" in result.stderr
    assert json.loads(result.stdout)["venues"] == {}
    proc = arbitrex.start("collect", "--source", "sim", "--symbols", "EURUSD", "--rate", "100")
    wait_for(lambda: stored(arbitrex, "sim") > 50 or proc.poll() is not None, what="ticks")
    proc.terminate()
    assert proc.wait(30) == 0
    result = arbitrex.run("report", "--json")
    figures = json.loads(result.stdout)
    assert result.returncode == 0 and figures["lead"] == [] and figures["episodes"] == []
    assert figures["venues"]["sim"]["symbols"]["EURUSD"]["ticks"] > 50
    result = arbitrex.run("report", "--out", "one.html")
    assert result.returncode == 0, result.stderr
    assert "nobody to lead" in (tmp_path / "one.html").read_text()
