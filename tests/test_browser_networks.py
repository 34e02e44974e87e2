"""Networks from elsewhere in the page (headless Chromium against a real server): "Open a network…"
sends a model file and shows its summary, the live run shows it (drawn by the page's renderer with
a slope per hidden layer), a D-input network is shown on the plane through a points file, and
refusals are said in words. The renderer's mixed slopes are checked against the server's grid."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from browser import playwright_or_skip, PageLog, launch_chromium, wait_ready
from torch import nn

pytestmark = pytest.mark.browser

expect, sync_playwright = playwright_or_skip()
pytest.importorskip("onnx")

from polytope_lens.core.model import MLP, build_mlp  # noqa: E402
from polytope_lens.core.network import FrozenNetwork  # noqa: E402
from polytope_lens.geometry.exact import region_counts_per_layer  # noqa: E402
from polytope_lens.geometry.grid import compute_partition  # noqa: E402
from polytope_lens.sources import from_module  # noqa: E402
from test_browser_renderer import DISPLAYS, JS_HELPERS, JS_RENDER, AGREE, agreement, b64, unb64, wire_weights  # noqa: E402

WAIT = 30_000
expect.set_options(timeout=WAIT)


@pytest.fixture(scope="module")
def page(shared_serve):
    server = shared_serve  # tests/conftest.py: one server per test process
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(WAIT)
        pg = context.new_page()
        pg.log = PageLog().attach(pg)
        pg.goto(f"{server.url}/?res=128&render=client")
        wait_ready(pg)
        pg.server = server
        yield pg
        errors = pg.log.errors()
        browser.close()
        assert not errors, f"the page reported errors: {errors}\n{server.log()}"


def onnx_file(path, sizes, slopes, final=None, seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(slopes):
            mods.append(nn.ReLU() if slopes[i] == 0 else nn.LeakyReLU(slopes[i]))
    if final is not None:
        mods.append(final)
    model = nn.Sequential(*mods).eval()
    torch.onnx.export(model, (torch.zeros(1, sizes[0]),), str(path), dynamo=False)
    return model


@pytest.mark.parametrize("widths,form", [([14] * 4, "unrolled"), ([20] * 10, "runs"), ([64] * 3, "looped")])
def test_the_renderer_draws_a_slope_per_layer_as_the_server_does(page, widths, form):
    slopes = [(0.0, 0.2, 0.05)[i % 3] for i in range(len(widths))]
    base = build_mlp(widths, generator=torch.Generator().manual_seed(len(widths)))
    model = MLP.from_network(FrozenNetwork([(W, b) for W, b in base.affine_layers()], slopes))
    net = {"widths": widths, "outDim": 1, "slopes": slopes, "classColors": None}
    page.evaluate(JS_HELPERS)
    size = 96
    out = page.evaluate(JS_RENDER, {"net": net, "weights": b64(wire_weights(model)), "size": size, "options": {},
                                    "images": {}})
    assert out["form"] == form
    k = out["per"] // 2
    gpu = {"words": unb64(out["patterns"], "<u8").reshape(size, size, k),
           "boundary": unb64(out["boundary"], np.uint8).reshape(size, size).astype(bool),
           "prediction": unb64(out["prediction"], "<f4").reshape(size, size, 1)}
    got = agreement(gpu, compute_partition(model, size))
    assert got["patterns"] >= AGREE and got["boundary"] >= AGREE and got["prediction"] >= AGREE, got
    uniform = {**net, "slopes": None, "negativeSlope": 0.0}  # the single-slope path differs: the slopes are used
    plain = page.evaluate(JS_RENDER, {"net": uniform, "weights": b64(wire_weights(model)), "size": size, "options": {},
                                      "images": {}})
    assert plain["patterns"] != out["patterns"]


def test_open_a_network_file_shows_it_and_says_what_it_is(page, tmp_path):
    model = onnx_file(tmp_path / "mixed.onnx", [2, 12, 12, 12, 1], [0.0, 0.1, 0.0], seed=3)
    page.get_by_test_id("network-input").set_input_files(str(tmp_path / "mixed.onnx"))
    summary = page.get_by_test_id("network-summary")
    expect(summary).to_contain_text("mixed.onnx: 2 inputs → 12-12-12 → 1 output; mixed: relu, leaky_relu(0.1), relu")
    expect(summary).to_contain_text("Train continues from its weights")
    expected = region_counts_per_layer(from_module(model))[-1]
    expect(page.get_by_test_id("exact-count")).to_have_text(f"{expected:,}")
    assert page.evaluate("() => window.polytopeLens.store.get('network').layers") == [12, 12, 12]
    assert page.evaluate("() => window.polytopeLens.runConfig.layers") == "12x3"
    page.locator("#step-n-input").fill("10")
    page.locator("#step-button").click()
    expect(page.get_by_test_id("step-counter")).to_have_text("10")
    # a file that is not a network: refused in words, the opened network stays
    (tmp_path / "conv.onnx").write_bytes(_conv_model())
    page.get_by_test_id("network-input").set_input_files(str(tmp_path / "conv.onnx"))
    expect(summary).to_contain_text("node 'conv1' is Conv: a convolution")
    page.get_by_test_id("network-close").click()
    expect(summary).to_have_text("")


def _conv_model() -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph([helper.make_node("Conv", ["x", "K"], ["y"], name="conv1")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
                              [numpy_helper.from_array(np.ones((1, 1, 1), np.float32), "K")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_a_d_input_network_on_the_plane_through_a_points_file(page, tmp_path):
    onnx_file(tmp_path / "wide.onnx", [12, 10, 10, 3], [0.0, 0.0], final=nn.Softmax(dim=-1), seed=4)
    np.save(tmp_path / "points.npy", np.random.default_rng(5).normal(size=(6, 12)))
    page.get_by_test_id("network-points-input").set_input_files(str(tmp_path / "points.npy"))
    page.get_by_test_id("network-rows-input").fill("1 3 5")
    page.get_by_test_id("network-input").set_input_files(str(tmp_path / "wide.onnx"))
    summary = page.get_by_test_id("network-summary")
    expect(summary).to_contain_text("12 inputs → 10-10 → 3 class scores")
    expect(summary).to_contain_text("plane through rows 1, 3, 5")
    expect(summary).to_contain_text("shown, not trained")
    marks = page.evaluate("() => window.polytopeLens.overlay.marks")
    assert len(marks) == 3 and all(abs(v) < 1 for m in marks for v in m)  # numbered rings on the partition
    page.get_by_test_id("start-button").click()
    expect(summary).to_contain_text("Train: this network is shown, not trained")
    page.get_by_test_id("network-close").click()
    wait_ready(page)
    # ten class scores: past the page's class colours, said in words, with its exact regions to download
    onnx_file(tmp_path / "ten.onnx", [12, 8, 10], [0.0], seed=6)
    page.get_by_test_id("network-input").set_input_files(str(tmp_path / "ten.onnx"))
    expect(summary).to_contain_text("Not shown live: the page draws classifiers of up to 8 classes")
    link = page.get_by_test_id("network-regions")
    expect(link).to_be_visible()
    svg = page.request.get(page.server.url + link.get_attribute("href"))
    assert svg.ok and svg.text().count('class="mark"') == 3
    assert page.evaluate("() => window.polytopeLens.store.get('network')") is None
