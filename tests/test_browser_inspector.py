"""The exact-geometry UI in headless Chromium: exact count, inspector, neuron line, layer slider, export.

A 14x6 ring network is trained a few hundred steps through the page; the test
then downloads the session's checkpoint and checks what the page shows against
the model itself (pattern and autograd gradient at the clicked point, exact
counts per layer, the polygon's bounding lines). Twice: with server frames and with
the page drawing from the weights (``render=client``), where the click goes through
the panel's view box.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import httpx
import numpy as np
import pytest
import torch


from browser import playwright_or_skip, launch_chromium

from polytope_lens.geometry.exact import exact_partition, region_counts_per_layer
from polytope_lens.core.training import trainer_from_checkpoint

pytestmark = pytest.mark.browser

STEPS = 300

_, sync_playwright = playwright_or_skip()


def _testid(name: str) -> str:
    return f"[data-testid={name}]"


def _model_at(model, point):
    x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    out, pre = model.forward_with_preactivations(x[None])
    grad = torch.autograd.grad(out[0, 0], x)[0].numpy()
    pattern = "|".join("".join("1" if v > 0 else "0" for v in p[0]) for p in pre)
    return pattern, grad


@pytest.fixture(scope="module")
def served(shared_server):
    """(url, browser): the test process's server (tests/conftest.py) and one Chromium for the module."""
    url = shared_server
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield url, browser
        finally:
            browser.close()


@pytest.mark.parametrize("render", ["server", "client"])
def test_inspector_slider_and_export(tmp_path, served, render):
    url, browser = served
    context = browser.new_context(viewport={"width": 1440, "height": 1400}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/?img=ring&layers=14x6&res=256&ntrain=3000&nval=300&render={render}")
    page.wait_for_function(f"() => document.querySelector('[data-testid=renderer]').dataset.mode === '{render}'")

    # train a few hundred steps through the page
    page.wait_for_function("() => document.querySelector('[data-testid=exact-count]').dataset.status === 'exact'", timeout=30000)
    page.fill(_testid("step-n-input"), str(STEPS))
    page.click(_testid("step-button"))
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=exact-count]').dataset.step === '{STEPS}'", timeout=60000)
    token = page.evaluate("() => window.polytopeLens.token")
    ckpt = httpx.get(f"{url}/api/sessions/{token}/checkpoint", timeout=30).content
    model = trainer_from_checkpoint(ckpt).model.double()
    counts = region_counts_per_layer(model)
    part = exact_partition(model)

    # the exact count beside the grid count
    assert page.text_content(_testid("exact-count")).replace(",", "") == str(part.region_count)
    grid = int(page.text_content(_testid("region-count")))
    assert grid <= part.region_count
    assert "pixel" in page.text_content(_testid("exact-hint"))

    # click a point on the partition panel
    box = page.locator(_testid("panel-partition")).bounding_box()
    page.mouse.click(box["x"] + 0.63 * box["width"], box["y"] + 0.31 * box["height"])
    page.wait_for_function("() => document.querySelector('[data-testid=inspector]').dataset.state === 'ready'"
                           " && document.querySelector('[data-testid=inspector]').dataset.pinned !== 'false'", timeout=20000)
    inspector = page.locator(_testid("inspector"))
    point = (float(inspector.get_attribute("data-x")), float(inspector.get_attribute("data-y")))
    assert point[0] == pytest.approx(0.26, abs=0.02) and point[1] == pytest.approx(0.38, abs=0.02)
    pattern, grad = _model_at(model, point)

    shown = page.locator(_testid("inspector-pattern"))
    assert shown.get_attribute("data-pattern") == pattern
    cells = page.eval_on_selector_all(f"{_testid('inspector-pattern')} button.neuron",
                                      "cs => cs.map(c => c.dataset.on).join('')")
    assert cells == pattern.replace("|", "")
    gradient = np.array(json.loads(page.get_attribute(_testid("inspector-gradient"), "data-gradient")))
    assert np.abs(gradient[0] - grad).max() < 1e-5
    assert "autograd" in page.text_content(_testid("inspector-gradient"))

    # bounding inequalities: the lines that carry the polygon's edges (from the exact partition)
    region = part.locate(np.array([point]))[0]
    poly = part.polygons()[region]
    edges = int(page.text_content(_testid("inspector-edges")))
    assert edges == len(poly)
    area = float(page.get_attribute(_testid("inspector-area"), "data-value"))
    assert area == pytest.approx(part.areas()[region], rel=1e-6)
    marked = page.eval_on_selector_all(
        f"{_testid('inspector-inequalities')} li[data-binding=true][data-neuron]",
        "ls => ls.map(l => [Number(l.dataset.layer), Number(l.dataset.neuron)])")
    sides = page.eval_on_selector_all(f"{_testid('inspector-inequalities')} li.box-side", "ls => ls.length")
    assert len(marked) + sides == edges
    W = [lin.weight.detach().numpy() for lin in model.linears]
    b = [lin.bias.detach().numpy() for lin in model.linears]
    # neuron (l, j)'s pre-activation is affine on the region: it must vanish at both ends of an edge
    ends = np.stack([poly, np.roll(poly, -1, axis=0)], axis=1).reshape(-1, 2)
    with torch.no_grad():
        _, pre = model.forward_with_preactivations(torch.from_numpy(ends))
    for layer, neuron in marked:
        z = pre[layer - 1][:, neuron].numpy().reshape(-1, 2)
        assert (np.abs(z).max(axis=1) < 1e-6).any(), (layer, neuron)
    total = page.eval_on_selector_all(f"{_testid('inspector-inequalities')} li[data-neuron]", "ls => ls.length")
    assert total == sum(w.shape[0] for w in W[:-1]) and len(b) == 7

    # copy as text
    page.click(_testid("copy-inequalities"))
    page.wait_for_function("() => document.querySelector('[data-testid=copy-inequalities]').dataset.copied === 'true'")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert pattern in copied and copied.count("* layer") == len(marked)

    # click a neuron of a bounding inequality: its zero line is drawn
    layer, neuron = marked[0]
    page.click(f"{_testid('inspector-pattern')} button[data-layer='{layer}'][data-neuron='{neuron}']")
    page.wait_for_function("() => document.querySelector('[data-testid=neuron-line-info]').dataset.state === 'ready'")
    assert int(page.get_attribute(_testid("neuron-line-info"), "data-segments")) >= 1

    # the layer slider: first 2 layers, with their exact count
    page.locator(_testid("layer-slider")).fill("2")
    page.wait_for_function("() => document.querySelector('[data-testid=layer-status]').dataset.count !== undefined"
                           " && document.querySelector('[data-testid=layer-status]').dataset.k === '2'", timeout=20000)
    assert int(page.get_attribute(_testid("layer-status"), "data-count")) == counts[1]
    assert f"{counts[1]:,}" in page.text_content(_testid("layer-status"))
    assert json.loads(page.get_attribute(_testid("layer-count-chart"), "data-counts")) == counts
    assert page.locator(f"{_testid('layer-count-chart')} .bars .point").count() == 6
    page.screenshot(path=str(tmp_path / "inspector.png"), full_page=True)

    # SVG export of the layers shown
    with page.expect_download(timeout=30000) as download:
        page.click(_testid("download-svg"))
    path = tmp_path / "export.svg"
    download.value.save_as(path)
    root = ET.fromstring(path.read_text())
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) == counts[1]

    # back to all layers: the live view again, and a JSON export of the whole partition
    page.locator(_testid("layer-slider")).fill("6")
    page.wait_for_function("() => document.querySelector('[data-testid=layer-status]').dataset.state === 'live'")
    with page.expect_download(timeout=30000) as download:
        page.click(_testid("download-json"))
    download.value.save_as(tmp_path / "export.json")
    doc = json.loads((tmp_path / "export.json").read_text())
    assert doc["region_count"] == part.region_count and sum(doc["areas"]) == pytest.approx(4.0, abs=1e-6)

    # the density and region charts have their traces
    assert page.locator(f"{_testid('density-chart')} .scatterlayer .trace").count() == 2
    assert page.locator(f"{_testid('regions-chart')} .scatterlayer .trace").count() == 2
    assert not errors, errors
    context.close()
