"""The 3-D surface panel in headless Chromium (issue 25): shown with its toggle, drawn (pixels
other than the background), following training, rotating on a drag, a facet click selecting its
region in the inspector (outlined in 3-D), the "Surface (OBJ)" download of the step on screen
checked against the network itself, and the sampled surface (said so) for a network past the live
exact budget. One server and one page (the page drawing from the weights) for the module; one
short look with server frames.
"""

from __future__ import annotations


import httpx
import numpy as np
import pytest
import torch
from browser import playwright_or_skip, launch_chromium
from live_server import running_server

from polytope_lens.core.training import trainer_from_checkpoint

pytestmark = pytest.mark.browser

_, sync_playwright = playwright_or_skip()

STEPS = 150
QUERY = "img=ring&layers=14x6&res=128&ntrain=2000&nval=200"

# {lit, hash} of the surface canvas (WebGL2, its buffer kept): pixels away from the background.
SURFACE_STATS = """() => {
  const c = document.querySelector('[data-testid=surface-canvas]');
  if (!c || !c.width) return null;
  const o = document.createElement('canvas');
  o.width = c.width; o.height = c.height;
  const x = o.getContext('2d');
  x.drawImage(c, 0, 0);
  const d = x.getImageData(0, 0, o.width, o.height).data;
  const bg = window.polytopeLens.surface.background;
  let lit = 0, hash = 2166136261;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 12) lit++;
    hash = Math.imul(hash ^ (d[i] | (d[i + 1] << 8) | (d[i + 2] << 16)), 16777619) >>> 0;
  }
  return {lit, hash, pixels: d.length / 4};
}"""

PANEL = "document.querySelector('[data-testid=surface-panel]')"


def _stats(page):
    return page.evaluate(SURFACE_STATS)


def _wait_redrawn(page, before_hash, timeout=30_000):
    page.wait_for_function(
        f"(h) => {{ const s = ({SURFACE_STATS})(); return s && s.lit > 0.05 * s.pixels && s.hash !== h; }}",
        arg=before_hash, timeout=timeout)
    return _stats(page)


def _wait_kind(page, kind, step=None, timeout=60_000):
    cond = f"{PANEL}.dataset.kind === '{kind}'"
    if step is not None:
        cond += f" && {PANEL}.dataset.step === '{step}'"
    page.wait_for_function(f"() => {cond}", timeout=timeout)


@pytest.fixture(scope="module")
def served():
    with running_server() as url, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield url, browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(served):
    """The page drawing from the weights (?render=client); at 1280x800 the surface starts off."""
    url, browser = served
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/?{QUERY}&render=client")
    page.wait_for_function("() => document.querySelector('[data-testid=run-state]').dataset.state === 'paused'",
                           timeout=30_000)
    page.errors = errors
    yield page
    context.close()
    assert not errors, errors


def test_toggle_shows_a_drawn_surface(page):
    assert page.is_hidden("[data-testid=surface-panel]")  # does not fit below the panels at 800 px
    page.click("[data-testid=surface-toggle]")
    assert page.is_visible("[data-testid=surface-panel]")
    assert page.evaluate("() => window.polytopeLens.store.get('surfaceShown')") is True
    _wait_kind(page, "exact", step=0)  # the network at step 0, exact (pushed or fetched)
    stats = _wait_redrawn(page, None)
    assert stats["lit"] > 0.05 * stats["pixels"]
    assert "exact" in page.text_content("[data-testid=surface-status]")


def test_follows_training(page):
    before = _stats(page)
    page.fill("[data-testid=step-n-input]", str(STEPS))
    page.click("[data-testid=step-button]")
    _wait_kind(page, "exact", step=STEPS)
    after = _wait_redrawn(page, before["hash"])
    assert after["hash"] != before["hash"]
    facets = page.evaluate("() => window.polytopeLens.surface.mesh.facets")
    exact = page.text_content("[data-testid=exact-count]").replace(",", "")
    page.wait_for_function("(s) => document.querySelector('[data-testid=exact-count]').dataset.step === s", arg=str(STEPS))
    exact = int(page.text_content("[data-testid=exact-count]").replace(",", ""))
    assert facets == exact  # one facet per exact linear region


def test_drag_rotates_and_reset_returns(page):
    before = _stats(page)
    box = page.locator("[data-testid=surface-canvas]").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 60, cy + 10, steps=4)
    page.mouse.move(cx + 140, cy + 25, steps=4)
    page.mouse.up()
    rotated = _wait_redrawn(page, before["hash"])
    assert rotated["hash"] != before["hash"]
    page.click("[data-testid=surface-reset]")
    page.wait_for_function(f"(h) => ({SURFACE_STATS})().hash === h", arg=before["hash"], timeout=10_000)


def test_facet_click_selects_its_region(page):
    box = page.locator("[data-testid=surface-canvas]").bounding_box()
    # The facet under the centre, as the panel's own ray finds it; then a real click there.
    u, v = box["width"] / 2, box["height"] / 2
    hit = page.evaluate(f"() => window.polytopeLens.surface.renderer.pick({u}, {v})")
    assert hit is not None, "the centre of the view shows the surface"
    page.mouse.click(box["x"] + u, box["y"] + v)
    page.wait_for_function("() => { const i = document.querySelector('[data-testid=inspector]');"
                           " return i.dataset.state === 'ready' && i.dataset.pinned === 'true'; }", timeout=20_000)
    x = float(page.get_attribute("[data-testid=inspector]", "data-x"))
    y = float(page.get_attribute("[data-testid=inspector]", "data-y"))
    assert abs(x - hit["x"]) < 1e-9 and abs(y - hit["y"]) < 1e-9
    # The inspected region is the clicked facet: the facet's polygon contains the inspected point.
    inside = page.evaluate(f"""() => {{
      const m = window.polytopeLens.surface.mesh, f = {hit['facet']};
      const P = m.positions, s = m.starts[f], e = m.starts[f + 1];
      for (let v = s; v < e; v++) {{
        const w = v + 1 === e ? s : v + 1;
        if ((P[3*w] - P[3*v]) * ({y} - P[3*v+1]) - (P[3*w+1] - P[3*v+1]) * ({x} - P[3*v]) < -1e-7) return false;
      }}
      return true; }}""")
    assert inside
    page.wait_for_function(f"() => Number({PANEL}.dataset.outlined) >= 3")  # outlined in 3-D


def _network_outputs(ckpt: bytes, points: np.ndarray) -> np.ndarray:
    """The network of the checkpoint evaluated at `points` in float64 (torch, independent of the OBJ)."""
    model = trainer_from_checkpoint(ckpt).model.double()
    with torch.no_grad():
        return model(torch.from_numpy(points)).numpy()


def test_obj_download_is_the_network(page, served, tmp_path):
    url, _ = served
    step = page.get_attribute("[data-testid=surface-panel]", "data-step")
    with page.expect_download() as info:
        page.click("[data-testid=surface-download]")
    path = tmp_path / "surface.obj"
    info.value.save_as(path)
    token = page.evaluate("() => window.polytopeLens.token")
    ckpt = httpx.get(f"{url}/api/sessions/{token}/checkpoint", timeout=30).content
    groups, vertices = [], []
    for line in path.read_text().splitlines():
        if line.startswith("g "):
            groups.append(line[2:])
        elif line.startswith("v "):
            vertices.append([float(w) for w in line.split()[1:4]])
    vertices = np.array(vertices)
    assert f"step {step}" in path.read_text()[:2000] or f"step={step}" in path.read_text()[:2000]
    assert len(groups) == page.evaluate("() => window.polytopeLens.surface.mesh.facets")
    expected = _network_outputs(ckpt, vertices[:, :2])[:, 0]
    span = float(np.ptp(expected)) or 1.0
    assert np.max(np.abs(vertices[:, 2] - expected)) / span < 1e-6


def test_replayed_and_zoomed_views_are_exact(page):
    """A step replayed on the timeline and a zoomed box: the exact surface of what is on screen (REST)."""
    page.get_by_test_id("timeline").fill("0")  # the first kept step
    page.wait_for_function("() => window.polytopeLens.store.get('replayStep') === 0")
    _wait_kind(page, "exact", step=0)
    page.click("[data-testid=timeline-live]")
    _wait_kind(page, "exact", step=STEPS)
    box = page.get_by_test_id("panel-partition").bounding_box()
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.4 * box["height"])
    page.mouse.wheel(0, -400)
    page.wait_for_function("() => window.polytopeLens.store.get('box').x1 - window.polytopeLens.store.get('box').x0 < 1.9")
    page.wait_for_function(f"""() => {{
      const b = window.polytopeLens.store.get('box'), m = window.polytopeLens.surface.mesh;
      return {PANEL}.dataset.kind === 'exact' && ['x0', 'x1', 'y0', 'y1'].every((k) => Math.abs(m.box[k] - b[k]) < 1e-9); }}""",
                           timeout=30_000)
    page.click("[data-testid=zoom-reset]")
    page.wait_for_function(f"() => {PANEL}.dataset.kind === 'exact' && window.polytopeLens.surface.mesh.box.x1 === 1")


def test_server_frames_exact_then_sampled_past_the_budget(served):
    """Where the server draws the panels: the exact surface, then for a network past the live exact
    budget the surface sampled from the server's weights (GET .../weights), said so, following training."""
    url, browser = served
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{url}/?{QUERY}&render=server&surface=1")  # the address switches it on
        page.wait_for_function("() => document.querySelector('[data-testid=renderer]').dataset.mode === 'server'")
        _wait_kind(page, "exact", step=0)
        stats = _wait_redrawn(page, None)
        assert stats["lit"] > 0.05 * stats["pixels"]
        # Two layers of 200: ~25,000 regions at initialisation, seconds to compute: past the live
        # exact budget (0.3 s), so while it trains the panel draws from the weights and says so.
        page.fill("[data-testid=layers-input]", "200x2")
        page.wait_for_function("() => window.polytopeLens.runConfig.layers === '200x2'"
                               " && document.querySelector('[data-testid=run-state]').dataset.state === 'paused'",
                               timeout=30_000)
        page.click("[data-testid=start-button]")
        _wait_kind(page, "sampled", timeout=30_000)
        assert "sampled: creases rounded" in page.text_content("[data-testid=surface-status]")
        first = page.get_attribute("[data-testid=surface-panel]", "data-step")
        page.wait_for_function(f"(s) => {PANEL}.dataset.kind === 'sampled' && {PANEL}.dataset.step !== s", arg=first,
                               timeout=30_000)  # it follows the training
        page.click("[data-testid=pause-button]")
    finally:
        page.close()
    assert not errors, errors
