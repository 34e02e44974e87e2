"""Issue 15 in the page: the Experiments menu, the dynamics charts, the smoothing baseline (headless Chromium)."""

from __future__ import annotations

import urllib.parse

import pytest
from browser import playwright_or_skip, PageLog, launch_chromium, wait_number, wait_ready

pytestmark = pytest.mark.browser

expect, sync_playwright = playwright_or_skip()

WAIT = 20_000
expect.set_options(timeout=WAIT)


@pytest.fixture(scope="module")
def page(shared_serve):
    server = shared_serve  # tests/conftest.py: one per test process
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(WAIT)
        pg = context.new_page()
        pg.log = PageLog().attach(pg)
        pg.goto(f"{server.url}/?res=128&render=server")
        wait_ready(pg)
        yield pg
        errors = pg.log.errors()
        browser.close()
        assert not errors, f"the page reported errors: {errors}\n{server.log()}"


def query(page) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlparse(page.url).query))


def test_experiments_menu_loads_the_sawtooth_and_its_comparison(page):
    select = page.get_by_test_id("experiment-select")
    expect(select.locator("option")).to_have_count(13)  # "choose" and the twelve experiments
    select.select_option("sawtooth")
    expect(page.get_by_test_id("experiment-note")).to_contain_text("2^L vertical strips")
    expect(page.get_by_test_id("exact-count")).to_have_text("64")  # 2^6, no training
    q = query(page)
    assert q["layers"] == "2x6" and q["init"] == "sawtooth" and q["img"] == "gradient"  # the URL holds the config
    page.get_by_test_id("depth-slider").fill("8")  # the depth control: the count doubles per layer
    expect(page.get_by_test_id("exact-count")).to_have_text("256")
    assert query(page)["layers"] == "2x8"
    select.select_option("sawtooth-shallow")
    expect(page.get_by_test_id("exact-count")).to_have_text("13")  # one layer of 12: 12 + 1 strips
    assert query(page)["layers"] == "12"


def test_dynamics_charts_and_the_baseline_follow_training(page):
    page.get_by_test_id("experiment-select").select_option("rich")
    expect(page.get_by_test_id("exact-count")).not_to_have_text("13")
    assert query(page)["layers"] == "10x8"
    page.locator("#step-n-input").fill("30")
    page.locator("#step-button").click()
    page.wait_for_function("() => window.polytopeLens.dynamics.lastStep === 30", timeout=WAIT)
    page.wait_for_function("() => document.getElementById('churn-chart').data[0].y.length >= 1", timeout=WAIT)
    churn = page.evaluate("() => document.getElementById('churn-chart').data.map((t) => t.y.length)")
    assert churn[0] >= 1 and churn[1] >= 2  # since the last update: from step 30; since the start: 0 and 30
    births = page.evaluate("() => document.getElementById('births-chart').data[0].y.length")
    assert births >= 1
    dead_traces = page.evaluate("() => document.getElementById('dead-chart').data.length")
    assert dead_traces == 8  # one per layer
    expect(page.get_by_test_id("dead-source")).to_contain_text("exact partition")
    page.get_by_test_id("baseline-show").click()
    expect(page.get_by_test_id("baseline-result")).to_contain_text("Validation MSE: smoothing")
    expect(page.get_by_test_id("baseline-image")).to_be_visible()
    # the inspector marks dead neurons: every cell says whether it is dead
    page.get_by_test_id("panel-partition").click(position={"x": 60, "y": 60})
    cells = page.locator("#inspector-pattern button.neuron")
    expect(cells).to_have_count(80)
    dead_cells = page.locator("#inspector-pattern button.neuron.dead").count()
    expected = page.evaluate("() => window.polytopeLens.inspector.dead.join('').split('').filter((c) => c === '1').length")
    assert dead_cells == expected
