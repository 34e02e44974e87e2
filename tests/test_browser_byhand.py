"""Issue 27 in the page: set a weight by hand in the network diagram (the editor, marks, the slider,
undo, copy and paste), the xor-by-hand experiment, and issue 28 item 1: Train asks before it
changes a network set by hand, and Reset brings it back. Real Chromium against a real server; one
server and one page for the module (server drawing: its pictures are the same for the same weights)."""

from __future__ import annotations

import json
import re

import pytest
from browser import playwright_or_skip, PageLog, ServeProcess, canvas_stats, launch_chromium, text_of, wait_ready

pytestmark = pytest.mark.browser

expect, sync_playwright = playwright_or_skip()

WAIT = 20_000
expect.set_options(timeout=WAIT)
PARTITION = "panel-partition"
PREDICTION = "panel-prediction"


@pytest.fixture(scope="module")
def page(shared_serve):
    server = shared_serve  # tests/conftest.py: the worker's server (this page's session is its own)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.set_default_timeout(WAIT)
        pg = context.new_page()
        pg.log = PageLog().attach(pg)
        pg.server_url = server.url
        pg.goto(f"{server.url}/?res=128&render=server")
        wait_ready(pg)
        yield pg
        errors = pg.log.errors()
        browser.close()
        assert not errors, f"the page reported errors: {errors}\n{server.log()}"


def _load(page, preset: str) -> None:
    """The experiment, as it starts (loaded again: the same settings, so Reset gives its start)."""
    again = page.get_by_test_id("experiment-select").input_value() == preset
    page.get_by_test_id("experiment-select").select_option(preset)
    if again:
        page.get_by_test_id("reset-button").click()
        page.wait_for_function("() => window.polytopeLens.handEdits.marks.size === 0")
    page.wait_for_function("(p) => window.polytopeLens.runConfig && window.polytopeLens.runConfig.init === p",
                           arg={"xor-by-hand": "xor", "sawtooth": "sawtooth"}[preset])
    expect(page.get_by_test_id("step-counter")).to_have_text("0")


def _hash(page, panel: str = PARTITION) -> int:
    return canvas_stats(page, panel)["hash"]


def _wait_hash(page, op: str, value: int, panel: str = PARTITION) -> int:
    page.wait_for_function(
        f"([id, v]) => {{ const c = document.querySelector(`[data-testid=\"${{id}}\"]`);"
        " const px = new Uint32Array(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.buffer);"
        " let h = 2166136261; for (let i = 0; i < px.length; i++) h = Math.imul(h ^ px[i], 16777619) >>> 0;"
        f" return h {op} v; }}", arg=[panel, value])
    return _hash(page, panel)


def _click_edge(page, layer: int, row: int, col: int) -> None:
    # the By hand card lies under the charts: a click there scrolls the diagram away; bring it back first
    page.get_by_test_id("network-diagram").scroll_into_view_if_needed()
    page.wait_for_function("([l, r, c]) => window.polytopeLens.diagram.edgePoint(l, r, c) !== null", arg=[layer, row, col])
    point = page.evaluate("([l, r, c]) => window.polytopeLens.diagram.edgePoint(l, r, c)", [layer, row, col])
    page.mouse.click(point["x"], point["y"])
    expect(page.get_by_test_id("weight-editor")).to_be_visible()


def test_xor_by_hand_is_exact_without_training(page):
    _load(page, "xor-by-hand")
    expect(page.get_by_test_id("train-accuracy")).to_have_text("100.0%")
    expect(page.get_by_test_id("experiment-note")).to_contain_text("n0 = relu(x + y)")
    expect(page.get_by_test_id("exact-count")).to_have_text("4")


def test_click_an_edge_type_a_value_and_apply(page):
    _load(page, "xor-by-hand")
    expect(page.get_by_test_id("exact-count")).to_have_text("4")
    before = _hash(page)
    _click_edge(page, 1, 0, 1)  # y into n0 = relu(x + y)
    editor = page.get_by_test_id("weight-editor")
    expect(page.get_by_test_id("weight-editor-title")).to_have_text("Weight from y to layer 1 neuron 0")
    expect(page.get_by_test_id("weight-editor-role")).to_contain_text("relu(x + y)")
    assert page.get_by_test_id("weight-value").input_value() == "1"
    page.get_by_test_id("weight-value").fill("-0.5")
    page.get_by_test_id("weight-apply").click()
    after = _wait_hash(page, "!==", before)  # the partition moved: n0's line turned
    expect(page.locator('[data-testid="diagram-edited"][data-key="1:weight:0:1"]')).to_have_count(1)
    expect(page.get_by_test_id("exact-count")).not_to_have_text("4")
    expect(page.locator(".timeline-mark")).to_have_count(1)
    # undo restores the pixels exactly, redo brings the edit back
    page.get_by_test_id("undo-edit").click()
    _wait_hash(page, "===", before)
    expect(page.locator('[data-testid="diagram-edited"]')).to_have_count(0)
    page.keyboard.press("Control+Shift+Z")
    _wait_hash(page, "===", after)
    page.keyboard.press("Control+z")
    _wait_hash(page, "===", before)
    expect(editor).to_be_visible()
    page.get_by_test_id("weight-close").click()


def test_the_slider_drag_redraws_before_it_is_let_go(page):
    _load(page, "xor-by-hand")
    expect(page.get_by_test_id("exact-count")).to_have_text("4")
    before = _hash(page)
    page.wait_for_function("() => document.querySelector('.diagram-output') !== null")
    page.locator(".diagram-output").first.click()  # red's score: its bias
    expect(page.get_by_test_id("weight-editor-title")).to_have_text("Bias of output 0")
    box = page.get_by_test_id("weight-slider").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    seen = {before}
    for i in range(1, 6):  # drag towards +span: red's score rises, red takes more of the square
        last = _hash(page)
        page.mouse.move(box["x"] + box["width"] / 2 + i * box["width"] / 12, y)
        seen.add(_wait_hash(page, "!==", last))
    assert len(seen) >= 3  # redrawn along the way, before the slider is let go
    page.mouse.up()
    expect(page.locator('[data-testid="diagram-edited"][data-key="2:bias:0:"]')).to_have_count(1)
    page.get_by_test_id("weight-reset").click()  # back to the value it had
    _wait_hash(page, "===", before)
    page.get_by_test_id("weight-close").click()


def test_copy_and_paste_weights(page):
    _load(page, "xor-by-hand")
    page.get_by_test_id("weights-copy").click()
    expect(page.get_by_test_id("hand-tools-note")).to_contain_text("Copied the weights of 4")
    doc = json.loads(page.get_by_test_id("weights-json").input_value())
    assert doc["layers"][0]["W"] == [[1, 1], [-1, -1], [1, -1], [-1, 1]]
    before = _hash(page, PREDICTION)
    doc["layers"][1]["W"] = [[0, 0, 4, 4], [4, 4, 0, 0]]  # the classes swapped: accuracy 0
    page.get_by_test_id("weights-paste").click()
    page.get_by_test_id("weights-json").fill(json.dumps(doc))
    page.get_by_test_id("weights-paste-apply").click()
    _wait_hash(page, "!==", before, PREDICTION)
    expect(page.get_by_test_id("train-accuracy")).to_have_text("0.0%")
    page.get_by_test_id("undo-edit").click()
    _wait_hash(page, "===", before, PREDICTION)
    expect(page.get_by_test_id("train-accuracy")).to_have_text("100.0%")


def test_a_link_carries_the_weights_and_the_page_drawing_follows_the_slider(page):
    """The link opened in a second page, drawn by the page itself (WebGL2): the same edited network,
    and a dragged slider redrawn there too."""
    _load(page, "xor-by-hand")
    expect(page.get_by_test_id("exact-count")).to_have_text("4")
    _click_edge(page, 1, 2, 0)  # x into n2 = relu(x - y)
    page.get_by_test_id("weight-value").fill("0.25")
    page.keyboard.press("Enter")
    # the count of the edited network (it follows the redrawn update: "—" while it is computed)
    expect(page.get_by_test_id("exact-count")).to_have_text(re.compile(r"^(?!4$)\d[\d,]*$"))
    count = text_of(page, "exact-count")
    page.get_by_test_id("weight-close").click()
    page.get_by_test_id("weights-link").click()
    expect(page.get_by_test_id("hand-tools-note")).to_contain_text("address now carries")
    assert "#weights=4_2_" in page.url and len(page.url.split("#")[1]) <= 2048
    other = page.context.new_page()
    other.log = PageLog().attach(other)
    try:
        other.goto(page.url.replace("render=server", "render=client"))
        expect(other.get_by_test_id("exact-count")).to_have_text(count)
        expect(other.get_by_test_id("train-accuracy")).not_to_have_text("100.0%")
        expect(other.locator('[data-testid="diagram-edited"][data-key="1:weight:2:0"]')).to_have_count(1)
        before = _hash(other)
        other.locator('.diagram-node[data-neuron="0"]').click()  # n0 = relu(x + y): its bias moves its line
        expect(other.get_by_test_id("weight-editor-title")).to_have_text("Bias of layer 1 neuron 0")
        box = other.get_by_test_id("weight-slider").bounding_box()
        y = box["y"] + box["height"] / 2
        other.mouse.move(box["x"] + box["width"] / 2, y)
        other.mouse.down()
        seen = {before}
        for i in range(1, 5):
            last = _hash(other)
            other.mouse.move(box["x"] + box["width"] / 2 - i * box["width"] / 10, y)
            seen.add(_wait_hash(other, "!==", last))
        other.mouse.up()
        assert len(seen) >= 3
        assert not other.log.errors(), other.log.errors()
    finally:
        other.close()


def test_train_asks_before_changing_a_hand_set_network_and_reset_brings_it_back(page):
    """Issue 28 item 1: on main, Train turns the sawtooth's 64 strips jagged without a word."""
    _load(page, "sawtooth")
    expect(page.get_by_test_id("exact-count")).to_have_text("64")
    clean = _hash(page)
    page.get_by_test_id("start-button").click()
    ask = page.get_by_test_id("train-ask")
    expect(ask).to_be_visible()
    expect(ask).to_contain_text("set by hand (sawtooth)")
    page.wait_for_timeout(300)
    assert text_of(page, "step-counter") == "0" and page.get_by_test_id("run-state").get_attribute("data-state") == "paused"
    page.get_by_test_id("train-cancel").click()
    expect(ask).to_be_hidden()
    page.get_by_test_id("start-button").click()
    page.get_by_test_id("train-anyway").click()
    page.wait_for_function("() => Number(document.querySelector('[data-testid=step-counter]').textContent) > 50")
    page.get_by_test_id("pause-button").click()
    expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "paused")
    _wait_hash(page, "!==", clean)  # trained: the strips moved
    page.get_by_test_id("reset-button").click()
    expect(page.get_by_test_id("step-counter")).to_have_text("0")
    expect(page.get_by_test_id("exact-count")).to_have_text("64")
    _wait_hash(page, "===", clean)  # the 64 clean strips again
    page.get_by_test_id("start-button").click()  # set by hand again: Train asks again
    expect(ask).to_be_visible()
    page.get_by_test_id("train-cancel").click()


def take_editor_screenshot(path: str) -> None:
    """The README's picture: the editor open on the XOR network's weight y -> n0, set to -0.5."""
    from pathlib import Path

    with ServeProcess() as server, sync_playwright() as p:
        browser = launch_chromium(p)
        pg = browser.new_page(viewport={"width": 1440, "height": 900})
        pg.goto(f"{server.url}/?res=256&render=server")
        wait_ready(pg)
        _load(pg, "xor-by-hand")
        expect(pg.get_by_test_id("exact-count")).to_have_text("4")
        pg.get_by_test_id("network-diagram").scroll_into_view_if_needed()
        _click_edge(pg, 1, 0, 1)
        pg.get_by_test_id("weight-value").fill("-0.5")
        pg.get_by_test_id("weight-apply").click()
        expect(pg.get_by_test_id("exact-count")).to_have_text(re.compile(r"^(?!4$)\d[\d,]*$"))
        expect(pg.locator("#restart-notice")).to_be_hidden(timeout=15_000)  # the "new network" notice has gone
        pg.wait_for_timeout(500)
        box = pg.locator(".diagram-panel").bounding_box()
        editor = pg.get_by_test_id("weight-editor").bounding_box()
        panels = pg.get_by_test_id("panel-partition").bounding_box()
        x0 = min(box["x"], panels["x"]) - 8
        y0 = min(box["y"], panels["y"], editor["y"]) - 8
        x1 = max(box["x"] + box["width"], editor["x"] + editor["width"]) + 8
        y1 = max(box["y"] + box["height"], editor["y"] + editor["height"], panels["y"] + panels["height"]) + 60
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=path, clip={"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0})
        browser.close()


if __name__ == "__main__":  # .venv/bin/python tests/test_browser_byhand.py docs/images/byhand-editor.png
    import sys

    take_editor_screenshot(sys.argv[1] if len(sys.argv) > 1 else "docs/images/byhand-editor.png")
