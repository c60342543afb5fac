"""The demo page in a real browser: headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from tests.conftest import REPO, port_open, wait_for
from tests.e2e.streams import start_collect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (scripts/test.sh does it)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def state(page, expr: str):
    return page.evaluate(f"() => {expr}")


def test_page_streams_picks_symbols_and_resumes_after_a_server_restart(arbitrex, browser):
    start_collect(arbitrex, 60)
    port = arbitrex.serve()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{port}/")
    page.wait_for_function("() => window.arbitrex.ticks > 30 && window.arbitrex.cards.size >= 3",
                           timeout=20_000)
    bid = page.locator('[data-key="sim:EURUSD"] .bid')
    first = bid.inner_text()
    page.wait_for_function(
        "(first) => document.querySelector('[data-key=\"sim:EURUSD\"] .bid').textContent"
        " !== first", arg=first, timeout=20_000)
    assert "pts" in page.locator('[data-key="sim:EURUSD"] .spread').inner_text()
    assert "ticks/s" in page.locator('[data-key="sim:EURUSD"] .rate').inner_text()
    # the symbol picker: remove a card, add it back
    page.locator('[data-key="sim:GBPUSD"] .close').click()
    assert page.locator('[data-key="sim:GBPUSD"]').count() == 0
    page.fill("#symbol", "GBPUSD")
    page.click("#picker button")
    page.wait_for_selector('[data-key="sim:GBPUSD"] .bid', timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-page.png"))
    # the server goes away and comes back on the same port: the page resumes with since
    serve = arbitrex.procs[-1]
    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=10) == 0
    page.wait_for_function("() => document.getElementById('status').className === 'down'",
                           timeout=10_000)
    before = state(page, "window.arbitrex.lastSeq['sim:EURUSD']")
    wait_for(lambda: not port_open(port), what="the port to be free")
    arbitrex.start("serve", "--port", str(port))
    page.wait_for_function("() => window.arbitrex.connects >= 2", timeout=30_000)
    page.wait_for_function(f"() => window.arbitrex.lastSeq['sim:EURUSD'] > {before} + 20",
                           timeout=30_000)
    assert state(page, "window.arbitrex.holes") == 0  # every seq arrived, none twice
    assert errors == []
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"http://127.0.0.1:{port}/?symbols=EURUSD,USDJPY")
    phone.wait_for_function("() => window.arbitrex.ticks > 5", timeout=20_000)
    phone.screenshot(path=str(ARTIFACTS / "demo-page-phone.png"))


def test_page_shows_the_cross_venue_view_of_three_brokers(arbitrex, browser):
    from tests.e2e.test_best_view import collect_three

    collect_three(arbitrex)
    port = arbitrex.serve()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{port}/?symbols=EURUSD,GBPUSD")
    view = page.locator('[data-view="EURUSD"]')
    view.locator('tbody tr[data-venue="pepper"]').wait_for(timeout=20_000)
    assert view.locator("tbody tr").count() == 3 and "3 venues" in view.inner_text()
    # the best bid and the best ask are marked, once each, where the frame says
    page.wait_for_function("() => window.arbitrex.views.get('EURUSD').last !== null")
    best = state(page, "window.arbitrex.views.get('EURUSD').last")
    page.wait_for_function("() => window.arbitrex.bests > 20", timeout=20_000)
    assert view.locator("td.best").count() == 2
    assert best["bid_venue"] in best["venues"] and best["ask_venue"] in best["venues"]
    # the per-venue tick cards of the symbol give way to its view card
    assert page.locator('[data-key="icm:EURUSD"]').is_hidden()
    # brokers cross now and then: the top edge turns green above zero
    green = page.wait_for_function(
        "() => { const b = document.querySelector('[data-view=\"EURUSD\"] .edge.pos b');"
        " return b && b.textContent.startsWith('+') && getComputedStyle(b).color; }",
        timeout=30_000).json_value()
    assert green == "rgb(63, 185, 80)"
    # the top edge chart is drawn. Read back after a frame has been produced: Debian's
    # Chromium 156.0.8078.114 headless answers getImageData with a blank canvas until then
    # (the chart shows in a screenshot taken at the same moment)
    view.locator("canvas").screenshot()
    assert view.locator("canvas").evaluate(
        "(cv) => cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data"
        ".some((x, i) => i % 4 === 3 && x > 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-page-best.png"))
    # the episodes strip: ended ones with duration and peak, and, once one is open, it with
    # a running duration (the latency between the brokers keeps opening them)
    strip = view.locator(".episodes")
    strip.locator("li.ended").first.wait_for(timeout=30_000)
    ended = strip.locator("li.ended").first.inner_text()
    assert "peak +" in ended and "closed by" in ended and ("ms" in ended or " s" in ended)
    opened = page.wait_for_function(  # one look: episodes open and close within a second
        "() => document.querySelector('[data-view=\"EURUSD\"] .open-list li.open')"
        " && window.arbitrex.episodes.get('EURUSD').open.size"
        " && [...window.arbitrex.episodes.get('EURUSD').open.values()]",
        timeout=30_000).json_value()
    assert opened and all(e["state"] == "open" and e["end_ns"] is None for e in opened)
    page.screenshot(path=str(ARTIFACTS / "demo-page-episodes.png"))
    view.screenshot(path=str(ARTIFACTS / "demo-page-episodes-card.png"))
    # a stricter server (stale after 30 ms): rows of venues behind the newest are dimmed
    strict = arbitrex.serve("--stale-after-ms", "30")
    page.goto(f"http://127.0.0.1:{strict}/?symbols=EURUSD")
    opacity = page.wait_for_function(  # one look: rows are redrawn with every frame
        "() => { const tr = document.querySelector('[data-view=\"EURUSD\"] tr.stale');"
        " return tr && getComputedStyle(tr).opacity; }", timeout=20_000).json_value()
    assert float(opacity) < 0.5
    # removing the symbol removes its view and stops its frames
    page.locator('[data-view="EURUSD"] .close').click()
    assert page.locator('[data-view="EURUSD"]').count() == 0
    assert errors == []
