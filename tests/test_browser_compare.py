"""The Compare page (/compare of `polytope-lens serve --runs DIR`) in headless Chromium: runs of a
mini sweep side by side drawn from their weight histories (SwiftShader WebGL2 here), synchronised
play, pause and scrub, overlaid curves, the sortable sweep table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from browser import playwright_or_skip, PageLog, ServeProcess, canvas_rgb, launch_chromium

pytestmark = pytest.mark.browser

expect, sync_playwright = playwright_or_skip()

expect.set_options(timeout=20_000)
@pytest.fixture(scope="module")
def sweep_dir(mini_sweep):
    return mini_sweep  # tests/conftest.py: one per run


@pytest.fixture(scope="module")
def page(sweep_dir):
    server = ServeProcess()
    server.command += ["--runs", str(sweep_dir)]
    with server, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            # narrow: two panels of ~330 device pixels each (they are drawn at their device-pixel size)
            page = browser.new_page(viewport={"width": 720, "height": 800})
            log = PageLog().attach(page)
            page.goto(f"{server.url}/compare")
            expect(page.get_by_test_id("compare-panels")).to_have_attribute("data-ready", "4x2_seed0,6x3_seed0")
            yield page
            assert log.errors() == []
        finally:
            browser.close()


def pixels(page, testid: str) -> np.ndarray:
    return canvas_rgb(page, testid)  # drawn at the panel's device-pixel size (issue 28)


def drawn_steps(page) -> list[str]:
    # read in one go (between two ticks of play-back), so both panels are seen at the same moment
    return page.evaluate("() => [0, 1].map((i) => document.querySelector(`[data-testid=compare-canvas-${i}]`).dataset.step)")


def test_runs_side_by_side_scrub_play_pause(page):
    # One run per architecture by default, both at the first recorded step.
    assert page.get_by_test_id("compare-run").count() == 2
    assert drawn_steps(page) == ["0", "0"]
    first = pixels(page, "compare-canvas-1")
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 2  # a prediction with region boundaries

    scrub = page.get_by_test_id("compare-scrub")
    scrub.fill("4")  # the last recorded step of both
    expect(page.get_by_test_id("compare-step")).to_have_attribute("data-step", "200")
    assert drawn_steps(page) == ["200", "200"]
    assert not np.array_equal(pixels(page, "compare-canvas-1"), first)  # training moved the regions
    expect(page.get_by_test_id("compare-readout-0")).to_contain_text("step 200")

    scrub.fill("0")
    assert drawn_steps(page) == ["0", "0"]
    assert np.array_equal(pixels(page, "compare-canvas-1"), first)  # the same step draws the same picture

    # Play runs both to the end together and stops there.
    page.get_by_test_id("compare-speed").select_option("100")  # training steps/s (issue 28): 200 steps in 2 s
    page.get_by_test_id("compare-play").click()
    expect(page.get_by_test_id("compare-step")).not_to_have_attribute("data-step", "0")
    now = drawn_steps(page)
    assert now[0] == now[1]
    expect(page.get_by_test_id("compare-play")).to_have_attribute("data-playing", "false")
    assert drawn_steps(page) == ["200", "200"]

    # Pause holds the step.
    scrub.fill("0")
    page.get_by_test_id("compare-play").click()
    expect(page.get_by_test_id("compare-step")).not_to_have_attribute("data-step", "0")
    page.get_by_test_id("compare-play").click()
    held = page.get_by_test_id("compare-step").get_attribute("data-step")
    page.wait_for_timeout(600)
    assert page.get_by_test_id("compare-step").get_attribute("data-step") == held
    assert drawn_steps(page) == [held, held]


def test_overlaid_curves(page):
    for chart in ("chart-loss", "chart-regions", "chart-churn"):
        lengths = page.evaluate(f"() => document.getElementById('{chart}').data.map((t) => [t.name, t.x.length])")
        assert lengths == [["4x2_seed0", 5], ["6x3_seed0", 5]]
    marker = page.evaluate("() => document.getElementById('chart-loss').layout.shapes.map((s) => s.x0)")
    assert marker == [int(page.get_by_test_id("compare-step").get_attribute("data-step"))]


def test_table_sorts_and_picks_runs(page, sweep_dir):
    summaries = {r["id"]: r["summary"] for r in json.loads((sweep_dir / "sweep.json").read_text())["runs"]}
    rows = page.get_by_test_id("sweep-row")

    def order():
        return [rows.nth(i).get_attribute("data-id") for i in range(rows.count())]

    page.get_by_test_id("sort-val_loss").click()
    assert order() == sorted(summaries, key=lambda k: summaries[k]["val_loss"])
    page.get_by_test_id("sort-val_loss").click()
    assert order() == sorted(summaries, key=lambda k: -summaries[k]["val_loss"])
    page.get_by_test_id("sort-exact_regions").click()
    assert [summaries[k]["exact_regions"] for k in order()] == sorted(s["exact_regions"] for s in summaries.values())

    page.locator('[data-testid="sweep-row"][data-id="6x3_seed1"] input').check()
    expect(page.get_by_test_id("compare-panels")).to_have_attribute("data-ready", "4x2_seed0,6x3_seed0,6x3_seed1")
    assert page.get_by_test_id("compare-run").count() == 3
    assert "runs=4x2_seed0%2C6x3_seed0%2C6x3_seed1" in page.url or "runs=4x2_seed0,6x3_seed0,6x3_seed1" in page.url


def test_live_page_links_to_the_compare_view(page):
    base = page.url.split("/compare")[0]
    page.goto(f"{base}/")
    link = page.get_by_test_id("compare-link")
    expect(link).to_have_text("Compare runs (4)")
    link.click()
    expect(page.get_by_test_id("compare-panels")).to_have_attribute("data-ready", "4x2_seed0,6x3_seed0")
