"""Classification in the page, end to end in headless Chromium: pick classes-spiral, task classify,
train; the classes found are listed, the accuracy counter rises, the decision boundary appears as
the heavier black line on the partition panel, the target shows labelled points, the decision
boundary's exact length is read out, and the inspector shows the per-class maps. Both renderers:
server frames, and the page's WebGL2 renderer drawing the class map itself. A picture without
classes is refused in words under the classes. Fixtures: tests/test_browser.py."""

from __future__ import annotations

import re

import httpx
import pytest
from browser import text_of, wait_number
from test_browser import browser, by, expect, open_app, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

# A small grid and network: software GL evaluates every pixel on the CPU.
QUERY = "res=128&img=classes-spiral&task=classify&layers=16x3&ntrain=2000&nval=400&lr=0.01"

# (testid) => share of the canvas's pixels that are pure black (the decision boundary's colour,
# or the validation points on a classifier's target panel).
BLACK_SHARE = """(testid) => {
  const c = document.querySelector(`[data-testid="${testid}"]`);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let black = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] === 0 && d[i + 1] === 0 && d[i + 2] === 0 && d[i + 3] === 255) black++;
  return black / (d.length / 4);
}"""


def accuracy(page, testid: str) -> float:
    text = text_of(page, testid)
    assert text.endswith("%"), text
    return float(text[:-1]) / 100


@pytest.mark.parametrize("render", ["server", "client"])
def test_classify_the_spiral_accuracy_rises_and_the_decision_boundary_appears(open_app, server, render):
    page = open_app(f"{QUERY}&render={render}")
    expect(by(page, "renderer")).to_have_attribute("data-mode", render)
    # the task and its settings: in the controls and the address
    expect(by(page, "task-select")).to_have_value("classify")
    expect(by(page, "label-noise-input")).to_be_visible()
    assert "task=classify" in page.url
    # the classes the server found: two arms, each with its pixel count
    expect(by(page, "classes-list").locator("li")).to_have_count(2)
    expect(by(page, "class-0")).to_contain_text(re.compile(r"\d[\d,]* px"))
    expect(by(page, "param-count")).to_contain_text("parameters")
    # the classifier's readouts and charts are shown, the loss is cross-entropy
    expect(by(page, "val-accuracy")).to_be_visible()
    expect(by(page, "accuracy-chart")).to_be_visible()
    expect(by(page, "loss-hint")).to_contain_text("cross-entropy")
    expect(page.get_by_text("The class that wins at every grid point")).to_be_visible()  # the panels say what they show
    expect(page.get_by_text("The network's output at every grid point")).to_be_hidden()
    expect(by(page, "baseline-card")).to_be_hidden()  # a regression baseline (MSE): not a classifier's
    page.wait_for_function("() => /%$/.test(document.querySelector('[data-testid=val-accuracy]').textContent)")
    before = accuracy(page, "val-accuracy")
    # the target: labelled training points in their class colours, validation points black
    page.wait_for_function(f"() => ({BLACK_SHARE})('panel-target') > 0.001")

    by(page, "step-n-input").fill("600")
    by(page, "step-button").click()
    wait_number(page, "step-counter", "==", 600, timeout=90_000)
    page.wait_for_function(
        "(b) => { const t = document.querySelector('[data-testid=val-accuracy]').textContent;"
        " return /%$/.test(t) && parseFloat(t) / 100 > b + 0.1; }", arg=before, timeout=30_000)
    after = accuracy(page, "val-accuracy")
    assert after > max(0.75, before + 0.1), (before, after)
    assert accuracy(page, "train-accuracy") > 0.75

    # the decision boundary: the heavier black line over the partition panel, none on the prediction
    page.wait_for_function(f"() => ({BLACK_SHARE})('panel-partition') > 0.005")
    assert page.evaluate(BLACK_SHARE, "panel-prediction") == 0
    # its exact length and the linear regions it crosses, as the server computes them
    page.wait_for_function("() => Number(document.querySelector('[data-testid=boundary-length]').textContent) > 0")
    regions_crossed = wait_number(page, "boundary-regions", ">=", 1)
    href = by(page, "download-checkpoint").get_attribute("href")
    token = href.split("/api/sessions/")[1].split("/")[0]
    doc = httpx.get(f"{server.url}/api/sessions/{token}/regions.json", timeout=60).json()
    assert doc["step"] == 600
    assert float(text_of(page, "boundary-length")) == pytest.approx(doc["decision"]["boundary_length"], abs=2e-3)
    assert regions_crossed == doc["decision"]["boundary_regions"]

    # the inspector: per-class maps, scores and softmax at the point, the winner
    box = by(page, "panel-partition").bounding_box()
    page.mouse.click(box["x"] + 0.7 * box["width"], box["y"] + 0.3 * box["height"])
    expect(by(page, "inspector-classify")).to_be_visible()
    rows = by(page, "inspector-class-table").locator("tr[data-testid^=class-row-]")
    expect(rows).to_have_count(2)
    expect(by(page, "inspector-class-table")).to_contain_text("(wins here)")
    expect(by(page, "inspector-class-table")).to_contain_text("red")  # the classes by name
    expect(by(page, "inspector-pieces")).to_contain_text("autograd")


def test_a_picture_without_classes_is_refused_under_the_classes_and_task_round_trips(open_app):
    page = open_app("res=128&layers=8x3&ntrain=2000&nval=200&render=server")
    expect(by(page, "classes-box")).to_be_hidden()
    expect(by(page, "accuracy-chart")).to_be_hidden()
    by(page, "task-select").select_option("classify")
    expect(by(page, "classes-box")).to_be_visible()
    # the ring is gray: no classes; the server's sentence is said under the classes
    expect(by(page, "classes-note")).to_contain_text("at least 2 classes", timeout=20_000)
    expect(by(page, "classes-note")).to_have_class(re.compile("field-error"))
    # a classes picture is built: the refusal goes, the classes come
    by(page, "sample-classes-three").click()
    expect(by(page, "classes-list").locator("li")).to_have_count(3, timeout=20_000)
    expect(by(page, "classes-note")).to_have_text("")
    # more points than labelled pixels: refused beside the training points, in the server's words
    by(page, "train-points-input").fill("900000")
    expect(by(page, "field-error-train_points")).to_contain_text("labelled pixels", timeout=20_000)
    by(page, "train-points-input").fill("2000")
    expect(by(page, "field-error-train_points")).to_be_hidden(timeout=20_000)
    by(page, "label-noise-input").fill("0.1")
    page.wait_for_function("() => location.search.includes('label_noise=0.1')")
    assert "task=classify" in page.url
    # the address reproduces the setting: a fresh page from it shows it
    again = open_app(page.url.split("?", 1)[1])
    expect(by(again, "task-select")).to_have_value("classify")
    expect(by(again, "label-noise-input")).to_have_value("0.1")


def test_compare_page_draws_a_classifier_run_as_its_class_map(browser, tmp_path):  # noqa: F811 (fixture)
    """A sweep of classifiers shown on /compare: weights.json gives the class colours, so the run's
    panel is its class map (red and blue areas) with the decision boundary in black."""
    from browser import PageLog, ServeProcess
    from sweep_fixture import run_sweep_of

    out = run_sweep_of(tmp_path / "sweep", {"image": "classes-xor", "task": "classify", "layers": ["8x3"], "seed": [0],
                                            "steps": 300, "frame_every": 100, "resolution": 32, "train_points": 2000,
                                            "val_points": 200, "lr": 0.01})
    server = ServeProcess()
    server.command += ["--runs", str(out)]
    with server:
        page = browser.new_page()
        log = PageLog().attach(page)
        try:
            page.goto(f"{server.url}/compare")
            expect(by(page, "compare-panels")).to_have_attribute("data-ready", "8x3_seed0")
            by(page, "compare-scrub").fill("300")  # the last recorded step
            page.wait_for_function("() => document.querySelector('[data-testid=compare-canvas-0]').dataset.step === '300'")
            shares = page.evaluate("""() => {
              const c = document.querySelector('[data-testid=compare-canvas-0]');
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let red = 0, blue = 0, black = 0;
              for (let i = 0; i < d.length; i += 4) {
                if (d[i] === 255 && d[i + 1] === d[i + 2] && d[i + 1] < 200) red++;
                else if (d[i + 2] === 255 && d[i] === d[i + 1] && d[i] < 200) blue++;
                else if (d[i] === 0 && d[i + 1] === 0 && d[i + 2] === 0) black++;
              }
              const n = d.length / 4;
              return [red / n, blue / n, black / n, c.width];
            }""")
        finally:
            page.close()
    assert not log.errors(), log.errors()
    red, blue, black, width = shares
    # the boundary is a line about a pixel wide: its share of the pixels falls as the canvas grows (the
    # compare panels are drawn at their device-pixel size); 0.005 of a 320-pixel canvas
    assert red > 0.2 and blue > 0.2 and black * width / 320 > 0.005, shares
