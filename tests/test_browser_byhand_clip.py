"""Issue 27 on a clip's network (inputs x, y, t): the diagram shows the t input and its edges, a t
weight is set by hand like any other, and Copy / Paste weights carry the t column (a 2-input
network's weights are refused in words). Real Chromium against a real server; one page."""

from __future__ import annotations

import json

import pytest
from browser import playwright_or_skip, PageLog, canvas_stats, launch_chromium, wait_ready

pytestmark = pytest.mark.browser

expect, sync_playwright = playwright_or_skip()

WAIT = 20_000
expect.set_options(timeout=WAIT)
WIDTHS = [5, 4]
# the moving-disk sample is a clip of 16 frames: its network takes (x, y, t)
QUERY = f"res=64&render=server&img=moving-disk&layers={','.join(map(str, WIDTHS))}&ntrain=400&nval=100"


@pytest.fixture(scope="module")
def page(shared_serve):
    server = shared_serve  # tests/conftest.py: the worker's server (this page's session is its own)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.set_default_timeout(WAIT)
        pg = context.new_page()
        pg.log = PageLog().attach(pg)
        pg.goto(f"{server.url}/?{QUERY}")
        wait_ready(pg)
        pg.wait_for_function("() => window.polytopeLens.diagram.net && window.polytopeLens.diagram.net.inDim === 3")
        yield pg
        errors = pg.log.errors()
        browser.close()
        assert not errors, f"the page reported errors: {errors}\n{server.log()}"


def _t_weight(page, row: int) -> float:
    """Weight t -> layer 1 neuron ``row`` in the diagram's network (flat layout: W is (5, 3) first)."""
    return page.evaluate("(i) => window.polytopeLens.diagram.net.weights[i]", 3 * row + 2)


def _wait_t_weight(page, row: int, value: float) -> None:
    page.wait_for_function("([i, v]) => Math.abs(window.polytopeLens.diagram.net.weights[i] - v) < 1e-6",
                           arg=[3 * row + 2, value])


def _partition_hash_changes(page, before: int) -> None:
    page.wait_for_function(
        "(h) => { const c = document.querySelector('[data-testid=panel-partition]');"
        " const px = new Uint32Array(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.buffer);"
        " let x = 2166136261; for (let i = 0; i < px.length; i++) x = Math.imul(x ^ px[i], 16777619) >>> 0;"
        " return x !== h; }", arg=before)


def test_the_t_input_and_its_edges_are_in_the_diagram_and_a_t_weight_is_set_by_hand(page):
    page.get_by_test_id("network-diagram").scroll_into_view_if_needed()
    page.wait_for_function("() => window.polytopeLens.diagram.layout && window.polytopeLens.diagram.layout.columns[0].length === 3")
    labels = page.evaluate("() => [...document.querySelectorAll('text.diagram-label')].map((e) => e.textContent)")
    assert {"x", "y", "t"} <= set(labels)
    # at t = 1 (at t = 0 a t weight changes nothing: the slice's first bias is b + W[:, 2] t)
    page.get_by_test_id("time-slider").fill("1")
    expect(page.get_by_test_id("time-readout")).to_have_attribute("data-t", "1")
    page.wait_for_timeout(300)  # the view message and its frame
    page.get_by_test_id("network-diagram").scroll_into_view_if_needed()
    page.wait_for_function("() => window.polytopeLens.diagram.edgePoint(1, 1, 2) !== null")
    point = page.evaluate("() => window.polytopeLens.diagram.edgePoint(1, 1, 2)")
    before = canvas_stats(page, "panel-partition")["hash"]
    page.mouse.click(point["x"], point["y"])
    expect(page.get_by_test_id("weight-editor-title")).to_have_text("Weight from t to layer 1 neuron 1")
    assert float(page.get_by_test_id("weight-value").input_value()) == pytest.approx(_t_weight(page, 1), abs=1e-5)
    page.get_by_test_id("weight-value").fill("3")
    page.get_by_test_id("weight-apply").click()
    _wait_t_weight(page, 1, 3.0)
    expect(page.locator('[data-testid="diagram-edited"][data-key="1:weight:1:2"]')).to_have_count(1)
    _partition_hash_changes(page, before)  # neuron 1's line moved at t = 1
    page.get_by_test_id("weight-close").click()


def test_copy_and_paste_carry_the_t_column(page):
    page.get_by_test_id("weights-copy").click()
    expect(page.get_by_test_id("hand-tools-note")).to_contain_text("Copied the weights of 5,4")
    doc = json.loads(page.get_by_test_id("weights-json").input_value())
    assert doc["in_dim"] == 3 and [len(row) for row in doc["layers"][0]["W"]] == [3] * WIDTHS[0]
    assert [len(layer["W"]) for layer in doc["layers"]] == [*WIDTHS, 1]
    original = doc["layers"][0]["W"][2][2]
    doc["layers"][0]["W"][2][2] = -1.5  # t -> layer 1 neuron 2
    page.get_by_test_id("weights-paste").click()
    page.get_by_test_id("weights-json").fill(json.dumps(doc))
    page.get_by_test_id("weights-paste-apply").click()
    expect(page.get_by_test_id("hand-tools-note")).to_contain_text("Set every weight of 5,4")
    _wait_t_weight(page, 2, -1.5)
    page.get_by_test_id("undo-edit").click()  # the paste undone: the t weight as it was
    _wait_t_weight(page, 2, original)

    # a picture's network (x, y) does not fit a clip's: refused in words
    flat = [row[:2] for row in doc["layers"][0]["W"]]
    picture = {**doc, "in_dim": 2, "layers": [{**doc["layers"][0], "W": flat}, *doc["layers"][1:]]}
    page.get_by_test_id("weights-paste").click()
    page.get_by_test_id("weights-json").fill(json.dumps(picture))
    page.get_by_test_id("weights-paste-apply").click()
    expect(page.get_by_test_id("hand-tools-note")).to_contain_text(
        "they take 2 inputs (x, y); this network takes 3 inputs (x, y, t: a clip's network)")
    page.wait_for_timeout(300)
    assert _t_weight(page, 2) == pytest.approx(original, abs=1e-6)
