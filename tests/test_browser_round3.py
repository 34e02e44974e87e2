"""The page, round three (issue 28), items 3, 6 and 8, in headless Chromium against a real
``polytope-lens serve --runs DIR`` (a mini sweep, so the top bar has its Compare link):

- 3: the partition panel is the largest thing on the first screen, drawn at its device-pixel size,
  and the first-screen rules of the one-screen layout still hold (at 1920x1080 too);
- 6: the Compare page plays in training steps, draws at the panels' device-pixel size and says
  what each panel shows;
- 8: the zoom box's words are whole; on a phone the title is not clipped, a step / loss line sits
  by the controls, the panel's checkboxes are 40 px tap targets; the depth control shows 40
  layers; a "press Train" hint until the first run.

One server and one browser for the module, a fresh context per test.
"""

from __future__ import annotations

import time

import pytest
from browser import playwright_or_skip, PageLog, ServeProcess, launch_chromium, wait_number, wait_ready
from sweep_fixture import MINI_SETTINGS, run_sweep_of

pytestmark = pytest.mark.browser

expect, sync_playwright = playwright_or_skip()

WAIT = 20_000
expect.set_options(timeout=WAIT)
QUERY = "res=128&layers=8x3"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # two runs (one per architecture) of the compare tests' mini sweep: the Compare link and page
    sweep = run_sweep_of(tmp_path_factory.mktemp("sweep"), {**MINI_SETTINGS, "seed": [0]})
    s = ServeProcess()
    s.command += ["--runs", str(sweep)]
    with s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def open_page(browser, server):
    """``open_page(path, viewport, **context) -> page``; the page's log is checked at the end."""
    opened = []

    def open_(path: str = f"/?{QUERY}", viewport=(1440, 900), ready: bool = True, **context_args):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, **context_args)
        context.set_default_timeout(WAIT)
        page = context.new_page()
        page.log = PageLog().attach(page)
        opened.append((context, page))
        page.goto(f"{server.url}{path}")
        if ready:
            wait_ready(page)
        return page

    yield open_
    problems = []
    for context, page in opened:
        problems += page.log.errors()
        context.close()
    assert not problems, f"the page reported errors: {problems}\n--- server log ---\n{server.log()}"


def by(page, testid: str):
    return page.get_by_test_id(testid)


BOXES = """(ids) => Object.fromEntries(ids.map((id) => {
  const r = document.querySelector(`[data-testid="${id}"]`).getBoundingClientRect();
  return [id, [r.left, r.top, r.right, r.bottom]];
}))"""

CANVAS_SIZES = """(ids) => Object.fromEntries(ids.map((id) => {
  const c = document.querySelector(`[data-testid="${id}"]`);
  return [id, [c.width, c.clientWidth, window.devicePixelRatio]];
}))"""


# -- item 3: the partition panel is the picture -----------------------------------------------------
ESSENTIAL = ["panel-partition", "panel-prediction", "panel-target", "loss-chart", "regions-chart",
             "start-button", "step-button", "reset-button", "run-state", "network-diagram"]


@pytest.mark.parametrize("size,least", [((1440, 900), 370), ((1920, 1080), 520)])
def test_the_partition_panel_is_the_largest_thing_on_the_first_screen(open_page, size, least):
    width, height = size
    page = open_page(f"/?{QUERY}&render=client", viewport=size, device_scale_factor=2)
    boxes = page.evaluate(BOXES, ESSENTIAL)
    outside = {k: v for k, v in boxes.items() if v[0] < 0 or v[1] < 0 or v[2] > width + 0.5 or v[3] > height + 0.5}
    assert not outside, f"below the fold or off to the side at {width}x{height}: {outside}"
    side = {k: (v[2] - v[0]) * (v[3] - v[1]) for k, v in boxes.items()}
    partition = boxes["panel-partition"][2] - boxes["panel-partition"][0]
    assert partition >= least, f"the partition panel is {partition} px wide at {width}x{height}"
    for other in ("panel-prediction", "panel-target", "network-diagram", "loss-chart", "regions-chart"):
        assert side["panel-partition"] > side[other], (other, boxes)
    assert side["panel-partition"] >= 2 * side["panel-prediction"], boxes  # the pictures beside it, smaller
    # Drawn at the device-pixel size of each panel (by the page's renderer here: weights, not pictures).
    expect(by(page, "renderer")).to_have_attribute("data-mode", "client")
    expect(by(page, "panel-partition")).to_have_attribute("data-step", "0", timeout=60_000)
    sizes = page.evaluate(CANVAS_SIZES, ["panel-partition", "panel-prediction", "panel-target"])
    for testid, (backing, css, ratio) in sizes.items():
        assert backing == round(css * ratio), (testid, sizes)
    evaluated = page.evaluate("() => window.polytopeLens.gpu.renderer.size")
    assert evaluated == [sizes["panel-partition"][0]] * 2, evaluated
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


# -- item 8: small things -------------------------------------------------------------------------------
def test_the_zoom_box_says_the_whole_box(open_page):
    page = open_page(f"/?{QUERY}&render=client")
    expect(by(page, "renderer")).to_have_attribute("data-mode", "client")
    box = by(page, "panel-partition").bounding_box()
    page.mouse.move(box["x"] + 0.27 * box["width"], box["y"] + 0.61 * box["height"])
    for _ in range(6):  # deep enough for five decimals
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(60)
    expect(by(page, "zoom-bar")).to_be_visible()
    page.wait_for_function("() => /\\d{4}/.test(document.querySelector('[data-testid=zoom-box]').textContent)")
    fit = page.evaluate("""() => {
      const el = document.querySelector('[data-testid=zoom-box]');
      const r = el.getBoundingClientRect(), panel = el.closest('.canvas-box').getBoundingClientRect();
      return {text: el.textContent, scroll: [el.scrollWidth, el.clientWidth, el.scrollHeight, el.clientHeight],
              inside: r.left >= panel.left && r.right <= panel.right && r.bottom <= panel.bottom};
    }""")
    sw, cw, sh, ch = fit["scroll"]
    assert sw <= cw + 1 and sh <= ch + 1, f"the zoom box's words are cut off: {fit}"
    assert fit["inside"], fit
    assert "y −" in fit["text"] or "y 0" in fit["text"] or "y " in fit["text"], fit


def test_a_phone_keeps_the_title_a_step_line_and_tap_targets(open_page):
    page = open_page(f"/?{QUERY}", viewport=(390, 844), is_mobile=True, has_touch=True, device_scale_factor=2)
    expect(by(page, "compare-link")).to_be_visible()
    # The title's words are whole and clear of the Compare link.
    title = page.evaluate("""() => {
      const h = document.querySelector('.brand h1'), range = document.createRange();
      range.selectNodeContents(h);
      const t = range.getBoundingClientRect(), link = document.querySelector('[data-testid=compare-link]').getBoundingClientRect();
      return {text: [t.left, t.right], link: [link.left, link.right], clipped: h.scrollWidth > h.clientWidth,
              lines: range.getClientRects().length};
    }""")
    assert title["text"][1] <= title["link"][0], f"the title runs under the Compare link: {title}"
    assert not title["clipped"] and title["lines"] == 1, title
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    # A step / loss line by the controls, above the partition panel, following the run.
    line = by(page, "run-summary")
    expect(line).to_be_visible()
    boxes = page.evaluate(BOXES, ["run-summary", "panel-partition", "start-button"])
    assert boxes["run-summary"][3] <= boxes["panel-partition"][1], boxes
    assert boxes["panel-partition"][3] <= 844, boxes  # the partition panel is still on the first screen
    page.wait_for_function("""() => {  // step 0, and the loss the Train loss readout shows (both arrive with the first update)
      const q = (id) => document.querySelector(`[data-testid=${id}]`).textContent.trim();
      return q('run-summary') === `step 0 · loss ${q('train-loss')}`;
    }""", timeout=30000)
    by(page, "step-n-input").fill("5")
    by(page, "step-button").tap()
    expect(line).to_contain_text("step 5 · loss ")
    page.wait_for_function("""() => {  // the line says what the Train loss readout says
      const q = (id) => document.querySelector(`[data-testid=${id}]`).textContent.trim();
      return q("run-summary") === `step ${q("step-counter")} · loss ${q("train-loss")}`;
    }""")
    # The panel's checkboxes: 40 px tap targets that toggle.
    for testid in ("fill-regions-toggle", "boundaries-toggle"):
        label = page.locator(f"label:has([data-testid={testid}])")
        target = label.bounding_box()
        assert target["height"] >= 40 and target["width"] >= 40, (testid, target)
        before = by(page, testid).is_checked()
        label.tap(position={"x": target["width"] - 4, "y": target["height"] - 4})
        expect(by(page, testid)).to_be_checked(checked=not before)


def test_a_first_visit_says_press_train_until_the_first_run(open_page):
    page = open_page()
    hint = by(page, "first-run-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Train")
    box = hint.bounding_box()
    assert box["y"] + box["height"] <= 900 and box["height"] < 30, box  # one line, on the first screen
    by(page, "start-button").click()
    expect(hint).to_be_hidden()
    wait_number(page, "step-counter", ">", 0)
    by(page, "pause-button").click()
    page.reload()
    wait_ready(page)
    page.wait_for_timeout(300)
    expect(hint).to_be_hidden()  # a visitor who has trained is not told again


def test_the_depth_control_shows_forty_layers(open_page):
    page = open_page()
    layers = by(page, "layers-input")
    layers.fill("20x40")
    expect(by(page, "param-count")).to_contain_text("40 hidden layers")
    expect(page.locator("#depth-value")).to_have_text("40")
    expect(by(page, "depth-slider")).to_have_value("40")
    layers.fill("1024")  # wider than the width slider goes: the typed value is shown
    expect(page.locator("#width-value")).to_have_text("1024")
    expect(page.locator("#depth-value")).to_have_text("1")
    layers.fill("10x10,2,10x3")  # several widths: the depth is still a number
    expect(page.locator("#depth-value")).to_have_text("14")
    expect(page.locator("#width-value")).to_have_text("—")


# -- item 6: the Compare page -----------------------------------------------------------------------------
def test_compare_plays_in_training_steps_and_draws_at_device_pixels(open_page):
    page = open_page("/compare", viewport=(1440, 900), ready=False, device_scale_factor=2)
    expect(by(page, "compare-panels")).to_have_attribute("data-ready", "4x2_seed0,6x3_seed0")
    # Each panel at its device-pixel size: one point of the square per device pixel, no staircase.
    for slot in (0, 1):
        canvas = f"compare-canvas-{slot}"
        page.wait_for_function("(id) => { const c = document.querySelector(`[data-testid=${id}]`);"
                               " return c.width === Math.round(c.clientWidth * devicePixelRatio); }", arg=canvas)
        backing, css, ratio = page.evaluate(CANVAS_SIZES, [canvas])[canvas]
        assert backing == round(css * ratio) and css > 320, (backing, css, ratio)
        # ... and it says what it shows
        expect(by(page, f"compare-explain-{slot}")).to_contain_text("Partition")
        expect(by(page, f"compare-explain-{slot}")).to_contain_text("boundaries")
    expect(by(page, "compare-speed-note")).to_have_text("training steps per second; a snapshot every 50 steps")
    # 100 training steps per second: the 200 steps of the runs take 2 s, not 4 snapshots' worth of ticks.
    by(page, "compare-speed").select_option("100")
    started = time.monotonic()
    by(page, "compare-play").click()
    expect(by(page, "compare-play")).to_have_attribute("data-playing", "false", timeout=30_000)
    elapsed = time.monotonic() - started
    expect(by(page, "compare-step")).to_have_attribute("data-step", "200")
    assert elapsed >= 1.8, f"200 training steps played in {elapsed:.2f} s at 100 steps/s"
    fill = by(page, "compare-fill")
    fill.check()
    expect(by(page, "compare-explain-0")).to_contain_text("its own colour")
