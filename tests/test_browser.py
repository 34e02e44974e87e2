"""The web app end to end: headless Chromium against a real ``polytope-lens serve``.

One server and one browser for the whole module; every test opens its own page
(a fresh browser context, so a fresh websocket session). Pages ask for a 128×128
grid (``res=128``) so frames are cheap on a small machine. Harness: tests/browser.py.

Tests of drawing and training run twice (``render``): with server frames and with the
page's own WebGL2 renderer (``render=client``: SwiftShader here, forced by the address,
since the page would not choose a software rasterizer by itself). The renderer's own
page-level tests (timeline, zoom, fallback) are in tests/test_browser_client.py.

Skipped only when there is no Chromium *and* the environment variable CI is unset;
in CI (scripts/test.sh installs Debian's Chromium) they always run.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest
from browser import (
    playwright_or_skip,
    CANVAS_HALVES,
    PageLog,
    blur,
    canvas_halves,
    canvas_stats,
    launch_chromium,
    settled_text,
    text_of,
    wait_canvas_change,
    wait_number,
    wait_ready,
)
from PIL import Image

pytestmark = pytest.mark.browser

expect, sync_playwright = playwright_or_skip()

QUERY = "res=128"  # a small grid: cheap frames on a 2-core machine
RENDERS = ["server", "client"]  # who draws: server frames, or the page from the weights
WAIT = 20_000  # ms: generous, for a busy machine; nothing waits this long when all is well
expect.set_options(timeout=WAIT)


# -- fixtures ------------------------------------------------------------------------------------
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
    """``open_app(query) -> page``: the app in a fresh context, connected and configured.

    Every page's log is checked at the end: no uncaught exception and no console error
    except network errors (a refused upload's 415, a websocket that cannot connect).
    """
    opened: list[tuple] = []

    def open_(query: str = QUERY):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(WAIT)
        page = context.new_page()
        page.log = PageLog().attach(page)
        opened.append((context, page))
        page.goto(f"{server.url}/?{query}" if query else f"{server.url}/")
        wait_ready(page)
        return page

    yield open_
    problems = []
    for context, page in opened:
        problems += page.log.errors()
        context.close()
    assert not problems, f"the page reported errors: {problems}\n--- server log ---\n{server.log()}"


def render_query(render: str, query: str = QUERY) -> str:
    # Software GL evaluates every pixel on the CPU: a smaller network keeps the page responsive.
    return f"{query}&render={render}" + ("&layers=8x4" if render == "client" else "")


def expect_renderer(page, render: str) -> None:
    """The page says who draws, and it is who the address asked for."""
    expect(by(page, "renderer")).to_have_attribute("data-mode", render)
    expect(by(page, "renderer")).to_contain_text(re.compile("WebGL" if render == "client" else "server", re.I))


def by(page, testid: str):
    return page.get_by_test_id(testid)


def number(page, testid: str) -> float:
    text = text_of(page, testid)
    try:
        return float(text)
    except (TypeError, ValueError):
        raise AssertionError(f"{testid} shows {text!r}, not a number") from None


def expect_state(page, state: str) -> None:
    expect(by(page, "run-state")).to_have_attribute("data-state", state)


def start(page) -> None:
    by(page, "start-button").click()
    expect(by(page, "pause-button")).to_be_visible()
    expect_state(page, "running")


def pause(page) -> None:
    by(page, "pause-button").click()
    expect(by(page, "start-button")).to_be_visible()
    expect_state(page, "paused")


# -- tests ----------------------------------------------------------------------------------------
def test_page_loads_without_errors_and_lists_the_samples(open_app, server):
    page = open_app("")  # no query at all: the defaults, written into the address
    samples = server.get_json("/api/samples")
    assert len(samples) >= 2
    for sample in samples:
        expect(by(page, f"sample-{sample['id']}")).to_be_visible()
    assert page.locator('[data-testid^="sample-"]').count() == len(samples)
    # Every thumbnail loaded (no broken pictures).
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid^="sample-"] img')]
                 .every((img) => img.complete && img.naturalWidth > 0 && !img.classList.contains("broken"))"""
    )
    expect(by(page, "sample-ring")).to_have_attribute("aria-pressed", "true")
    expect(by(page, "connection-status")).to_have_text("Connected")
    expect(by(page, "error-banner")).to_be_hidden()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert query["img"] == ["ring"] and query["layers"] == [by(page, "layers-input").input_value()]
    # The target panel shows the picture (with its points) before anything trains.
    wait_canvas_change(page, "panel-target", None)
    assert page.log.errors(network_ok=False) == [], "a clean load logs no console error at all"
    assert page.log.warnings() == [], "a clean load logs no warning"


def test_choosing_a_sample_changes_the_target(open_app):
    page = open_app()
    ring = wait_canvas_change(page, "panel-target", None)
    by(page, "sample-disk").click()
    expect(by(page, "sample-disk")).to_have_attribute("aria-pressed", "true")
    expect(by(page, "sample-ring")).to_have_attribute("aria-pressed", "false")
    expect(page).to_have_url(re.compile(r"[?&]img=disk(&|$)"))
    disk = wait_canvas_change(page, "panel-target", ring)
    assert disk["lit"] > 0
    expect(by(page, "restart-notice")).to_contain_text("new picture")
    expect_state(page, "paused")
    assert text_of(page, "step-counter") == "0"


@pytest.mark.parametrize("render", RENDERS)
def test_train_pause_step_reset(open_app, render):
    page = open_app(render_query(render))
    expect_renderer(page, render)
    start(page)
    wait_number(page, "step-counter", ">", 0)
    partition = wait_canvas_change(page, "panel-partition", None)
    prediction = wait_canvas_change(page, "panel-prediction", None)
    first = number(page, "step-counter")
    # Two moments of training: the counter grew and both pictures changed.
    wait_number(page, "step-counter", ">=", first + 100)
    wait_canvas_change(page, "panel-partition", partition)
    wait_canvas_change(page, "panel-prediction", prediction)
    assert number(page, "train-loss") > 0
    assert number(page, "val-loss") > 0
    assert number(page, "region-count") >= 1
    assert number(page, "steps-per-s") > 0

    pause(page)
    stopped = float(settled_text(page, "step-counter"))  # after the paused run's last frame
    page.wait_for_timeout(1000)  # then it stays where it is for a second
    assert number(page, "step-counter") == stopped

    by(page, "step-n-input").fill("25")
    by(page, "step-button").click()
    wait_number(page, "step-counter", "==", stopped + 25)
    expect_state(page, "paused")
    expect(by(page, "start-button")).to_be_visible()

    by(page, "reset-button").click()
    wait_number(page, "step-counter", "==", 0)
    expect_state(page, "paused")
    expect(by(page, "error-banner")).to_be_hidden()


def test_invalid_layers_are_explained_in_words(open_app):
    page = open_app()
    by(page, "layers-input").fill("0x3")
    banner = by(page, "error-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(re.compile(r"layers", re.I))
    words = re.findall(r"[A-Za-z]{3,}", banner.text_content())
    assert len(words) >= 3, f"the banner should say what is wrong in words: {banner.text_content()!r}"
    expect(by(page, "layers-input")).to_have_class(re.compile(r"\bserver-invalid\b"))
    # Train does nothing with a refused configuration ...
    by(page, "start-button").click()
    page.wait_for_timeout(300)
    expect(by(page, "start-button")).to_be_visible()
    assert text_of(page, "step-counter") == "0"
    # ... and a valid value clears the error and trains.
    by(page, "layers-input").fill("8x2")
    expect(banner).to_be_hidden()
    expect(by(page, "layers-input")).not_to_have_class(re.compile(r"\bserver-invalid\b"))
    expect_state(page, "paused")
    start(page)
    wait_number(page, "step-counter", ">", 0)


@pytest.mark.parametrize("render", RENDERS)
def test_upload_a_picture_and_train_on_it(open_app, tmp_path, render):
    # Black on the left, white on the right: a target whose halves are easy to tell apart.
    picture = Image.new("RGB", (300, 300), "white")
    picture.paste((0, 0, 0), (0, 0, 150, 300))
    path = tmp_path / "halves.png"
    picture.save(path)

    page = open_app(render_query(render))
    ring = wait_canvas_change(page, "panel-target", None)
    by(page, "upload-input").set_input_files(str(path))
    uploaded = page.locator('[data-testid^="uploaded-"]')
    expect(uploaded).to_have_count(1)
    expect(uploaded).to_have_attribute("aria-pressed", "true")
    image_id = uploaded.get_attribute("data-image-id")
    expect(page).to_have_url(re.compile(rf"[?&]img={re.escape(image_id)}(&|$)"))
    wait_canvas_change(page, "panel-target", ring)
    page.wait_for_function(
        f"() => {{ const [l, r] = ({CANVAS_HALVES})('panel-target'); return l < 80 && r > 170; }}"
    )
    expect(by(page, "error-banner")).to_be_hidden()

    start(page)
    wait_number(page, "step-counter", ">", 0)
    # The network learns the picture: its loss falls and its prediction turns dark on the
    # left, light on the right.
    page.wait_for_function(
        f"""() => {{
          const [l, r] = ({CANVAS_HALVES})("panel-prediction");
          const loss = Number(document.querySelector('[data-testid="train-loss"]').textContent);
          return r - l > 150 && loss < 0.05;
        }}""",
        timeout=40_000,
    )
    left, right = canvas_halves(page, "panel-prediction")
    assert right - left > 150


def test_a_file_that_is_not_a_picture_is_refused_in_words(open_app):
    page = open_app()
    by(page, "upload-input").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"these are words, not pixels\n" * 20}]
    )
    banner = by(page, "error-banner")
    expect(banner).to_be_visible()
    text = banner.text_content()
    assert re.search(r"upload", text, re.I), text
    assert len(re.findall(r"[A-Za-z]{3,}", text)) >= 4, f"the banner should explain in words: {text!r}"
    assert not re.fullmatch(r"[\W\d]*", text)
    assert page.locator('[data-testid^="uploaded-"]').count() == 0
    expect(by(page, "sample-ring")).to_have_attribute("aria-pressed", "true")
    # The session is unharmed: choosing a sample clears the upload error and training works.
    by(page, "sample-disk").click()
    expect(banner).to_be_hidden()
    by(page, "step-button").click()
    wait_number(page, "step-counter", "==", 10)


def test_the_address_holds_the_configuration(open_app):
    page = open_app()
    by(page, "layers-input").fill("10x3")
    expect(page).to_have_url(re.compile(r"[?&]layers=10x3(&|$)"))
    by(page, "activation-select").select_option("leaky_relu")
    expect(page).to_have_url(re.compile(r"[?&]act=leaky_relu(&|$)"))
    expect_state(page, "paused")
    shared = page.url

    again = open_app(shared.split("?", 1)[1])
    expect(by(again, "layers-input")).to_have_value("10x3")
    expect(by(again, "activation-select")).to_have_value("leaky_relu")
    expect(by(again, "depth-slider")).to_have_value("3")
    expect(by(again, "width-slider")).to_have_value("10")
    expect(by(again, "param-count")).to_contain_text("3 hidden layers")
    assert again.url == shared


def test_space_toggles_training(open_app):
    page = open_app()
    blur(page)
    page.keyboard.press("Space")
    expect(by(page, "pause-button")).to_be_visible()
    expect_state(page, "running")
    wait_number(page, "step-counter", ">", 0)
    page.keyboard.press("Space")
    expect(by(page, "start-button")).to_be_visible()
    expect_state(page, "paused")
    # Not while typing in a field.
    by(page, "seed-input").focus()
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    expect_state(page, "paused")


@pytest.mark.parametrize("render", RENDERS)
def test_loss_chart_has_data_after_training(open_app, render):
    page = open_app(render_query(render))
    by(page, "step-n-input").fill("200")
    by(page, "step-button").click()
    wait_number(page, "step-counter", "==", 200)
    for _ in range(3):
        by(page, "step-button").click()
        page.wait_for_timeout(50)
    wait_number(page, "step-counter", "==", 800)
    page.wait_for_function(
        """() => {
          const div = document.querySelector('[data-testid="loss-chart"]');
          return div && div.classList.contains("js-plotly-plot") && Array.isArray(div.data)
            && div.data.length === 2
            && div.data.every((t) => t.x.length >= 2 && t.x[t.x.length - 1] === 800 && t.y.some((v) => v > 0));
        }"""
    )
    traces = page.evaluate(
        """() => document.querySelector('[data-testid="loss-chart"]').data.map((t) => ({name: t.name, x: t.x, y: t.y}))"""
    )
    assert [t["name"] for t in traces] == ["train", "validation"]
    assert traces[0]["x"][-1] == 800
    # Drawn, not only held: the plot has a line with a path.
    lines = page.locator('[data-testid="loss-chart"] .scatterlayer path.js-line')
    expect(lines.first).to_be_attached()
    assert len(lines.first.get_attribute("d") or "") > 10
    expect(page.locator('[data-testid="regions-chart"] .scatterlayer path.js-line').first).to_be_attached()


@pytest.mark.parametrize("render", RENDERS)
def test_a_dropped_connection_takes_the_same_run_back(browser, server, render):
    """A network blip (or a page stalled past the server's pings) drops the socket: the page reconnects
    with its session's token and the run goes on where it was, charts, timeline and all."""
    from live_server import CuttableRelay

    with CuttableRelay(server.port) as relay:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(WAIT)
        try:
            page = context.new_page()
            page.log = PageLog().attach(page)
            page.goto(f"{relay.url}/?{render_query(render)}")
            wait_ready(page)
            start(page)
            wait_number(page, "step-counter", ">", 100)
            page.evaluate(
                """() => {
                  const q = (id) => document.querySelector(`[data-testid="${id}"]`);
                  const seen = (window.__seen = {steps: [], states: []});
                  window.__record = setInterval(() => {
                    seen.steps.push(Number(q("step-counter").textContent));
                    seen.states.push(q("connection-status").dataset.state);
                  }, 10);
                }"""
            )
            at_cut = int(text_of(page, "step-counter"))
            assert relay.cut() >= 1
            expect(by(page, "restart-notice")).to_contain_text(re.compile(r"reconnected.*went on", re.I))
            expect(by(page, "connection-status")).to_have_attribute("data-state", "open")
            expect_state(page, "running")
            wait_number(page, "step-counter", ">", at_cut + 100)
            seen = page.evaluate("() => { clearInterval(window.__record); return window.__seen; }")
            assert "reconnecting" in seen["states"], "the socket did drop"
            assert min(seen["steps"]) >= at_cut, "the run went on: no new network from step 0"
            if render == "client":  # the page keeps the networks it drew (server frames keep no timeline)
                title = by(page, "timeline-step").get_attribute("title")
                assert int(re.match(r"(\d+) steps? kept", title).group(1)) > 10, "the timeline kept its steps"
            expect_renderer(page, render)
            pause(page)
            expect_state(page, "paused")
            # Network errors (the cut connections) are expected here.
            assert all("WebSocket" in e or "Failed to" in e for e in page.log.errors(network_ok=False))
        finally:
            context.close()


@pytest.mark.parametrize("render", RENDERS)
def test_reconnects_after_a_server_restart(open_app, server, render):
    page = open_app(render_query(render))
    start(page)
    wait_number(page, "step-counter", ">", 50)
    status, banner = by(page, "connection-status"), by(page, "error-banner")
    try:
        server.stop()
        expect(status).to_have_attribute("data-state", "reconnecting")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text(re.compile(r"connection lost", re.I))
    finally:
        server.start()  # same port; the other tests' server must come back in any case
    expect(status).to_have_attribute("data-state", "open", timeout=30_000)
    expect(status).to_have_text("Connected")
    expect(banner).to_be_hidden()
    expect(by(page, "restart-notice")).to_contain_text(re.compile(r"reconnected", re.I))
    # It was training before: a fresh network trains again, drawn as before.
    expect_state(page, "running")
    wait_number(page, "step-counter", ">", 0)
    expect_renderer(page, render)
    before = canvas_stats(page, "panel-partition")
    wait_canvas_change(page, "panel-partition", before)
    # Network errors (the refused websocket while the server was down) are expected here.
    assert all("WebSocket" in e or "Failed to load" in e for e in page.log.errors(network_ok=False))




def test_changing_the_resolution_while_training_keeps_the_network(open_app):
    page = open_app()
    start(page)
    before = wait_number(page, "step-counter", ">=", 50)
    # From here on, record every step, notice and state the page shows.
    page.evaluate(
        """() => {
          const q = (id) => document.querySelector(`[data-testid="${id}"]`);
          const seen = (window.__seen = {steps: [], notices: [], states: []});
          const record = () => {
            seen.steps.push(Number(q("step-counter").textContent));
            if (!q("restart-notice").hidden) seen.notices.push(q("restart-notice").textContent);
            seen.states.push(q("run-state").dataset.state);
          };
          const watch = {childList: true, characterData: true, subtree: true, attributes: true};
          for (const id of ["step-counter", "restart-notice", "run-state"]) new MutationObserver(record).observe(q(id), watch);
        }"""
    )
    by(page, "resolution-select").select_option("256")
    expect(page).to_have_url(re.compile(r"[?&]res=256(&|$)"))
    page.wait_for_function("() => { const f = window.polytopeLens.panels.frame; return f && f.header.resolution === 256; }")
    wait_number(page, "step-counter", ">=", before + 200)
    expect_state(page, "running")
    seen = page.evaluate("() => window.__seen")
    assert seen["steps"] and min(seen["steps"]) >= before, f"the step went back: {seen['steps'][:20]}"
    assert seen["steps"] == sorted(seen["steps"]), "the step only grows"
    assert not any(re.search(r"new network", n, re.I) for n in seen["notices"]), seen["notices"]
    assert set(seen["states"]) <= {"running"}, seen["states"]


def test_without_the_servers_options_the_page_says_so_and_keeps_the_address(browser, server):
    query = "img=disk&layers=10x3&act=leaky_relu&res=128"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT)
    try:
        page = context.new_page()
        log = PageLog().attach(page)
        context.route("**/api/options", lambda route: route.abort())
        page.goto(f"{server.url}/?{query}")
        banner = by(page, "error-banner")
        expect(banner).to_contain_text(re.compile(r"cannot reach the server", re.I))
        expect_state(page, "offline")
        page.wait_for_timeout(500)
        assert page.url.split("?", 1)[1] == query, "the address is left as it was"
        expect(by(page, "connection-status")).to_have_attribute("data-state", "connecting")

        context.unroute("**/api/options")  # the server answers again: the page sets itself up
        wait_ready(page)
        expect(banner).to_be_hidden()
        shown = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
        assert shown["img"] == ["disk"] and shown["layers"] == ["10x3"] and shown["act"] == ["leaky_relu"] and shown["res"] == ["128"]
        expect(by(page, "layers-input")).to_have_value("10x3")
        # The point colours are the server's.
        colors = server.get_json("/api/options")["point_colors"]
        css = page.evaluate("() => ['--train', '--val'].map((v) => getComputedStyle(document.documentElement).getPropertyValue(v).trim())")
        assert css == [colors["train"], colors["val"]]
        assert all("Failed to load resource" in e for e in log.errors(network_ok=False)), log.errors(network_ok=False)
    finally:
        context.close()


# The run control's table (runcontrol.js), read from the page: what each event does in each state.
EXPECTED_TRANSITIONS = [
    # (state, event, next state, commands)
    ("offline", "connected", "configuring", ["configure"]),
    ("interrupted", "connected", "configuringToRun", ["configure"]),
    ("offline", "resumed", "paused", ["pause"]),  # the session taken back after a dropped socket
    ("interrupted", "resumed", "running", ["start"]),
    ("offline", "userStart", "interrupted", []),
    ("interrupted", "userPause", "offline", []),
    ("running", "disconnected", "interrupted", []),
    ("configuringToRun", "disconnected", "interrupted", []),
    ("paused", "disconnected", "offline", []),
    ("configuring", "built", "paused", []),
    ("configuringToRun", "built", "running", ["start"]),
    ("configuring", "userStart", "configuringToRun", []),
    ("configuringToRun", "userPause", "configuring", ["pause"]),
    ("configuring", "settingRefused", "refused", []),
    ("configuringToRun", "settingRefused", "refused", ["pause"]),
    ("configuringToRun", "viewRefused", "refused", ["pause"]),
    ("running", "settingRefused", "refused", ["pause"]),
    ("refused", "userStart", "refused", []),
    ("refused", "userStep", "refused", []),
    ("refused", "networkChanged", "configuring", ["configure"]),
    ("refused", "trainingChanged", "configuring", ["configure"]),
    ("refused", "viewChanged", "configuring", ["configure"]),
    ("refused", "built", "paused", []),
    ("paused", "userStart", "running", ["start"]),
    ("paused", "userStep", "paused", ["step"]),
    ("paused", "userReset", "paused", ["reset"]),
    ("running", "userPause", "paused", ["pause"]),
    ("running", "userStep", "paused", ["step"]),
    ("diverged", "userStart", "running", ["start"]),
    ("paused", "networkChanged", "configuring", ["configure"]),
    ("running", "networkChanged", "configuringToRun", ["configure"]),
    ("paused", "trainingChanged", "paused", ["set"]),
    ("running", "trainingChanged", "running", ["set"]),
    ("running", "viewChanged", "running", []),
    ("paused", "serverRunning", "running", []),
    ("running", "serverPaused", "paused", []),
    ("running", "serverDiverged", "diverged", []),
    ("configuring", "serverPaused", "configuring", []),  # a status never ends a configure: its points do
]


def test_run_control_transition_table(open_app):
    page = open_app()
    got = page.evaluate(
        """async (cases) => {
          const m = await import("/static/live/runcontrol.js");
          const all = {};
          for (const s of m.STATES) for (const e of m.EVENTS) all[`${s} ${e}`] = m.transition(s, e);
          const rc = new m.RunControl({onChange: (now, was) => changes.push([was, now])});
          const changes = [];
          const sent = ["connected", "built", "userStart", "disconnected", "connected", "built"].map((e) => rc.dispatch(e));
          let unknown = null;
          try { m.transition("paused", "noSuchEvent"); } catch (err) { unknown = err.message; }
          return {
            states: m.STATES, events: m.EVENTS, all, sent, changes, final: rc.state, unknown,
            pills: m.STATES.map(m.pillState), wants: m.STATES.filter(m.wantsToRun),
          };
        }""",
        EXPECTED_TRANSITIONS,
    )
    states, table = got["states"], got["all"]
    for state, event, nxt, send in EXPECTED_TRANSITIONS:
        assert table[f"{state} {event}"] == {"next": nxt, "send": send}, (state, event)
    commands = {"configure", "set", "start", "pause", "step", "reset"}
    for key, t in table.items():
        state, event = key.split(" ")
        assert t["next"] in states and set(t["send"]) <= commands, key
        # Offline nothing is sent; a lost connection sends nothing and ends in an offline state.
        if state in ("offline", "interrupted"):
            on_connecting = {"connected": ["configure"], "resumed": ["pause" if state == "offline" else "start"]}
            assert t["send"] == on_connecting.get(event, []), key
        if event == "resumed" and state not in ("offline", "interrupted"):
            assert t == {"next": state, "send": []}, key  # only a connection's first message says it
        if event == "disconnected":
            assert t["next"] in ("offline", "interrupted") and t["send"] == [], key
        # Training starts only on entering "running"; a configure always leads to "configuring*".
        if "start" in t["send"]:
            assert t["next"] == "running", key
        if "configure" in t["send"]:
            assert t["next"] in ("configuring", "configuringToRun"), key
        # A drawing setting only reconfigures after a refusal (it may have been the reason).
        if event == "viewChanged" and state != "refused":
            assert t == {"next": state, "send": []}, key
    # Every state can be reached from "offline".
    reached, frontier = {"offline"}, ["offline"]
    while frontier:
        state = frontier.pop()
        for key, t in table.items():
            if key.startswith(state + " ") and t["next"] not in reached:
                reached.add(t["next"])
                frontier.append(t["next"])
    assert reached == set(states)
    # The machine itself: a reconnect while training trains the new network.
    assert got["sent"] == [["configure"], [], ["start"], [], ["configure"], ["start"]]
    assert got["final"] == "running"
    assert got["changes"][-2:] == [["interrupted", "configuringToRun"], ["configuringToRun", "running"]]
    assert "noSuchEvent" in got["unknown"]
    assert set(got["pills"]) == {"offline", "starting", "refused", "paused", "running", "diverged"}
    assert set(got["wants"]) == {"running", "configuringToRun", "interrupted"}
