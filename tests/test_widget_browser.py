"""The notebook widget's front end in headless Chromium: it draws what the page's renderer draws.

The real anywidget front end is a JupyterLab / Notebook extension and cannot run here (no Jupyter
server or lab build in the tests), so the widget's ES module is loaded the way anywidget loads it
(a module from the widget's ``_esm`` string, here served same-origin under the app's CSP) and its
``render({model, el})`` is called with a small model object implementing get / on / off, whose
state is the Python widget's own (``get_state()``: the weights as bytes, the network, the view).
The reference is the page's renderer (/static/drawing/renderer.js from a real ``polytope-lens
serve``) drawing the same weights: the panels must be the same pixels. Harness: tests/browser.py.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch
from browser import playwright_or_skip, PageLog, launch_chromium

from polytope_lens.core.model import build_mlp
from polytope_lens.core.network import FrozenNetwork
from polytope_lens.geometry.grid import compute_partition
from polytope_lens.web.middleware import CSP

pytest.importorskip("anywidget", reason="the notebook extra (anywidget) is not installed")
import polytope_lens as pl  # noqa: E402
from polytope_lens.notebook.frontend import page_facts  # noqa: E402

pytestmark = pytest.mark.browser

_, sync_playwright = playwright_or_skip()

TEST_PAGE = "/__widget-test"
WIDGET_MODULE = "/__lens-widget.js"  # the widget's _esm, served as anywidget would import it
SIZE = 48  # CSS pixels of a panel (device pixel ratio 1 here)

JS_SETUP = """async () => {
  window.W = await import('/__lens-widget.js');
  window.R = await import('/static/drawing/renderer.js');
  window.pageFacts = (await import('/static/shared/facts.js')).facts;
  window.unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  // anywidget's model, as far as a view uses it: get, on, off; bytes arrive as DataView
  window.FakeModel = class {
    constructor(state) { this.state = {}; this.handlers = {}; this.apply(state); }
    apply(state) {
      for (const [k, v] of Object.entries(state)) {
        this.state[k] = v && v.b64 !== undefined ? new DataView(unb64(v.b64).buffer) : v;
      }
      for (const k of Object.keys(state)) for (const f of this.handlers[`change:${k}`] || []) f();
    }
    get(k) { return this.state[k]; }
    on(e, f) { (this.handlers[e] ||= []).push(f); }
    off(e, f) { this.handlers[e] = (this.handlers[e] || []).filter((g) => g !== f); }
  };
  window.views = [];
  return R.MLPRenderer.supported();
}"""

JS_MOUNT = """(state) => {
  const el = document.createElement('div');
  document.body.append(el);
  const model = new FakeModel(state);
  const cleanup = W.default.render({model, el});
  views.push({el, model, cleanup});
  return views.length - 1;
}"""

JS_PIXELS = """([i, testid]) => {
  const c = views[i].el.querySelector(`[data-testid="${testid}"]`);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = ''; for (let k = 0; k < d.length; k += 0x8000) s += String.fromCharCode.apply(null, d.subarray(k, k + 0x8000));
  return {width: c.width, height: c.height, rgba: btoa(s)};
}"""

# The page's renderer on the same weights: each panel composed and read back (renderer.readImage).
JS_REFERENCE = """({net, weights, size, display}) => {
  const r = new R.MLPRenderer(document.createElement('canvas'), {manual: true});
  r.resize(size, size);
  r.setWeights({...net, weights: new Float32Array(unb64(weights).buffer)});
  const [x0, x1, y0, y1] = net.box;
  r.setView({x0, x1, y0, y1});
  const out = {};
  for (const panel of ['partition', 'prediction']) {
    const d = r.readImage({...display, panel});
    let s = ''; for (let k = 0; k < d.length; k += 0x8000) s += String.fromCharCode.apply(null, d.subarray(k, k + 0x8000));
    out[panel] = btoa(s);
  }
  r.dispose();
  return out;
}"""


@pytest.fixture(scope="module")
def page(shared_serve):
    server = shared_serve  # tests/conftest.py: one server per test process
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            pg = browser.new_page()
            log = PageLog().attach(pg)
            html = "<!doctype html><meta charset=utf-8><title>widget</title><body></body>"
            headers = {"Content-Security-Policy": CSP}
            pg.route(f"{server.url}{TEST_PAGE}",
                     lambda route: route.fulfill(body=html, content_type="text/html", headers=headers))
            module = pl.Lens._esm
            pg.route(f"{server.url}{WIDGET_MODULE}",
                     lambda route: route.fulfill(body=module, content_type="text/javascript", headers=headers))
            pg.goto(f"{server.url}{TEST_PAGE}")
            assert pg.evaluate(JS_SETUP), "no WebGL2 in this Chromium"
            yield pg
            assert not log.errors(), log.errors()
        finally:
            browser.close()


def wire_state(lens) -> dict:
    """The synced state a front end receives (bytes as base64, decoded into DataViews on the page)."""
    state = lens.get_state()
    out = {k: state[k] for k in ("network", "view")}
    for k in ("weights", "history"):
        out[k] = {"b64": base64.b64encode(bytes(state[k])).decode()}
    return out


def mount(page, lens) -> int:
    view = page.evaluate(JS_MOUNT, wire_state(lens))
    wait_drawn(page, view, 1)
    return view


def wait_drawn(page, view: int, times: int) -> None:
    page.wait_for_function("([i, n]) => Number(views[i].el.querySelector('.polytope-lens-widget').dataset.drawn || 0) >= n",
                           arg=[view, times], timeout=30_000)


def panel(page, view: int, name: str) -> np.ndarray:
    out = page.evaluate(JS_PIXELS, [view, f"lens-{name}"])
    return np.frombuffer(base64.b64decode(out["rgba"]), np.uint8).reshape(out["height"], out["width"], 4)


def reference(page, lens) -> dict[str, np.ndarray]:
    net = lens.network
    arg = {"net": {"widths": net["widths"], "outDim": net["out_dim"], "slopes": net["slopes"],
                   "classColors": net["class_colors"], "box": net["box"]},
           "weights": base64.b64encode(lens.weights).decode(), "size": SIZE,
           "display": {"fillRegions": lens.view["fill_regions"], "boundaries": lens.view["boundaries"]}}
    out = page.evaluate(JS_REFERENCE, arg)
    return {k: np.frombuffer(base64.b64decode(v), np.uint8).reshape(SIZE, SIZE, 4) for k, v in out.items()}


def assert_same_panels(page, view: int, lens) -> None:
    ref = reference(page, lens)
    for name in ("partition", "prediction"):
        got = panel(page, view, name)
        assert got.shape == ref[name].shape
        differ = np.any(got[..., :3] != ref[name][..., :3], axis=-1)
        assert not differ.any(), f"{name}: {int(differ.sum())} of {differ.size} pixels differ from the page's renderer"


def net_14x6(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_mlp([14] * 6, 1)


def test_the_widget_module_states_the_pages_drawing_facts(page):
    assert page.evaluate("() => JSON.parse(JSON.stringify(pageFacts))") == page_facts()


def test_widget_draws_the_pages_pixels_and_follows_updates(page):
    model = net_14x6(1)
    lens = pl.Lens(model, size=SIZE, max_rate=1e9)
    assert lens.weights == FrozenNetwork.of(model).flat()  # the state carries the weights
    view = mount(page, lens)
    assert_same_panels(page, view, lens)
    # the grid count the widget shows is the server's grid partition's (float32 rounding aside)
    shown = int(page.evaluate("(i) => views[i].el.querySelector('.polytope-lens-widget').dataset.regions", view))
    grid = compute_partition(FrozenNetwork.of(model), SIZE).region_count
    assert abs(shown - grid) <= max(2, grid // 50), (shown, grid)

    other = net_14x6(2)
    lens.update(other, loss=0.5)
    lens.update(other, loss=0.25)
    assert lens.weights == FrozenNetwork.of(other).flat()
    page.evaluate("([i, state]) => views[i].model.apply(state)", [view, wire_state(lens)])
    wait_drawn(page, view, 2)
    assert_same_panels(page, view, lens)
    assert page.evaluate("(i) => views[i].el.querySelector('[data-testid=lens-chart]').style.display", view) == "block"
    assert "loss 0.25" in page.evaluate("(i) => views[i].el.querySelector('[data-testid=lens-status]').textContent", view)


def test_a_classifier_mixed_slopes_filled_regions_and_a_box(page):
    rng = np.random.default_rng(3)
    sizes = [2, 10, 8, 3]
    layers = [(rng.normal(size=(o, i)), rng.normal(size=o) * 0.3) for i, o in zip(sizes[:-1], sizes[1:])]
    net = FrozenNetwork(layers, [0.1, 0.0], "classify")  # mixed: leaky 0.1, then ReLU
    lens = pl.Lens(net, box=(-2, 1, -0.5, 2.5), size=SIZE, fill_regions=True)
    assert len(lens.network["class_colors"]) == 3 and lens.network["slopes"] == [pytest.approx(0.1), 0.0]
    view = mount(page, lens)
    assert_same_panels(page, view, lens)
