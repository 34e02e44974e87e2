"""Issue 28, items 2, 4 and 5, in headless Chromium against a real server.

- The inspector answers where the click was: a compact card over the partition panel (area,
  f(x, y) = A·(x, y) + c, how many inequalities bind, a link to the full card); a region picked by
  the resting pointer goes when training resumes; neurons are named one way (both 1-based).
- While the timeline replays an earlier step, the readouts show that step, marked "replay", and
  the live numbers again on Live.
- Picking a classes-* sample switches the Task to Classify (with Undo); a refused picture's
  message names the colours it nearly counted; a refusal keeps the old run's charts as its panels.

One server and one browser for the module (tests/test_browser.py's fixtures); small networks and
a 128² grid.
"""

from __future__ import annotations

import io
import re

import httpx
import numpy as np
import pytest
from browser import blur, canvas_stats, settled_text, text_of, wait_number
from PIL import Image
from test_browser import QUERY, browser, by, expect, expect_state, open_app, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

SMALL = f"{QUERY}&img=ring&layers=8x3"


def step_n(page, n: int, expect_step: int) -> None:
    by(page, "step-n-input").fill(str(n))
    by(page, "step-button").click()
    wait_number(page, "step-counter", "==", expect_step)


def click_at(page, u: float, v: float) -> None:
    box = by(page, "panel-partition").bounding_box()
    page.mouse.click(box["x"] + u * box["width"], box["y"] + v * box["height"])


def loss_points(page) -> int:
    return page.evaluate("() => { const d = document.querySelector('[data-testid=\"loss-chart\"]').data;"
                         " return d && d[0] ? d[0].x.length : 0; }")


# -- item 2: the inspector ------------------------------------------------------------------------
def test_compact_card_beside_the_click_and_one_neuron_convention(open_app, server):
    page = open_app(SMALL)
    step_n(page, 20, 20)
    click_at(page, 0.3, 0.3)  # upper left: the card goes to the lower right
    expect(by(page, "inspector")).to_have_attribute("data-state", "ready")
    expect(by(page, "inspector")).to_have_attribute("data-pinned", "true")

    # One convention: layer and neuron both counted from 1, wherever the page names a neuron.
    names = page.eval_on_selector_all(
        "[data-testid=inspector-inequalities] li[data-neuron]",
        "ls => ls.map(l => [Number(l.dataset.layer), Number(l.dataset.neuron), l.querySelector('.ineq-name').textContent])")
    assert len(names) == 24
    for layer, neuron, text in names:
        assert text.startswith(f"L{layer}·n{neuron + 1} "), (layer, neuron, text)
    first = page.locator("[data-testid=inspector-pattern] button.neuron[data-layer='1'][data-neuron='0']")
    assert first.get_attribute("title").startswith("layer 1, neuron 1 (L1·n1)")
    first.click()
    expect(by(page, "neuron-line-info")).to_contain_text(re.compile(r"^Layer 1, neuron 1 \(L1·n1\)"))
    node_title = page.evaluate("() => document.querySelector('[data-testid=network-diagram] .diagram-node[data-layer=\"2\"][data-neuron=\"7\"] title').textContent")
    assert node_title.startswith("Layer 2, neuron 8 (L2·n8)")
    token = page.evaluate("() => window.polytopeLens.token")
    text = httpx.get(f"{server.url}/api/sessions/{token}/inspect", params={"x": 0.1, "y": 0.2}, timeout=10).json()["text"]
    assert re.search(r"layer 1 neuron 1 (on|off)", text) and "neuron 0 " not in text  # the copied text too

    # The compact card, on the panel where the click was.
    page.evaluate("() => window.scrollTo(0, 0)")
    brief = by(page, "inspector-brief")
    expect(brief).to_be_visible()
    expect(brief).to_have_attribute("data-state", "ready")
    expect(brief).to_have_attribute("data-pinned", "true")
    expect(brief).to_have_attribute("data-corner", "br")
    expect(by(page, "inspector")).to_have_attribute("data-state", "ready")

    # It says what the full card says, and it is on the panel, not a screen further down.
    panel = by(page, "panel-partition").bounding_box()
    card = brief.bounding_box()
    assert panel["x"] <= card["x"] and card["x"] + card["width"] <= panel["x"] + panel["width"] + 1
    assert panel["y"] <= card["y"] and card["y"] + card["height"] <= panel["y"] + panel["height"] + 1
    assert by(page, "inspector-brief-area").get_attribute("data-value") == by(page, "inspector-area").get_attribute("data-value")
    assert by(page, "inspector-brief-binding").get_attribute("data-value") == by(page, "inspector-inequalities").get_attribute("data-binding")
    expect(by(page, "inspector-brief-binding")).to_contain_text(re.compile(r"\d+ of 24 inequalities"))
    expect(by(page, "inspector-brief-map")).to_contain_text(re.compile(r"f\(x, y\) = -?\d\.\d+ x [+−] \d\.\d+ y [+−] \d"))
    expect(by(page, "inspector-brief-area")).to_contain_text("of the square")

    # The link brings the full card into view and gives it the focus.
    by(page, "inspector-brief-more").click()
    page.wait_for_function("() => { const r = document.querySelector('[data-testid=inspector]').getBoundingClientRect();"
                           " return r.top >= -1 && r.top < innerHeight / 2; }")
    assert page.evaluate("() => document.activeElement === document.querySelector('[data-testid=inspector]')")

    # The card's × clears the inspection (card and full card).
    by(page, "inspector-brief-clear").click()
    expect(brief).to_be_hidden()
    expect(by(page, "inspector")).to_have_attribute("data-state", "empty")


def test_a_region_picked_by_the_resting_pointer_goes_when_training_resumes(open_app):
    page = open_app(SMALL)
    step_n(page, 20, 20)
    page.evaluate("() => window.scrollTo(0, 0)")
    box = by(page, "panel-partition").bounding_box()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.6 * box["height"])
    page.mouse.move(box["x"] + 0.71 * box["width"], box["y"] + 0.6 * box["height"])
    expect(by(page, "inspector")).to_have_attribute("data-state", "ready")
    expect(by(page, "inspector")).to_have_attribute("data-pinned", "false")
    blur(page)
    page.keyboard.press("Space")  # Train, the pointer still resting on the panel
    expect_state(page, "running")
    expect(by(page, "inspector")).to_have_attribute("data-state", "empty")
    expect(by(page, "inspector-brief")).to_be_hidden()
    assert page.evaluate("() => window.polytopeLens.overlay.highlight") is None  # no outline left behind
    page.keyboard.press("Space")
    expect_state(page, "paused")
    # paused, the resting pointer picks again; its card sits away from the point (lower right: top left)
    page.mouse.move(box["x"] + 0.72 * box["width"], box["y"] + 0.6 * box["height"])
    expect(by(page, "inspector-brief")).to_have_attribute("data-corner", "tl")
    expect(by(page, "inspector-brief")).to_have_attribute("data-pinned", "false")


# -- item 4: replay follows through -------------------------------------------------------------
def test_readouts_show_the_replayed_step_and_return_live(open_app):
    page = open_app(f"{SMALL}&render=client")
    seen = {}
    for n in (100, 200, 300):
        step_n(page, 100, n)  # (fewer steps leave the ring's losses too alike to tell apart)
        expect(by(page, "exact-count")).to_have_attribute("data-step", str(n))
        expect(by(page, "region-count")).to_have_attribute("data-step", str(n))
        seen[n] = {tid: settled_text(page, tid) for tid in ("train-loss", "val-loss", "region-count", "exact-count")}
    assert seen[100] != seen[300]
    mark = by(page, "readouts-replay")

    by(page, "timeline").fill("1")  # step 100
    expect(by(page, "timeline-step")).to_have_text("step 100 of 300 (replay)")
    expect(by(page, "step-counter")).to_have_text("100")
    expect(mark).to_be_visible()
    expect(mark).to_have_text("replay")
    for tid, text in seen[100].items():
        expect(by(page, tid)).to_have_text(text)
    expect(by(page, "region-count")).to_have_attribute("data-step", "100")
    expect(by(page, "exact-count")).to_have_attribute("data-step", "100")
    expect(by(page, "exact-hint")).to_contain_text("replayed step 100")

    by(page, "timeline").fill("2")  # step 200
    expect(by(page, "step-counter")).to_have_text("200")
    expect(by(page, "train-loss")).to_have_text(seen[200]["train-loss"])

    by(page, "timeline-live").click()
    expect(by(page, "step-counter")).to_have_text("300")
    expect(mark).to_be_hidden()
    for tid, text in seen[300].items():
        expect(by(page, tid)).to_have_text(text)
    expect(by(page, "exact-count")).to_have_attribute("data-step", "300")


# -- item 5: classification --------------------------------------------------------------------
def test_a_classes_sample_switches_to_classify_with_undo(open_app):
    page = open_app(f"{QUERY}&img=ring&layers=8x3&ntrain=1000&nval=200")
    expect(by(page, "task-select")).to_have_value("regress")
    by(page, "sample-classes-spiral").click()
    expect(by(page, "task-select")).to_have_value("classify")
    toast = by(page, "task-toast")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("Classify")
    expect(by(page, "classes-list").locator("li")).to_have_count(2, timeout=20_000)  # one network, a classifier
    page.wait_for_function("() => location.search.includes('task=classify') && location.search.includes('img=classes-spiral')")
    by(page, "task-toast-undo").click()
    expect(toast).to_be_hidden()
    expect(by(page, "task-select")).to_have_value("regress")
    expect(by(page, "accuracy-chart")).to_be_hidden(timeout=20_000)  # a regression again
    # a picture made for regression, picked under Regress, changes nothing else
    by(page, "sample-disk").click()
    expect(by(page, "task-select")).to_have_value("regress")
    expect(toast).to_be_hidden()


def _red_and_near_blue_png() -> bytes:
    img = np.zeros((1024, 1024, 3), dtype=np.uint8)
    img[:, :512] = (255, 0, 0)
    img[:, 512:] = (30, 60, 200)  # a blue 60 from pure blue: not counted at the rule's 40
    buf = io.BytesIO()
    Image.fromarray(img, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def test_a_refusal_names_near_misses_and_keeps_the_old_run_whole(open_app, server):
    upload = httpx.post(f"{server.url}/api/images", files={"file": ("near.png", _red_and_near_blue_png(), "image/png")}, timeout=30)
    assert upload.status_code == 201, upload.text
    page = open_app(f"{QUERY}&img={upload.json()['image_id']}&layers=8x3&ntrain=1000&nval=200&render=server")
    step_n(page, 40, 40)
    page.wait_for_function("() => { const d = document.querySelector('[data-testid=\"loss-chart\"]').data;"
                           " return d && d[0] && d[0].x.includes(40); }")
    points = loss_points(page)
    panel = canvas_stats(page, "panel-partition")
    assert points >= 1 and panel["lit"] > 0

    by(page, "task-select").select_option("classify")
    note = by(page, "classes-note")
    expect(note).to_contain_text("at least 2 classes", timeout=20_000)
    expect_state(page, "refused")
    # the old run stays on screen whole: its curves as well as its pictures and its step (the
    # page used to clear the charts when it sent the configure, before the refusal came back)
    assert loss_points(page) == points
    assert canvas_stats(page, "panel-partition")["hash"] == panel["hash"]
    assert text_of(page, "step-counter") == "40"
    # the refusal names what it nearly counted, and the tolerance that would take it
    expect(note).to_contain_text("found red")
    expect(note).to_contain_text("a blue of RGB 30,60,200")
    expect(note).to_contain_text("a tolerance of 60 would take it")
