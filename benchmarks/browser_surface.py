"""The 3-D surface panel (frontend/surface/) in headless Chromium: an exact update, a rotation frame.

    .venv/bin/python benchmarks/browser_surface.py                       # trained 14x6 and the post's 20x40
    .venv/bin/python benchmarks/browser_surface.py --nets 14x6 --steps 3000 --seconds 1

The networks are trained on the ring here (the project's default run); the server's own code makes
their exact surface messages (geometry/surface.py, the bytes the session pushes live) at two steps
in a row. In the page (the panel's own modules, on a real server so that they read its options):

- update: a new exact surface message to a redrawn canvas, as the panel does on every live push:
  parseFrame (live/connection.js), the mesh (surface/mesh.js), the upload and the draw
  (surface/surfacegl.js), timed until one pixel is read back (the GPU work done). The two messages
  alternate, as training would send them. Median ms.
- rotate: one frame of a drag (the camera moved, the same mesh), until a pixel is read: frames/s.
- sampled: the surface sampled from the weights (surface/sampled.js, what the panel draws between
  exact updates and past the live exact budget) to a redrawn canvas.
- bytes: the message, beside a server-drawn 512² frame of the same network (prediction, boundary
  and lines sections: what a live picture costs).

The canvas is 960x540 CSS pixels at device pixel ratio 1. Headless Chromium without a GPU runs
WebGL2 on SwiftShader (the CPU): the figures are a floor, not a target. One row per network.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from frames import ring_target  # noqa: E402
from live_server import running_server  # noqa: E402

from polytope_lens.core.settings import RunConfig  # noqa: E402
from polytope_lens.core.training import Trainer  # noqa: E402
from polytope_lens.geometry.dynamics import LIVE_BUDGET_S  # noqa: E402
from polytope_lens.geometry.exact import PartitionTooLarge, exact_partition  # noqa: E402
from polytope_lens.geometry.grid import compute_partition  # noqa: E402
from polytope_lens.geometry.surface import build_surface, surface_message  # noqa: E402
from polytope_lens.web.wire import partition_frame  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--no-first-run"]

JS_BENCH = """async ({messages, net, seconds}) => {
  const {parseFrame} = await import('/static/live/connection.js');
  const {exactMesh, sampledMesh} = await import('/static/surface/mesh.js');
  const {sampleSurface} = await import('/static/surface/sampled.js');
  const {SurfaceRenderer} = await import('/static/surface/surfacegl.js');
  const canvas = document.createElement('canvas');
  canvas.style.width = '960px';
  canvas.style.height = '540px';
  document.body.append(canvas);
  const {probeGL} = await import('/static/drawing/rendermode.js');
  const r = new SurfaceRenderer(canvas, {antialias: !probeGL().software});  // as the panel makes it
  const gl = r.gl, pixel = new Uint8Array(4);
  const decode = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
  const buffers = messages.map(decode);
  const look = {choice: 'channel:0', colorMode: 'pattern'};
  const show = (mesh) => { r.setMesh(mesh, [Math.min(0, mesh.zMin), Math.max(1, mesh.zMax)]); r.draw(); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel); };
  let facets = 0;
  const update = (i) => { const m = parseFrame(buffers[i % 2].slice(0)); facets = m.surface.regions; show(exactMesh(m.surface, look)); };
  const rotate = () => { r.rotate(7, 0); r.draw(); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel); };
  const weights = new Float32Array(decode(net.weights));
  const sampled = (i) => show(sampledMesh(sampleSurface({...net, weights, step: i}, {x0: -1, x1: 1, y0: -1, y1: 1}), look));
  const time = (fn) => {
    fn(0);  // warm-up: shaders, buffers
    const ms = [];
    const t0 = performance.now();
    for (let n = 1; n <= 3 || performance.now() - t0 < 1000 * seconds; n++) {
      const t = performance.now();
      fn(n);
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    return ms[ms.length >> 1];
  };
  const updateMs = time(update);
  const rotateMs = time(rotate);
  const sampledMs = time(sampled);
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER);
  r.dispose();
  canvas.remove();
  return {updateMs, rotateMs, sampledMs, facets, renderer, size: [canvas.width, canvas.height]};
}"""


def wire_weights(model) -> str:
    parts = [np.concatenate([w.detach().numpy().ravel(), b.detach().numpy()]) for w, b in model.affine_layers()]
    return base64.b64encode(np.concatenate(parts).astype("<f4").tobytes()).decode()


def surface_bytes(model, step: int, deadline_s: float) -> tuple[bytes, int, float]:
    """(message, regions, seconds to compute the exact partition) of `model`'s surface."""
    t0 = time.perf_counter()
    partition = exact_partition(model, deadline=time.monotonic() + deadline_s)
    seconds = time.perf_counter() - t0
    return surface_message(build_surface(partition, "regress"), step), partition.region_count, seconds


def frame_bytes(model, resolution: int = 512) -> int:
    """A server-drawn live frame of `model` at `resolution`² (prediction, boundary, lines)."""
    return len(partition_frame(compute_partition(model, resolution), {"type": "frame", "step": 0}))


def run(nets: list[str], steps: dict[str, int], seconds: float, deadline_s: float = 120.0, log=print) -> list[dict]:
    from playwright.sync_api import sync_playwright

    chromium = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if chromium is None:
        raise SystemExit(f"no Chromium at {CHROMIUM} or on PATH")
    target = ring_target()
    cases = []
    for net in nets:
        trainer = Trainer(RunConfig(layers=net, seed=0), target, device="cpu")
        n = steps.get(net, 0)
        t0 = time.perf_counter()
        trainer.step(max(0, n - 20))
        first = _surface_or_none(trainer.model, n - 20, deadline_s)
        trainer.step(20 if n >= 20 else 1)
        second = _surface_or_none(trainer.model, n, deadline_s)
        log(f"{net}: trained {n} steps in {time.perf_counter() - t0:.0f} s", flush=True)
        widths = [int(w) for w in trainer.model.widths]
        cases.append({"net": net, "steps": n, "first": first, "second": second, "frame_bytes": frame_bytes(trainer.model),
                      "weights": wire_weights(trainer.model), "widths": widths})
    rows = []
    with running_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 600}, device_scale_factor=1)
            page.route(f"{url}/bench.html", lambda route: route.fulfill(body="<!doctype html><body></body>", content_type="text/html"))
            page.goto(f"{url}/bench.html")
            for case in cases:
                if case["first"] is None or case["second"] is None:
                    log(f"{case['net']}: no exact partition within {deadline_s:.0f} s: only the sampled surface", flush=True)
                    messages = None
                else:
                    messages = [base64.b64encode(case["first"][0]).decode(), base64.b64encode(case["second"][0]).decode()]
                net = {"widths": case["widths"], "outDim": 1, "negativeSlope": 0, "weights": case["weights"]}
                got = page.evaluate(JS_BENCH.replace("const updateMs = time(update);", "const updateMs = messages ? time(update) : null;")
                                    .replace("const rotateMs = time(rotate);", "const rotateMs = messages ? time(rotate) : null;"),
                                    {"messages": messages or [], "net": net, "seconds": seconds})
                msg, regions, exact_s = case["second"] or (b"", None, None)
                row = {"net": case["net"], "steps": case["steps"], "regions": regions, "exact_s": exact_s,
                       "live_budget_s": LIVE_BUDGET_S, "surface_bytes": len(msg) or None, "frame_bytes": case["frame_bytes"],
                       "update_ms": got["updateMs"], "rotate_fps": 1000 / got["rotateMs"] if got["rotateMs"] else None,
                       "sampled_ms": got["sampledMs"], "renderer": got["renderer"], "canvas": got["size"]}
                rows.append(row)
                log(_describe(row), flush=True)
        finally:
            browser.close()
    if rows:
        log(f"(WebGL: {rows[0]['renderer']}; canvas {rows[0]['canvas'][0]}x{rows[0]['canvas'][1]})")
    return rows


def _surface_or_none(model, step, deadline_s):
    try:
        return surface_bytes(model, step, deadline_s)
    except PartitionTooLarge:
        return None


def _describe(row: dict) -> str:
    live = "within" if row["exact_s"] is not None and row["exact_s"] <= row["live_budget_s"] else "past"
    parts = [f"{row['net']:>6} at step {row['steps']}:"]
    if row["regions"] is not None:
        parts.append(f"{row['regions']:,} regions (exact partition {row['exact_s'] * 1e3:.0f} ms: {live} the live "
                     f"budget of {row['live_budget_s'] * 1e3:.0f} ms)")
        parts.append(f"update {row['update_ms']:.1f} ms, rotate {row['rotate_fps']:.1f} frames/s,")
        parts.append(f"message {row['surface_bytes'] / 1024:.0f} KB vs a 512² server frame {row['frame_bytes'] / 1024:.0f} KB,")
    parts.append(f"sampled surface {row['sampled_ms']:.1f} ms")
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", nargs="+", default=["14x6", "20x40"])
    parser.add_argument("--steps", type=int, nargs="+", default=None,
                        help="training steps per net (default: 6000 for 14x6, 3000 for 20x40)")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement (at least 3 repeats)")
    args = parser.parse_args()
    defaults = {"14x6": 6000, "20x40": 3000}
    steps = dict(zip(args.nets, args.steps)) if args.steps else {n: defaults.get(n, 2000) for n in args.nets}
    run(args.nets, steps, args.seconds)


if __name__ == "__main__":
    main()
