"""The page's WebGL2 renderer (frontend/drawing/renderer.js) against the server's grid partition.

Headless Chromium (software WebGL2, SwiftShader) loads the module from a real
``polytope-lens serve`` under the app's CSP, draws fixed networks and reads back
patterns, boundaries, predictions and composed panels; the server's
``compute_partition`` on the same grid is the reference. Harness: tests/browser.py.

GPU float32 sums round differently from BLAS, so a pixel whose pre-activation is
within rounding of zero may flip: patterns, boundaries and predictions must agree on
>= 99.9% of pixels; region colours and the composition must be exact.
"""

from __future__ import annotations

import base64
import functools

import numpy as np
import pytest
import torch
from browser import playwright_or_skip, PageLog, launch_chromium

from polytope_lens.core.images import load_target
from polytope_lens.core.model import build_mlp
from polytope_lens.core.samples import SAMPLES_DIR
from polytope_lens.core.settings import RunConfig
from polytope_lens.core.training import Trainer
from polytope_lens.geometry.grid import GridPartition, boundary_mask, compute_partition, exact_unique, grid_points
from polytope_lens.geometry.patterns import pack_patterns, pattern_colors, pattern_hash, words_per_pattern
from polytope_lens.output.classmap import class_map_rgb, class_partition_rgb, softmax_confidence
from polytope_lens.output.render import partition_rgb, prediction_rgb
from polytope_lens.web.middleware import CSP

pytestmark = pytest.mark.browser

_, sync_playwright = playwright_or_skip()

AGREE = 0.999  # share of pixels that must agree (float32 rounding ties aside)
TEST_PAGE = "/__renderer-test"  # answered by the test itself (page.route), same origin as /static/

# Page side: (base64 bytes) <-> typed arrays; one renderer per option set.
JS_HELPERS = """async () => {
  window.R = await import('/static/drawing/renderer.js');
  window.b64 = (a) => {
    const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    let s = '';
    for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
    return btoa(s);
  };
  window.unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  window.renderers = {};
  window.rendererFor = (options) => {
    const key = JSON.stringify(options);
    if (!window.renderers[key]) {
      const canvas = document.createElement('canvas');
      document.body.append(canvas);
      window.renderers[key] = new R.MLPRenderer(canvas, options);
    }
    return window.renderers[key];
  };
  return R.MLPRenderer.supported();
}"""

JS_RENDER = """({net, weights, size, options, images}) => {
  const r = rendererFor(options);
  r.resize(size, size);
  r.setWeights({...net, weights: new Float32Array(unb64(weights).buffer)});
  r.render();
  const p = r.readPatterns();
  const out = {form: r.form, per: p.wordsPerPixel, patterns: b64(p.words), boundary: b64(r.readBoundary()),
               prediction: b64(r.readPrediction()), images: {}};
  for (const [name, display] of Object.entries(images)) out.images[name] = b64(r.readImage(display));
  return out;
}"""

DISPLAYS = {
    "partition": {"panel": "partition", "fillRegions": False, "boundaries": True},
    "plain": {"panel": "partition", "fillRegions": False, "boundaries": False},
    "regions": {"panel": "partition", "fillRegions": True, "boundaries": False},
    "regions_edges": {"panel": "partition", "fillRegions": True, "boundaries": True},
    "prediction": {"panel": "prediction", "fillRegions": True, "boundaries": True},
}


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page(shared_serve):
    server = shared_serve  # tests/conftest.py: one per test process
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            pg = browser.new_page()
            log = PageLog().attach(pg)
            html = "<!doctype html><meta charset=utf-8><title>renderer</title><body></body>"
            pg.route(
                f"{server.url}{TEST_PAGE}",
                lambda route: route.fulfill(body=html, content_type="text/html", headers={"Content-Security-Policy": CSP}),
            )
            pg.goto(f"{server.url}{TEST_PAGE}")
            assert pg.evaluate(JS_HELPERS), "no WebGL2 in this Chromium"
            yield pg
            assert not log.errors(), log.errors()
        finally:
            browser.close()


def wire_weights(model) -> np.ndarray:
    """The wire layout: per layer W (out x in, row-major) then b, float32."""
    parts = [np.concatenate([w.numpy().ravel(), b.numpy()]) for w, b in model.affine_layers()]
    return np.concatenate(parts).astype("<f4")


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def unb64(s: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype=dtype)


def render(page, model, size: int, options: dict | None = None, images=(), classes=None) -> dict:
    net = {"widths": model.widths, "outDim": model.linears[-1].out_features, "negativeSlope": model.negative_slope,
           "classColors": [list(c) for c in classes] if classes else None}
    arg = {"net": net, "weights": b64(wire_weights(model)), "size": size, "options": options or {}, "images": {k: DISPLAYS[k] for k in images}}
    out = page.evaluate(JS_RENDER, arg)
    k = words_per_pattern(model.hidden_count)
    assert out["per"] == 2 * k
    c = net["outDim"]
    return {
        "form": out["form"],
        "words": unb64(out["patterns"], "<u8").reshape(size, size, k),
        "boundary": unb64(out["boundary"], np.uint8).reshape(size, size).astype(bool),
        "prediction": unb64(out["prediction"], "<f4").reshape(size, size, c),
        "images": {name: unb64(s, np.uint8).reshape(size, size, 4)[:, :, :3] for name, s in out["images"].items()},
    }


def agreement(gpu: dict, ref: GridPartition) -> dict:
    ref_words = ref.region_words[ref.region_ids]
    same = (gpu["words"] == ref_words).all(axis=2)
    close = (np.abs(gpu["prediction"] - ref.prediction) <= 2 / 255).all(axis=2)
    return {
        "patterns": float(same.mean()),
        "boundary": float((gpu["boundary"] == ref.boundary).mean()),
        "prediction": float(close.mean()),
        "same": same,
    }


def gpu_partition(gpu: dict, hidden: int) -> GridPartition:
    """The GPU's own arrays as a GridPartition, so render.py can compose them."""
    size = gpu["words"].shape[0]
    words, inverse = exact_unique(gpu["words"].reshape(size * size, -1))
    return GridPartition(size, hidden, inverse.reshape(size, size), words, gpu["boundary"], gpu["prediction"])


def check(page, model, size: int, label: str, options: dict | None = None, form: str | None = None) -> dict:
    gpu = render(page, model, size, options, images=DISPLAYS)
    if form:
        assert gpu["form"] == form
    ref = compute_partition(model, size)
    assert ref.region_count > 1
    got = agreement(gpu, ref)
    print(f"\n{label} {size}^2 ({gpu['form']}): patterns {got['patterns']:.6f}  boundary {got['boundary']:.6f}  prediction {got['prediction']:.6f}")
    assert got["patterns"] >= AGREE and got["boundary"] >= AGREE and got["prediction"] >= AGREE, got
    # Region colours: the server's colour wherever the patterns agree.
    same = got["same"]
    assert np.array_equal(gpu["images"]["regions"][same], ref.color_image()[same])
    # Composition: render.py's panels, made from the GPU's own patterns, boundary and prediction.
    mine = gpu_partition(gpu, model.hidden_count)
    for name, display in DISPLAYS.items():
        if display["panel"] == "prediction":
            want = prediction_rgb(mine.prediction)
        else:
            want = partition_rgb(mine, fill_regions=display["fillRegions"], show_boundaries=display["boundaries"])
        assert np.array_equal(gpu["images"][name], want), name
    return got


# -- networks -------------------------------------------------------------------------------
@functools.cache
def trained(layers: str, steps: int, color: bool = False, activation: str = "relu", slope: float = 0.01, image: str = "ring"):
    torch.manual_seed(0)
    config = RunConfig(
        image=image, color=color, layers=layers, activation=activation, negative_slope=slope,
        train_points=2000, val_points=200, batch_size=256, lr=3e-3, seed=1,
    )
    trainer = Trainer(config, load_target(SAMPLES_DIR / f"{image}.png", color=color), device="cpu")
    trainer.step(steps)
    return trainer.model


CASES = {
    "ring-14x6": {"layers": "14x6", "steps": 300},
    "bottleneck": {"layers": "10x10,2,10x3", "steps": 200},
    "leaky-0.2": {"layers": "12x5", "steps": 200, "activation": "leaky_relu", "slope": 0.2},
    "colour": {"layers": "14x6", "steps": 200, "color": True, "image": "colour"},
}


# Small nets are drawn by the unrolled shader; {"unroll": False} forces the looped one.
@pytest.mark.parametrize(("size", "options"), [(256, {}), (512, {}), (256, {"unroll": False})], ids=["256", "512", "256-looped"])
@pytest.mark.parametrize("case", list(CASES))
def test_renderer_matches_the_server_partition(page, case, size, options):
    model = trained(**CASES[case])
    check(page, model, size, case, options, form="looped" if options else "unrolled")


# -- a classifier: class map, decision boundary -------------------------------------------------
def check_classifier(page, model, colors, size: int, label: str, options: dict | None = None) -> None:
    """The classifier's panels against classmap.py's: exact winners and decision pixels from the
    GPU's own scores; the colours shaded by the softmax within 1 of float64's (float32 exp on the
    GPU) on every pixel and equal on >= 99.9%; against the server's own partition >= 99.9% equal."""
    gpu = render(page, model, size, options, images=DISPLAYS, classes=colors)
    ref = compute_partition(model, size)
    got = agreement(gpu, ref)
    gpu_winner, _ = softmax_confidence(gpu["prediction"])
    ref_winner, _ = softmax_confidence(ref.prediction)
    winners = float((gpu_winner == ref_winner).mean())
    mine = gpu_partition(gpu, model.hidden_count)
    shown = {}
    for name, display in DISPLAYS.items():
        if display["panel"] == "prediction":
            want, server = class_map_rgb(mine.prediction, colors), class_map_rgb(ref.prediction, colors)
        else:
            kw = {"fill_regions": display["fillRegions"], "show_boundaries": display["boundaries"]}
            want, server = class_partition_rgb(mine, colors, **kw), class_partition_rgb(ref, colors, **kw)
        img = gpu["images"][name]
        diff = np.abs(img.astype(int) - want.astype(int)).max(axis=2)
        assert diff.max() <= 1, (name, int(diff.max()))
        shown[name] = (float((diff == 0).mean()), float((img == server).all(axis=2).mean()))
        assert shown[name][0] >= AGREE and shown[name][1] >= AGREE, (name, shown[name])
    # the heavier line is there: the decision mask's pixels are black on the partition panel
    decision = (gpu["images"]["partition"] == 0).all(axis=2)
    print(f"\n{label} {size}^2 ({gpu['form']}): patterns {got['patterns']:.6f}  winners {winners:.6f}  "
          f"decision pixels {decision.mean():.4f}  panels {shown}")
    assert got["patterns"] >= AGREE and got["boundary"] >= AGREE and winners >= AGREE
    assert 0.002 < decision.mean() < 0.3


@functools.cache
def trained_classifier(image: str, layers: str, steps: int):
    torch.manual_seed(0)
    config = RunConfig(image=image, task="classify", layers=layers, train_points=2000, val_points=200,
                       batch_size=256, lr=3e-3, seed=1)
    trainer = Trainer(config, load_target(SAMPLES_DIR / f"{image}.png", color=True), device="cpu")
    trainer.step(steps)
    return trainer.model, trainer.classes.colors


@pytest.mark.parametrize(("size", "options"), [(256, {}), (256, {"unroll": False})], ids=["256", "256-looped"])
def test_classifier_panels_match_the_server(page, size, options):
    """classes-three (red, green, blue) after 300 steps of a 14x6: the class map shaded by
    confidence, the region boundaries gray and the decision boundary black, as the server draws."""
    model, colors = trained_classifier("classes-three", "14x6", 300)
    check_classifier(page, model, colors, size, "classes-three 14x6", options)


def test_classifier_of_eight_classes_uses_a_second_prediction_target(page):
    """Past four outputs the scores take a second target (in the same pass as the first): a random
    net with 6 and one with 8 outputs, in the unrolled, looped and two-pass forms."""
    palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (255, 128, 0), (128, 0, 255)]
    for k, seed in ((6, 11), (8, 12)):
        model = spread_classes(build_mlp([12, 12, 12], out_dim=k, generator=torch.Generator().manual_seed(seed)), seed)
        check_classifier(page, model, palette[:k], 160, f"{k} classes")
        check_classifier(page, model, palette[:k], 96, f"{k} classes, looped", {"unroll": False})
    wide = spread_classes(build_mlp([300], out_dim=8, generator=torch.Generator().manual_seed(13)), 13)
    check_classifier(page, wide, palette, 96, "300 neurons, 8 classes, 2 draw buffers", {"maxDrawBuffers": 2})


def spread_classes(model, seed: int):
    """Random output weights, each score centred and scaled over the square: every class wins somewhere."""
    g = torch.Generator().manual_seed(seed)
    last = model.linears[-1]
    with torch.no_grad():
        last.weight.copy_(torch.randn(last.weight.shape, generator=g))
        last.bias.zero_()
        scores = model(torch.from_numpy(grid_points(64)))
        mean, std = scores.mean(0), scores.std(0)
        last.weight.div_(std[:, None])
        last.bias.copy_(-mean / std)
    return model


def test_runs_of_equal_layers_in_loops(page):
    """A deep narrow net (too many weights to write out): one unrolled body per run of equal
    layers, in a loop; bit positions cross 32-bit words at every offset."""
    model = trained(layers="3,20x12,13", steps=100)
    check(page, model, 192, "3,20x12,13", form="runs")


def test_several_draw_buffers_and_passes(page):
    """300 hidden neurons: 3 bit targets in one pass; with 2 draw buffers a pass, two passes."""
    model = build_mlp([150, 150], generator=torch.Generator().manual_seed(3))
    check(page, model, 128, "150,150", form="looped")
    check(page, model, 96, "150,150 (2 draw buffers)", options={"maxDrawBuffers": 2})
    deep = build_mlp([23] * 14, generator=torch.Generator().manual_seed(6))  # 322 hidden: runs over 3 targets
    check(page, deep, 96, "23x14 (2 draw buffers)", options={"maxDrawBuffers": 2}, form="runs")


def test_exactly_1024_hidden_neurons(page):
    """The limit: 8 bit targets (1024 bits) plus the prediction, so two passes."""
    wide = build_mlp([1024], generator=torch.Generator().manual_seed(4))
    check(page, wide, 128, "1024")
    deep = build_mlp([256] * 4, generator=torch.Generator().manual_seed(5))
    check(page, deep, 40, "256x4")


def test_budget_check(page):
    """Past 1024 hidden neurons (or the server's limits) a net is refused with a reason. The
    parameter limit cannot bind first: 1024 hidden neurons hold at most ~263k parameters."""
    fits = page.evaluate(
        """() => [[14, 14], [1024], [1024, 1], [1025], Array(65).fill(2), [176, 176]]
                 .map((widths) => R.MLPRenderer.fits({widths, outDim: 1}))"""
    )
    assert [f["ok"] for f in fits] == [True, True, False, False, False, True]
    assert "1025 hidden" in fits[2]["reason"] and "widths" in fits[3]["reason"] and "layers" in fits[4]["reason"]
    error = page.evaluate(
        """() => { try { rendererFor({}).setWeights({widths: [600, 600], outDim: 1, weights: new Float32Array(1)}); }
                   catch (e) { return e.message; } return null; }"""
    )
    assert error and "1200 hidden" in error


JS_VIEW = """({net, weights, width, height, view}) => {
  const r = rendererFor({});
  r.resize(width, height);
  r.setWeights({...net, weights: new Float32Array(unb64(weights).buffer)});
  r.setView(view);
  const p = r.readPatterns();
  const out = {w: p.width, h: p.height, patterns: b64(p.words), boundary: b64(r.readBoundary()), prediction: b64(r.readPrediction())};
  r.setView({});
  return out;
}"""


def test_view_box_and_a_wide_canvas(page):
    """setView zooms: pixel centres x0 + (x1 - x0)(2i + 1)/(2W), rows from y1 at the top."""
    model = trained(**CASES["ring-14x6"])
    w, h, view = 160, 96, {"x0": -0.7, "x1": 0.1, "y0": -0.2, "y1": 0.5}
    net = {"widths": model.widths, "outDim": 1, "negativeSlope": 0.0}
    out = page.evaluate(JS_VIEW, {"net": net, "weights": b64(wire_weights(model)), "width": w, "height": h, "view": view})
    assert (out["w"], out["h"]) == (w, h)
    xs = view["x0"] + (view["x1"] - view["x0"]) * (2 * np.arange(w) + 1) / (2 * w)
    ys = view["y0"] + (view["y1"] - view["y0"]) * (2 * np.arange(h)[::-1] + 1) / (2 * h)
    points = torch.from_numpy(np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), axis=-1).reshape(-1, 2).astype(np.float32))
    with torch.no_grad():
        pred, pre = model.forward_with_preactivations(points)
    words = pack_patterns(torch.cat(pre, dim=1).numpy() > 0).reshape(h, w, -1)
    regions = exact_unique(words.reshape(h * w, -1))[1].reshape(h, w)
    gpu_words = unb64(out["patterns"], "<u8").reshape(h, w, -1)
    same = (gpu_words == words).all(axis=2).mean()
    edges = (unb64(out["boundary"], np.uint8).reshape(h, w).astype(bool) == boundary_mask(regions)).mean()
    close = (np.abs(unb64(out["prediction"], "<f4").reshape(h, w) - pred.numpy().reshape(h, w)) <= 2 / 255).mean()
    print(f"\nview {w}x{h}: patterns {same:.6f}  boundary {edges:.6f}  prediction {close:.6f}")
    assert same >= AGREE and edges >= AGREE and close >= AGREE
    assert len(np.unique(regions)) > 3  # the zoomed box crosses the ring's regions


def test_redraws_on_demand_only(page):
    """Changes in one task give one redraw on the next animation frame; then nothing."""
    model = trained(**CASES["ring-14x6"])
    net = {"widths": model.widths, "outDim": 1, "negativeSlope": 0.0}
    renders = page.evaluate(
        """async ({net, weights}) => {
          const r = rendererFor({count: true});
          let count = 0;
          const render = r.render.bind(r);
          r.render = (...a) => { count++; return render(...a); };
          r.resize(64, 64);
          r.setWeights({...net, weights: new Float32Array(unb64(weights).buffer)});
          r.setView({x0: -0.5, x1: 0.5, y0: -0.5, y1: 0.5});
          r.setDisplay({fillRegions: true});
          const frame = () => new Promise((done) => requestAnimationFrame(done));
          await frame(); await frame();
          const first = count;
          await new Promise((done) => setTimeout(done, 300));
          r.setDisplay({boundaries: false});
          await frame(); await frame();
          return [first, count];
        }""",
        {"net": net, "weights": b64(wire_weights(model))},
    )
    assert renders == [1, 2]


# -- the colour function --------------------------------------------------------------------
MASK = (1 << 64) - 1
SEED = 0x9E3779B97F4A7C15


def unmix64(h: int) -> int:
    """Inverse of patterns.py's _mix64 (each step of the splitmix64 finaliser is a bijection)."""

    def unshift(x: int, k: int) -> int:
        y = x
        for _ in range(64 // k + 1):
            y = x ^ (y >> k)
        return y

    h = unshift(h, 31)
    h = (h * pow(0x94D049BB133111EB, -1, 1 << 64)) & MASK
    h = unshift(h, 27)
    h = (h * pow(0xBF58476D1CE4E5B9, -1, 1 << 64)) & MASK
    return unshift(h, 30)


def colour_ties() -> list[tuple[int, int, int]]:
    """Every (F, S, V) where 255 * v * (1 - s F/32768) is exactly k + 1/2 (numpy's float64
    rounding then decides), found by brute force over F in steps keeping 1275 | G F."""
    ties = set()
    for s in range(256):
        for v in range(256):
            a = 714 + v
            g = a * (2295 + 7 * s)
            f = np.arange(0, 32769, 1275 // np.gcd(g, 1275), dtype=np.int64)
            z = a * (1 << 17) - g * f // 1275 + (1 << 18)
            ties.update((int(x), s if x else 0, v) for x in f[z % (1 << 19) == 0])
    return sorted(ties)


def gpu_colours(page, words: np.ndarray) -> np.ndarray:
    out = page.evaluate(
        "([w, k]) => b64(rendererFor({}).colorsOf(new Uint32Array(unb64(w).buffer), k))",
        [b64(words.astype("<u8")), int(words.shape[1])],
    )
    return unb64(out, np.uint8).reshape(-1, 3)


def test_region_colours_equal_pattern_colors(page):
    rng = np.random.default_rng(7)
    for k in (1, 2, 3):
        words = rng.integers(0, 1 << 64, size=(30000, k), dtype=np.uint64, endpoint=False)
        words[:4] = [[0] * k, [MASK] * k, [1] * k, [1 << 63] * k]
        words[4:2000] &= rng.integers(0, 1 << 64, size=(1996, k), dtype=np.uint64)  # sparse bits too
        got = gpu_colours(page, words)
        assert np.array_equal(got, pattern_colors(words)), f"{k} words: {np.argwhere((got != pattern_colors(words)).any(1))[:5]}"


def test_region_colours_at_every_rounding_tie(page):
    """Patterns whose hash lands on each tie of the HSV rounding, built by inverting the hash."""
    ties = colour_ties()
    table = page.evaluate("() => R.tieTable().map(([key]) => key)")
    assert table == [(f << 16) | (s << 8) | v for f, s, v in ties]
    rng = np.random.default_rng(8)
    hashes = []
    for f, s, v in ties:
        hue = (f * 10923) % 32768  # 3 * hue = f (mod 32768): the fraction of the hue sector is f
        for lo in {hue | s << 16 | v << 24, (hue + 32768) | s << 16 | v << 24}:
            hashes.append((int(rng.integers(0, 1 << 32)) << 32) | lo)
    words = np.array([[unmix64(h) ^ SEED] for h in hashes], dtype=np.uint64)
    assert np.array_equal(pattern_hash(words), np.array(hashes, dtype=np.uint64))
    got = gpu_colours(page, words)
    assert np.array_equal(got, pattern_colors(words))
