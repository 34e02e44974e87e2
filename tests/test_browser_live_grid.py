"""The `lazy` ready experiment (one layer of 1,024 neurons) trained in headless Chromium with the
server drawing (issue 28, item 7): the page stays live and says why its picture is coarser.

While so wide a network trains, the server draws it on a coarser grid (output/frames.py
live_resolution: 128² for a view of 512²) and measures it beside the drawing; the page says so on
the partition panel, and says nothing once paused (the picture is at the view's resolution again).
The page is not blocked by the network: the diagram draws a bounded number of its 1,024 neurons,
and server updates keep arriving (the step shown moves on, again and again, while it trains).
No timing is asserted: the rate (at least 2 updates a second) is benchmarks/live_updates.py's.
"""

from __future__ import annotations


import pytest
from browser import playwright_or_skip, PageLog, launch_chromium, wait_ready

pytestmark = pytest.mark.browser

expect, sync_playwright = playwright_or_skip()

expect.set_options(timeout=60_000)

STEP = "() => Number((document.querySelector('[data-testid=step-counter]').textContent || '').replace(/[^0-9]/g, ''))"


def test_a_very_wide_network_trains_live_and_says_its_grid_is_coarser(shared_serve):
    server = shared_serve  # tests/conftest.py: the worker's server
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            log = PageLog().attach(page)
            page.goto(f"{server.url}/?render=server")
            wait_ready(page, timeout=120_000)
            page.get_by_test_id("experiment-select").select_option("lazy")
            expect(page.get_by_test_id("layers-input")).to_have_value("1024")
            expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "paused")
            note = page.get_by_test_id("live-grid-note")
            expect(note).to_be_hidden()  # paused: the picture is at the view's resolution

            # The diagram of 1,024 neurons draws a bounded number of them, and says so.
            expect(page.get_by_test_id("diagram-summary")).to_have_text("16 of 1024 neurons shown")
            assert page.locator("[data-testid=network-diagram] .diagram-node").count() == 16

            page.get_by_test_id("start-button").click()
            expect(note).to_be_visible()
            expect(note).to_have_text("Live grid 128² · 512² when paused")
            # Live: the step shown moves on update after update (each a new server frame).
            seen = page.evaluate(STEP)
            for _ in range(3):
                page.wait_for_function(f"s => ({STEP})() > s", arg=seen, timeout=60_000)
                seen = page.evaluate(STEP)
            expect(note).to_be_visible()

            page.get_by_test_id("pause-button").click()
            expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "paused")
            expect(note).to_be_hidden()
            assert log.errors() == []
        finally:
            browser.close()
