"""The page drawing the live view itself (WebGL2 from the weights), end to end in headless Chromium.

Who draws (the ``renderer`` pill, ``?render=``, the fallback to server frames), what the
page draws against the server's own partition of the same network, the timeline (scrub,
play back, live, the inspector at a replayed step) and zoom (wheel, drag, the inspector's
click through the view box, reset). Chromium's WebGL2 here is SwiftShader, so pages force
the page's renderer with ``render=client`` and use small networks. Fixtures and helpers:
tests/test_browser.py; harness: tests/browser.py.
"""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest
from browser import (CANVAS_STATS, canvas_rgb, canvas_stats, renderer_rgb, text_of, wait_canvas_change,
                     wait_number)
from test_browser import QUERY, browser, by, expect, expect_state, open_app, server, start, pause  # noqa: F401 (fixtures)

from polytope_lens.core.training import trainer_from_checkpoint
from polytope_lens.geometry.grid import compute_partition
from polytope_lens.output.render import partition_rgb, prediction_rgb

pytestmark = pytest.mark.browser

CLIENT = f"{QUERY}&render=client"
SMALL = f"{CLIENT}&layers=8x3"  # cheap for software GL
TOO_WIDE = "40x30"  # 1,200 hidden neurons: past the renderer's 1,024, within the server's limits

# (testid) => the canvas's RGBA pixels as a plain array (for numpy on this side).
def pixels(page, testid: str) -> np.ndarray:
    return canvas_rgb(page, testid)


def step_n(page, n: int, expect_step: int) -> None:
    by(page, "step-n-input").fill(str(n))
    by(page, "step-button").click()
    wait_number(page, "step-counter", "==", expect_step)


def live_at(page, step: int) -> None:
    """The timeline follows the run and the panels show `step` (drawn, not only announced)."""
    expect(by(page, "timeline-step")).to_have_text(f"step {step} (live)")
    expect(by(page, "panel-partition")).to_have_attribute("data-step", str(step))


def settled_live_step(page) -> int:
    """After Pause, the step the page settles on: its last update received (the timeline's step) is
    the one drawn and counted. (On a busy machine the page may draw a little behind what it received.)"""
    return page.wait_for_function(
        """() => {
          const q = (id) => document.querySelector(`[data-testid="${id}"]`);
          const step = q("step-counter").textContent;
          const settled = q("run-state").dataset.state === "paused" && q("timeline-step").dataset.step === step
            && q("panel-partition").dataset.step === step;
          return settled ? {step: Number(step)} : null;
        }"""
    ).json_value()["step"]


def number_text(page, testid: str) -> int:
    return int(text_of(page, testid))


def expect_pinned(page) -> None:
    """A click's inspection arrived (not a hover's)."""
    page.wait_for_function(
        "() => { const e = document.querySelector('[data-testid=inspector]');"
        " return ['ready', 'error'].includes(e.dataset.state) && (e.dataset.pinned === 'true' || e.dataset.state === 'error'); }"
    )


def scrub(page, index: int) -> None:
    by(page, "timeline").fill(str(index))


def server_keeps_steps(server, token: str) -> bool:
    """Whether the geometry routes answer for a kept step (``step=``): a step never kept is refused."""
    r = httpx.get(f"{server.url}/api/sessions/{token}/inspect", params={"x": 0, "y": 0, "step": 10**9}, timeout=10)
    return r.status_code == 404


# -- who draws ---------------------------------------------------------------------------------
def test_client_mode_draws_the_network_as_the_server_computes_it(open_app, server):
    page = open_app(CLIENT)  # the default 14x6 on the ring
    expect(by(page, "renderer")).to_have_attribute("data-mode", "client")
    expect(by(page, "renderer")).to_contain_text(re.compile("WebGL", re.I))
    start(page)
    wait_number(page, "step-counter", ">", 300, timeout=40_000)
    pause(page)
    step = settled_live_step(page)
    live_at(page, step)
    expect(by(page, "region-count")).to_have_attribute("data-step", str(step))  # measured for the step on screen

    # The charts hold one point per measurement: no measurement repeated at later steps.
    page.wait_for_function(
        f"""() => {{ const d = document.querySelector('[data-testid="loss-chart"]').data;
                     return d && d[0].x.length >= 2 && d[0].x[d[0].x.length - 1] === {step}; }}"""
    )
    loss = page.evaluate("() => document.querySelector('[data-testid=\"loss-chart\"]').data[0]")
    assert loss["x"] == sorted(set(loss["x"]))
    assert all(a != b for a, b in zip(loss["y"], loss["y"][1:])), "a measurement plotted twice"

    # The panels are the server's partition of the same network, at the panel's own size.
    token = page.evaluate("() => window.polytopeLens.token")
    model = trainer_from_checkpoint(httpx.get(f"{server.url}/api/sessions/{token}/checkpoint", timeout=30).content).model
    partition = pixels(page, "panel-partition")
    # The prediction as the page's renderer composes it at the partition panel's size (the prediction
    # panel itself is smaller beside the partition since issue 28, a smoothed reduction of this).
    prediction = renderer_rgb(page, '{panel: "prediction", fillRegions: false, boundaries: true}')
    size = partition.shape[0]
    assert size >= 200 and prediction.shape[0] == size
    ref = compute_partition(model, size)
    assert ref.region_count > 20  # a trained ring: many regions
    same = (partition == partition_rgb(ref)).all(axis=2).mean()
    close = (np.abs(prediction.astype(int) - prediction_rgb(ref.prediction).astype(int)) <= 2).all(axis=2).mean()
    assert same >= 0.995 and close >= 0.995, (same, close)
    # The ring's structure: dark annulus, light centre and corners.
    c = size // 2
    assert prediction[c, c].mean() > 150 and prediction[c, int(c * 1.48)].mean() < 100 and prediction[3, 3].mean() > 150


def test_fallback_to_server_frames(open_app):
    # Asked for by the address: server frames, no timeline, no zoom.
    page = open_app(f"{QUERY}&render=server")
    expect(by(page, "renderer")).to_have_attribute("data-mode", "server")
    expect(by(page, "timeline")).to_be_disabled()
    expect(by(page, "timeline-note")).to_contain_text("?render=server")
    wait_canvas_change(page, "panel-partition", None)
    assert page.evaluate("() => window.polytopeLens.panels.frame.header.resolution") == 128

    # Chosen by the page: this Chromium's WebGL2 is a software rasterizer, slower than the server.
    page = open_app(QUERY)
    expect(by(page, "renderer")).to_have_attribute("data-mode", "server")
    expect(by(page, "timeline-note")).to_contain_text(re.compile("software", re.I))

    # A network beyond the renderer is drawn by the server, and back again, cleanly.
    page = open_app(f"{SMALL}")
    expect(by(page, "renderer")).to_have_attribute("data-mode", "client")
    live_at(page, 0)
    for layers, mode in [(TOO_WIDE, "server"), ("8x3", "client"), (TOO_WIDE, "server")]:
        before = canvas_stats(page, "panel-partition")
        by(page, "layers-input").fill(layers)
        expect(by(page, "renderer")).to_have_attribute("data-mode", mode)
        expect_state(page, "paused")
        if mode == "server":
            expect(by(page, "timeline-note")).to_contain_text("hidden neurons")
            page.wait_for_function(
                "() => { const f = window.polytopeLens.panels.frame; return f && f.header.resolution === 128"
                " && window.polytopeLens.runConfig.layers === '" + layers + "'; }"
            )
        else:
            live_at(page, 0)
        wait_canvas_change(page, "panel-partition", before)  # the new network, drawn
        step_n(page, 20, 20)
        assert page.evaluate("() => window.polytopeLens.renderSent") == mode


# -- the timeline ------------------------------------------------------------------------------
def test_timeline_scrubs_plays_back_and_returns_live(open_app, server):
    page = open_app(SMALL)
    live_at(page, 0)
    for n in (100, 200, 300):
        step_n(page, 100, n)
    live_at(page, 300)
    live = canvas_stats(page, "panel-partition")
    expect(by(page, "timeline")).to_have_attribute("max", "3")  # steps 0, 100, 200, 300 kept

    scrub(page, 1)
    expect(by(page, "timeline-step")).to_have_text("step 100 of 300 (replay)")
    expect(by(page, "replay-badge")).to_contain_text("step 100")
    expect(by(page, "panel-partition")).to_have_attribute("data-step", "100")
    replayed = canvas_stats(page, "panel-partition")
    assert replayed["hash"] != live["hash"]
    # The readouts show the step on screen, marked (issue 28); the run itself stays where it is.
    assert number_text(page, "step-counter") == 100
    expect(by(page, "readouts-replay")).to_be_visible()

    # The inspector answers for the step on screen.
    box = by(page, "panel-partition").bounding_box()
    page.mouse.click(box["x"] + 0.6 * box["width"], box["y"] + 0.4 * box["height"])
    expect_pinned(page)
    expect(by(page, "inspector")).to_have_attribute("data-state", "ready")
    where = by(page, "inspector-where")
    if server_keeps_steps(server, page.evaluate("() => window.polytopeLens.token")):
        expect(by(page, "inspector")).to_have_attribute("data-step", "100")
        expect(where).to_contain_text("step 100 (replay)")
    else:  # a server without step= answers for its current step, and the page says so
        expect(where).to_contain_text("not the replayed step 100")

    # Play back from step 0 at 100 steps/s: through step 200, then live again.
    page.evaluate(
        """() => { window.__shown = [];
                   new MutationObserver(() => window.__shown.push(document.querySelector('[data-testid="timeline-step"]').textContent))
                     .observe(document.querySelector('[data-testid="timeline-step"]'), {childList: true, characterData: true, subtree: true}); }"""
    )
    scrub(page, 0)
    by(page, "timeline-speed").select_option("100")
    by(page, "timeline-play").click()
    live_at(page, 300)
    shown = page.evaluate("() => window.__shown")
    assert "step 200 of 300 (replay)" in shown and shown[-1] == "step 300 (live)", shown
    assert canvas_stats(page, "panel-partition")["hash"] == live["hash"]  # the same weights, the same pixels

    # Scrub back, then Live.
    scrub(page, 1)
    expect(by(page, "timeline-step")).to_have_text("step 100 of 300 (replay)")
    expect(by(page, "panel-partition")).to_have_attribute("data-step", "100")
    assert canvas_stats(page, "panel-partition")["hash"] == replayed["hash"]
    by(page, "timeline-live").click()
    live_at(page, 300)
    expect(by(page, "replay-badge")).to_be_hidden()
    # A reset starts a new history.
    by(page, "reset-button").click()
    live_at(page, 0)
    expect(by(page, "timeline")).to_have_attribute("max", "0")


# -- zoom ----------------------------------------------------------------------------------------
def test_zoom_and_pan_redraw_and_map_clicks(open_app):
    page = open_app(SMALL)
    step_n(page, 200, 200)
    live_at(page, 200)
    square = canvas_stats(page, "panel-partition")
    square_pred = canvas_stats(page, "panel-prediction")
    expect(by(page, "zoom-bar")).to_be_hidden()
    panel = by(page, "panel-partition").bounding_box()
    cx, cy = panel["x"] + panel["width"] / 2, panel["y"] + panel["height"] / 2
    get_box = "() => ({...window.polytopeLens.zoom.box})"

    # Wheel up over the centre: zoomed in about it, both panels redrawn.
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -400)
    expect(by(page, "zoom-bar")).to_be_visible()
    zoomed = page.evaluate(get_box)
    span = zoomed["x1"] - zoomed["x0"]
    assert 0.3 < span < 1.5 and abs(zoomed["x0"] + zoomed["x1"]) < 0.02 and abs(zoomed["y0"] + zoomed["y1"]) < 0.02
    expect(by(page, "zoom-box")).to_contain_text("×")
    wait_canvas_change(page, "panel-partition", square)
    wait_canvas_change(page, "panel-prediction", square_pred)

    # A drag pans (the content follows the pointer) and does not inspect.
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 30, cy, steps=5)
    page.mouse.move(cx + 60, cy, steps=5)
    page.mouse.up()
    panned = page.evaluate(get_box)
    assert panned["x0"] == pytest.approx(zoomed["x0"] - 60 / panel["width"] * span, abs=1e-3)
    assert panned["y0"] == pytest.approx(zoomed["y0"], abs=1e-9)
    page.wait_for_timeout(300)
    assert by(page, "inspector").get_attribute("data-pinned") != "true"

    # A click inspects the point under it, through the view box.
    page.mouse.click(panel["x"] + 0.75 * panel["width"], panel["y"] + 0.25 * panel["height"])
    expect_pinned(page)
    expect(by(page, "inspector")).to_have_attribute("data-state", "ready")
    inspector = by(page, "inspector")
    assert float(inspector.get_attribute("data-x")) == pytest.approx(panned["x0"] + 0.75 * span, abs=2 / panel["width"] * span)
    assert float(inspector.get_attribute("data-y")) == pytest.approx(panned["y1"] - 0.25 * span, abs=2 / panel["width"] * span)

    # Far out, a click outside the square: inspected, or the server's words for why not.
    for _ in range(4):
        page.mouse.wheel(0, 600)
    page.wait_for_function("() => window.polytopeLens.zoom.box.x1 - window.polytopeLens.zoom.box.x0 > 8")
    page.mouse.click(panel["x"] + 3, panel["y"] + 3)
    page.wait_for_function(
        "() => { const e = document.querySelector('[data-testid=inspector]');"
        " return e.dataset.state === 'error' || (e.dataset.state === 'ready' && Number(e.dataset.x) < -1); }"
    )
    if by(page, "inspector").get_attribute("data-state") == "error":
        assert len(re.findall(r"[A-Za-z]{3,}", text_of(page, "inspector-where"))) >= 3
    expect(by(page, "error-banner")).to_be_hidden()

    # Reset: the square again, pixel for pixel.
    by(page, "zoom-reset").click()
    expect(by(page, "zoom-bar")).to_be_hidden()
    page.wait_for_function(
        f"([h, p]) => ({CANVAS_STATS})('panel-partition').hash === h && ({CANVAS_STATS})('panel-prediction').hash === p",
        arg=[square["hash"], square_pred["hash"]],
    )


# -- the page's modules on their own -------------------------------------------------------------
def test_history_view_box_and_renderer_choice(open_app):
    page = open_app(f"{QUERY}&render=server")
    got = page.evaluate(
        """async () => {
          const {WeightHistory} = await import("/static/drawing/weighthistory.js");
          const vb = await import("/static/drawing/viewbox.js");
          const {chooseRender} = await import("/static/drawing/rendermode.js");
          const net = (step, widths = [8, 8]) => ({step, widths, outDim: 1, negativeSlope: 0, weights: new Float32Array(25)});
          // 100 bytes per entry, room for 10: thinned evenly, the newest kept.
          const h = new WeightHistory(1000);
          for (let s = 0; s < 1000; s += 5) h.add(net(s));
          const steps = h.entries.map((e) => e.step);
          const kinds = [h.add(net(995)), h.add(net(500)), h.add(net(510, [4]))];
          const afterReset = [h.length, h.newest.step];
          // Zoom keeps the point under the pointer; limits hold; pixels and points are inverse.
          const box = vb.zoomAbout(vb.SQUARE, 0.25, 0.75, 0.5);
          const fixed = vb.toPoint(box, 0.25, 0.75);
          const tiny = [...Array(40)].reduce((b) => vb.zoomAbout(b, 0.5, 0.5, 0.5), vb.SQUARE);
          const huge = [...Array(40)].reduce((b) => vb.zoomAbout(b, 0.5, 0.5, 2), vb.SQUARE);
          const px = vb.toPixel(box, vb.toPoint(box, 0.3, 0.6), 200, 200);
          const gpu = {webgl2: true, name: "ANGLE (NVIDIA GeForce)", software: false};
          const soft = {webgl2: true, name: "ANGLE (SwiftShader Device)", software: true};
          const small = {widths: [14, 14, 14], outDim: 1}, wide = {widths: [600, 600], outDim: 1};
          const modes = [
            chooseRender({forced: null, gl: gpu, net: small}), chooseRender({forced: null, gl: gpu, net: wide}),
            chooseRender({forced: null, gl: soft, net: small}), chooseRender({forced: "client", gl: soft, net: small}),
            chooseRender({forced: "server", gl: gpu, net: small}), chooseRender({forced: "client", gl: {webgl2: false}, net: small}),
          ].map((c) => [c.mode, c.label, c.reason]);
          return {steps, bytes: h.bytes, kinds, afterReset, box, fixed, tiny: tiny.x1 - tiny.x0, huge: huge.x1 - huge.x0, px, modes};
        }"""
    )
    steps = got["steps"]
    assert len(steps) <= 10 and steps[0] == 0 and steps[-1] == 995
    gaps = {b - a for a, b in zip(steps[:-2], steps[1:-1])}
    assert len(gaps) == 1, steps  # evenly spread over the run
    assert got["kinds"] == ["same", "new", "new"]  # the same step again; a reset went back; a new architecture
    assert got["afterReset"] == [1, 510]
    assert got["fixed"] == pytest.approx([-0.5, -0.5]) and got["box"]["x1"] - got["box"]["x0"] == pytest.approx(1.0)
    assert got["tiny"] == pytest.approx(5e-4) and got["huge"] == pytest.approx(32)
    assert got["px"] == pytest.approx([60, 120])
    modes = got["modes"]
    assert modes[0][:2] == ["client", "GPU (WebGL2)"]
    assert modes[1][0] == "server" and "hidden neurons" in modes[1][2]
    assert modes[2][0] == "server" and "SwiftShader" in modes[2][2]
    assert modes[3][0] == "client" and "software" in modes[3][1]
    assert modes[4][0] == "server" and "?render=server" in modes[4][2]
    assert modes[5][0] == "server" and "no WebGL2" in modes[5][2]
