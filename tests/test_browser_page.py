"""The page as a new user meets it (issue 12): the keyboard, errors, a diverging run,
downloads, small words; the one-screen and phone layouts; the network diagram.

Headless Chromium against a real ``polytope-lens serve`` (harness: tests/browser.py),
one server and one browser for the module, a fresh context per test. Skipped only when
there is no Chromium and CI is unset.
"""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest
from browser import (playwright_or_skip, CANVAS_STATS, PageLog, blur, canvas_rgb, canvas_stats, launch_chromium,
                     page_bytes, renderer_rgb, text_of, wait_canvas_change, wait_number, wait_ready)

from polytope_lens.core.training import trainer_from_checkpoint
from polytope_lens.geometry.grid import compute_partition
from polytope_lens.output.render import partition_rgb, prediction_rgb

pytestmark = pytest.mark.browser

expect, sync_playwright = playwright_or_skip()

QUERY = "res=128"
WAIT = 20_000
expect.set_options(timeout=WAIT)


@pytest.fixture(scope="module")
def server(shared_serve):
    return shared_serve  # tests/conftest.py: one per test process


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def open_app(browser, server):
    """``open_app(query, viewport) -> page``: the app connected and configured; its log checked at the end."""
    opened = []

    def open_(query: str = QUERY, viewport=(1400, 1000), **context_args):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True,
                                      **context_args)
        context.set_default_timeout(WAIT)
        page = context.new_page()
        page.log = PageLog().attach(page)
        opened.append((context, page))
        page.goto(f"{server.url}/?{query}")
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


def expect_state(page, state: str) -> None:
    expect(by(page, "run-state")).to_have_attribute("data-state", state)


# -- rough edge 2: space ---------------------------------------------------------------------
def test_space_toggles_training_after_clicking_a_picture_or_a_checkbox(open_app):
    page = open_app()
    by(page, "sample-disk").click()  # the thumbnail keeps the focus
    expect(by(page, "sample-disk")).to_have_attribute("aria-pressed", "true")
    expect_state(page, "paused")
    page.keyboard.press("Space")
    expect_state(page, "running")
    wait_number(page, "step-counter", ">", 0)
    toggle = by(page, "fill-regions-toggle")
    toggle.click()
    expect(toggle).to_be_checked()
    page.keyboard.press("Space")  # stops training; does not untick the box
    expect_state(page, "paused")
    page.wait_for_timeout(200)
    expect(toggle).to_be_checked()
    # A text field still takes the key.
    by(page, "layers-input").focus()
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    expect_state(page, "paused")


# -- rough edge 3: errors ----------------------------------------------------------------------
def test_errors_do_not_pile_up_and_a_refused_field_says_why_beside_it(open_app):
    page = open_app()
    by(page, "upload-input").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"words, not pixels\n" * 20}]
    )
    entries = page.locator('[data-testid="error-entry"]')
    expect(entries).to_have_count(1)
    upload_words = entries.first.text_content()
    assert re.search(r"upload", upload_words, re.I), upload_words
    # A value past the bounds the page knows: the bounds in words beside the field.
    by(page, "train-points-input").fill("2000000")
    own = by(page, "field-error-train_points")
    expect(own).to_be_visible()
    expect(own).to_contain_text("1,048,576")
    # A value only the server refuses (train + validation past the picture's pixels): its sentence beside the field.
    by(page, "train-points-input").fill("1048000")
    blur(page)
    note = by(page, "field-error-val_points")
    expect(note).to_be_visible()
    words = note.text_content()
    assert re.search(r"exceeds", words, re.I) and len(re.findall(r"[A-Za-z]{3,}", words)) >= 3, words
    # The newest message stands on its own, above the older one; nothing is prefixed to it.
    expect(entries).to_have_count(2)
    newest = entries.first.locator(".error-text").text_content()
    assert "upload" not in newest.lower(), newest
    assert newest.strip() == words.strip()
    # Each is dismissed on its own.
    entries.nth(1).get_by_test_id("error-dismiss").click()
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text(words.strip())
    # A good value clears the field's note and the message.
    by(page, "train-points-input").fill("4000")
    blur(page)
    expect(note).to_have_count(0)
    expect(by(page, "error-banner")).to_be_hidden()


# -- rough edge 4: divergence -------------------------------------------------------------------
def test_an_exploding_loss_is_said_before_it_becomes_nan(open_app):
    page = open_app(f"{QUERY}&lr=5&layers=8x2")
    by(page, "step-n-input").fill("60")
    by(page, "step-button").click()
    warning = page.locator('[data-testid="error-entry"][data-source="exploding"]')
    expect(warning).to_be_visible()
    text = warning.text_content()
    assert re.search(r"explod", text, re.I) and re.search(r"learning rate", text, re.I), text
    assert "0.5" in text, f"a smaller rate is suggested: {text!r}"
    # A new network starts a sane run: the warning goes.
    by(page, "lr-input").fill("0.001")
    by(page, "seed-input").fill("7")
    blur(page)
    expect(warning).to_have_count(0)


# -- rough edge 7: small things ------------------------------------------------------------------
def test_small_words_are_right(open_app, server):
    page = open_app()
    cut = page.evaluate(
        """() => [...document.querySelectorAll('.thumb-name')]
             .filter((e) => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1 || e.getBoundingClientRect().bottom > e.parentElement.getBoundingClientRect().bottom + 1)
             .map((e) => e.textContent)"""
    )
    assert cut == [], f"picture names cut off: {cut}"
    assert page.locator(".thumb-name", has_text="Checkerboard").count() == 1
    by(page, "layers-input").fill("1")
    expect(by(page, "param-count")).to_have_text("1 hidden layer, 1 neuron, 5 parameters")
    by(page, "layers-input").fill("0")
    expect(by(page, "param-count")).not_to_contain_text("1 parameters")
    expect(by(page, "param-count")).to_contain_text("at least one neuron")
    assert f"http://127.0.0.1:{server.port}/" in server.log(tail=10**7), server.log()


# -- rough edge 1: the exact count when paused -----------------------------------------------------
def test_paused_count_is_exact_even_past_the_live_budget(open_app):
    # 64x4 at initialisation: ~1 s for its exact partition here, more than the live budget (0.3 s).
    page = open_app(f"{QUERY}&layers=64x4")
    exact = by(page, "exact-count")
    expect(exact).to_have_attribute("data-status", "exact", timeout=60_000)
    expect(exact).to_have_attribute("data-step", "0")
    first = int(text_of(page, "exact-count").replace(",", ""))
    assert first > 1000
    by(page, "step-n-input").fill("5")
    by(page, "step-button").click()
    wait_number(page, "step-counter", "==", 5)
    expect(exact).to_have_attribute("data-step", "5", timeout=60_000)
    expect(exact).to_have_attribute("data-status", "exact")


def test_a_layer_count_of_an_earlier_step_says_so(open_app):
    page = open_app()
    by(page, "start-button").click()
    status = by(page, "layer-status")
    expect(status).to_have_attribute("data-stale", "true")
    expect(status).to_contain_text(re.compile(r"counted at step \d+; the network is now at step \d+"))
    by(page, "pause-button").click()
    expect_state(page, "paused")
    expect(status).to_have_attribute("data-stale", "false")


# -- rough edge 5: downloads ------------------------------------------------------------------------
NAME = re.compile(r"^polytope-lens-disk-8x3-step(\d+)(?:-\d+)?-(frame|movie|checkpoint|config|regions-k3)\.(png|mp4|gif|pt|json)$")


def _served_name(response) -> str:
    return re.search(r'filename="([^"]+)"', response.headers["content-disposition"]).group(1)


def test_downloads_share_one_naming_scheme_one_caption_and_one_json_format(open_app, server, tmp_path):
    import io
    import json

    import av
    from PIL import Image

    page = open_app(f"{QUERY}&img=disk&layers=8x3")
    for _ in range(3):  # a few movie frames, each at least 10 steps and 0.2 s apart
        by(page, "step-n-input").fill("20")
        by(page, "step-button").click()
        page.wait_for_timeout(400)
    wait_number(page, "step-counter", "==", 60)
    page.wait_for_timeout(500)
    names, bodies = {}, {}
    for what in ("frame", "movie", "checkpoint", "config"):
        link = by(page, f"download-{what}")
        expect(link).not_to_have_class(re.compile(r"\bdisabled\b"))
        response = page.request.get(server.url + link.get_attribute("href"))
        assert response.ok, (what, response.status)
        names[what] = _served_name(response)
        bodies[what] = response.body()
        assert link.get_attribute("download") == "", "the server's name is the one the browser keeps"
    for what, name in names.items():
        m = NAME.match(name)
        assert m and m.group(2) == what, names
    assert names["frame"].startswith("polytope-lens-disk-8x3-step60-")
    assert json.loads(bodies["config"])["layers"] == "8x3"
    # The movie's frames are the frame PNG made smaller: same proportions, caption included.
    frame = Image.open(io.BytesIO(bodies["frame"])).convert("RGB")
    path = tmp_path / ("movie.gif" if names["movie"].endswith(".gif") else "movie.mp4")
    path.write_bytes(bodies["movie"])
    with av.open(str(path)) as container:
        first = next(container.decode(video=0)).to_image().convert("RGB")
    assert abs(first.width / first.height - frame.width / frame.height) < 0.03, (first.size, frame.size)
    strip = first.crop((0, int(first.height * 0.93), first.width // 2, first.height)).convert("L")
    assert min(strip.getdata()) < 100, "the caption's words are in the movie's frames"
    # The exact partition's JSON: the same name scheme and the keys the command line writes.
    with page.expect_download() as info:
        by(page, "download-json").click()
    download = info.value
    assert NAME.match(download.suggested_filename), download.suggested_filename
    doc = json.loads(open(download.path()).read())
    assert doc["format"] == "polytope-lens-regions/1" and doc["config"]["layers"] == "8x3" and doc["step"] == 60


# -- one screen, and phones --------------------------------------------------------------------------
ESSENTIAL = ["panel-partition", "panel-prediction", "panel-target", "loss-chart", "regions-chart",
             "start-button", "step-button", "reset-button", "run-state", "network-diagram"]

BOXES = """(ids) => Object.fromEntries(ids.map((id) => {
  const r = document.querySelector(`[data-testid="${id}"]`).getBoundingClientRect();
  return [id, [r.left, r.top, r.right, r.bottom]];
}))"""

OVERFLOW = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_one_screen_holds_the_panels_the_charts_and_the_run_controls(open_app, size):
    width, height = size
    page = open_app(viewport=size)
    page.evaluate("() => window.scrollTo(0, 0)")
    boxes = page.evaluate(BOXES, ESSENTIAL)
    outside = {k: v for k, v in boxes.items() if v[0] < 0 or v[1] < 0 or v[2] > width + 0.5 or v[3] > height + 0.5}
    assert not outside, f"below the fold or off to the side at {width}x{height}: {outside}"
    scroll, client = page.evaluate(OVERFLOW)
    assert scroll <= client
    # The settings fold away and come back; the panels take the room.
    before = boxes["panel-partition"][2] - boxes["panel-partition"][0]
    by(page, "settings-toggle").click()
    expect(by(page, "settings")).to_be_hidden()
    expect(by(page, "settings-toggle")).to_have_attribute("aria-expanded", "false")
    page.wait_for_function("(w) => document.querySelector('[data-testid=panel-partition]').getBoundingClientRect().width > w + 5", arg=before)
    by(page, "settings-toggle").click()
    expect(by(page, "layers-input")).to_be_visible()


@pytest.mark.parametrize("width", [390, 360])
def test_a_phone_gets_the_panels_first_and_no_sideways_scrolling(open_app, width):
    page = open_app(viewport=(width, 844), is_mobile=True, has_touch=True, device_scale_factor=2)
    scroll, client = page.evaluate(OVERFLOW)
    assert scroll <= client, f"the page is {scroll} px wide on a {client} px screen"
    boxes = page.evaluate(BOXES, ["panel-partition", "run-state", "start-button"])
    left, top, right, bottom = boxes["panel-partition"]
    assert top >= 0 and bottom <= 844, f"the partition panel is not in the first screen: {boxes['panel-partition']}"
    for testid in ("run-state", "start-button"):
        assert boxes[testid][2] <= width and boxes[testid][0] >= 0, (testid, boxes[testid])
    touch = page.evaluate("() => document.querySelector('[data-testid=start-button]').getBoundingClientRect().height")
    assert touch >= 40, f"the Train button is {touch} px tall: too small to tap"
    # The settings are a sheet: closed at first, opened by the menu button, usable, closed again.
    expect(by(page, "layers-input")).to_be_hidden()
    by(page, "settings-toggle").tap()
    expect(by(page, "layers-input")).to_be_visible()
    by(page, "layers-input").fill("8x3")
    expect(by(page, "param-count")).to_contain_text("3 hidden layers")
    by(page, "settings-close").tap()
    expect(by(page, "layers-input")).to_be_hidden()
    assert page.evaluate(OVERFLOW)[0] <= width


# -- the network diagram ----------------------------------------------------------------------
NODES = "[data-testid=network-diagram] .diagram-node"


def _switching_neuron(page) -> int:
    """A first-layer neuron whose zero line crosses the square (asked of /neuron-line)."""
    return page.evaluate("""async () => {
      const token = window.polytopeLens.token;
      for (let j = 0; j < 14; j++) {
        const r = await fetch(`/api/sessions/${token}/neuron-line?layer=1&neuron=${j}`);
        if ((await r.json()).segments.length) return j;
      }
      return -1;
    }""")


@pytest.mark.parametrize("render", ["server", "client"])
def test_the_network_diagram_has_a_live_node_per_neuron_and_draws_its_line(open_app, render):
    page = open_app(f"{QUERY}&layers=14x6&render={render}")
    expect(page.locator(NODES)).to_have_count(84)
    expect(by(page, "diagram-summary")).to_have_text("84 neurons")
    page.wait_for_function("() => document.querySelector('[data-testid=diagram-canvas]').dataset.step === '0'")
    before = canvas_stats(page, "diagram-canvas")
    assert before["lit"] > 0
    # Training moves the thumbnails: the diagram is redrawn from the network at the new step.
    by(page, "step-n-input").fill("200")
    by(page, "step-button").click()
    page.wait_for_function("() => document.querySelector('[data-testid=diagram-canvas]').dataset.step === '200'",
                           timeout=60_000)
    assert canvas_stats(page, "diagram-canvas")["hash"] != before["hash"]
    # Hovering a node draws where that neuron switches on the partition's overlay; leaving clears it.
    j = _switching_neuron(page)
    assert j >= 0
    empty = canvas_stats(page, "partition-overlay")
    node = page.locator(f"{NODES}[data-layer='1'][data-neuron='{j}']")
    node.hover()
    drawn = wait_canvas_change(page, "partition-overlay", empty)
    by(page, "run-state").hover()
    page.wait_for_function(f"(h) => ({CANVAS_STATS})('partition-overlay').hash !== h", arg=drawn["hash"])
    assert canvas_stats(page, "partition-overlay")["lit"] == 0
    # Clicking pins it: the line stays when the pointer leaves, a second click lets it go.
    node.click()
    expect(node).to_have_attribute("aria-pressed", "true")
    by(page, "run-state").hover()
    page.wait_for_function(f"() => ({CANVAS_STATS})('partition-overlay').lit > 0")
    page.wait_for_timeout(300)
    assert canvas_stats(page, "partition-overlay")["lit"] > 0
    # the bias editor the click also opened (issue 27) sits beside the node; under load a click's scroll
    # retries can land the release on it, so it is closed first (Escape, as a person would)
    if by(page, "weight-editor").is_visible():
        page.keyboard.press("Escape")
        expect(by(page, "weight-editor")).to_be_hidden()
    node.click()
    expect(node).to_have_attribute("aria-pressed", "false")
    by(page, "run-state").hover()
    page.wait_for_function(f"() => ({CANVAS_STATS})('partition-overlay').lit === 0")


def test_a_wide_deep_network_diagram_stays_in_its_box(open_app):
    page = open_app(f"{QUERY}&layers=20x40", viewport=(1440, 900))
    expect(page.locator(NODES)).to_have_count(16 * 40)  # 16 of each layer's 20
    expect(by(page, "diagram-summary")).to_have_text("640 of 800 neurons shown")
    page.wait_for_function("() => document.querySelector('[data-testid=diagram-canvas]').dataset.step === '0'")
    box = page.evaluate(BOXES, ["network-diagram", "panel-partition"])
    left, top, right, bottom = box["network-diagram"]
    assert right <= 1440 and bottom <= 900, box
    # as tall as the panels beside it; the rest scrolls inside
    assert abs((bottom - top) - (box["panel-partition"][3] - box["panel-partition"][1])) < 40, box
    sizes = page.evaluate("() => { const b = document.querySelector('[data-testid=network-diagram]');"
                          " return [b.scrollWidth, b.clientWidth]; }")
    assert sizes[0] > sizes[1]
    assert page.evaluate(OVERFLOW)[0] <= 1440
    # the nodes keep a readable size
    side = page.evaluate("() => document.querySelector('.diagram-node rect').getBBox().width")
    assert side >= 12


# -- rough edge 6: big networks ------------------------------------------------------------------
ORANGE = (255, 120, 0)  # output/render.py BOUNDARY_COLOR


def _rgb(page, testid: str) -> np.ndarray:
    return canvas_rgb(page, testid)


def _prediction_at_partition_size(page) -> np.ndarray:
    """The prediction panel as the page's renderer composes it at the partition panel's size (the
    prediction panel itself is smaller beside the partition since issue 28)."""
    return renderer_rgb(page, '{panel: "prediction", fillRegions: false, boundaries: true}')


def _partition_layer_rgb(page) -> np.ndarray:
    """The server frame's partition picture as the page painted it (R x R, before scaling to the panel)."""
    data, meta = page_bytes(page, "() => { const l = window.polytopeLens.panels.partLayer; return {size: l.size, data: l.image.data}; }")
    return data.reshape(meta["size"], meta["size"], 4)[:, :, :3]


def _drawn_at_step_0(page) -> None:
    expect(by(page, "renderer")).to_have_attribute("data-mode", "client")
    expect(by(page, "panel-partition")).to_have_attribute("data-step", "0", timeout=60_000)


def test_boundaries_are_one_device_pixel_wide_and_fade_where_regions_crowd(open_app):
    # 14x6 at two device pixels per CSS pixel: each edge is painted on one side only.
    page = open_app(f"{QUERY}&layers=14x6&render=client", viewport=(1200, 800), device_scale_factor=2)
    _drawn_at_step_0(page)
    partition, prediction = _rgb(page, "panel-partition"), _prediction_at_partition_size(page)
    size = partition.shape[0]
    css = page.evaluate("() => document.querySelector('[data-testid=panel-partition]').clientWidth")
    assert size == round(2 * css)  # drawn at device pixels
    painted = (partition != prediction).any(axis=2)
    boundary = page_bytes(page, "() => ({data: window.polytopeLens.gpu.renderer.readBoundary()})")[0]
    boundary = boundary.astype(bool).reshape(size, size)
    assert boundary.any() and not (painted & ~boundary).any()
    # both sides of every edge were painted before (ratio 1); one side: 1/2 on straight edges, more at crossings
    assert 0.4 < painted.sum() / boundary.sum() < 0.75, "an edge is painted on both of its sides"
    # 20x40: regions denser than pixels; the panel is not a solid block of boundary colour.
    page = open_app(f"{QUERY}&layers=20x40&render=client", viewport=(1200, 800))
    _drawn_at_step_0(page)
    partition, prediction = _rgb(page, "panel-partition"), _prediction_at_partition_size(page)
    painted = (partition != prediction).any(axis=2)
    solid = (partition == ORANGE).all(axis=2)
    assert painted.mean() > 0.3, painted.mean()  # crowded: most pixels carry a line...
    assert solid.mean() < 0.5 * painted.mean(), (solid.mean(), painted.mean())  # ... faded, not solid
    # The layer chart's 40 layers: a few tick labels, the chosen layer's count only.
    page.wait_for_selector("[data-testid=layer-count-chart] .xtick text")
    ticks = page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=layer-count-chart] .xtick text'),"
                          " (t) => t.getBoundingClientRect()).map((r) => [r.left, r.right])")
    assert 2 <= len(ticks) <= 11, ticks
    ticks.sort()
    assert all(a[1] <= b[0] for a, b in zip(ticks, ticks[1:])), f"tick labels overlap: {ticks}"
    texts = page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=layer-count-chart] .bars text'),"
                          " (t) => t.textContent).filter((s) => s)")
    assert len(texts) <= 1, texts


def test_server_frames_paint_boundaries_as_render_py_does(open_app, server):
    """Where the server draws, the page paints the frame's one-pixel lines and fades them exactly
    as output/render.py does (R x R, before scaling to the panel)."""
    page = open_app(f"{QUERY}&layers=14x6&render=server")
    expect(by(page, "renderer")).to_have_attribute("data-mode", "server")
    by(page, "step-n-input").fill("50")
    by(page, "step-button").click()
    expect(by(page, "panel-partition")).to_have_attribute("data-step", "50", timeout=60_000)
    token = page.evaluate("() => window.polytopeLens.token")
    model = trainer_from_checkpoint(httpx.get(f"{server.url}/api/sessions/{token}/checkpoint", timeout=30).content).model
    got = _partition_layer_rgb(page)
    want = partition_rgb(compute_partition(model, got.shape[0]))
    assert (got == want).all(axis=2).mean() >= 0.995
    faded = (want != ORANGE).any(axis=2) & (want != prediction_rgb(compute_partition(model, 128).prediction)).any(axis=2)
    assert faded.any() and (got[faded] == want[faded]).all(axis=1).mean() >= 0.99  # the faded pixels too


@pytest.mark.parametrize("render", ["server", "client"])
def test_the_page_paints_with_the_drawing_facts_the_server_publishes(browser, server, render):
    """Boundary colours and fading are stated once, in Python, and read from GET /api/options: served
    other values, the page (its frame painter and its renderer alike) paints with those."""
    options = server.get_json("/api/options")
    green = [0, 200, 0]
    served = {**options, "drawing": {**options["drawing"], "boundary_color": green, "boundary_fade_eighths": [8] * 10}}
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT)
    try:
        context.route("**/api/options", lambda route: route.fulfill(json=served))
        page = context.new_page()
        log = PageLog().attach(page)
        page.goto(f"{server.url}/?{QUERY}&layers=14x6&render={render}")
        wait_ready(page)
        expect(by(page, "renderer")).to_have_attribute("data-mode", render)
        if render == "server":
            by(page, "step-button").click()  # a frame of the server's pictures
            expect(by(page, "panel-partition")).to_have_attribute("data-step", "10", timeout=60_000)
            rgb = _partition_layer_rgb(page)
        else:
            _drawn_at_step_0(page)
            rgb = _rgb(page, "panel-partition")
        assert (rgb == green).all(axis=2).sum() > 100, "the boundaries are not painted in the served colour"
        assert not (rgb == ORANGE).all(axis=2).any(), "a boundary colour of the page's own"
        facts = page.evaluate("async () => (await import('/static/shared/facts.js')).facts")
        assert facts["boundaryColor"] == green and facts["maxClasses"] == options["limits"]["max_classes"]
        assert not log.errors(), log.errors()
    finally:
        context.close()
