"""Frames per second of the page's WebGL2 renderer (frontend/drawing/renderer.js) in headless Chromium.

    .venv/bin/python benchmarks/browser_renderer.py            # 14x6 and 20x40 at 512^2 and 1024^2
    .venv/bin/python benchmarks/browser_renderer.py --nets 14x6 --sizes 256 --seconds 1

A frame is what a live update costs the viewer: new weights uploaded, the network
evaluated at every pixel (pattern bits and prediction), the boundary pass and the
composed partition panel; it is timed until a pixel of the canvas is read back (so
the GPU work is done). "compose" redraws from the kept textures only (a display
toggle). The pass-1 shader form (unrolled / runs / looped) is shown per case. Headless Chromium without a GPU runs WebGL2 on SwiftShader (the CPU):
the figures are a floor, not a target. One row per case on stdout.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from polytope_lens.core.model import build_mlp, count_parameters, parse_layers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from live_server import running_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--no-first-run"]

# Page side: frames with fresh weights (two sets, alternating, as training would send them),
# then redraws from the kept textures; each timed until one pixel is read back.
JS_BENCH = """async ({widths, size, sets, seconds}) => {
  const {MLPRenderer} = await import('/static/drawing/renderer.js');
  const canvas = document.createElement('canvas');
  document.body.append(canvas);
  const r = new MLPRenderer(canvas);
  const gl = r.gl, pixel = new Uint8Array(4);
  const weights = sets.map((s) => new Float32Array(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer));
  r.resize(size, size);
  const frame = (i) => { r.setWeights({widths, outDim: 1, weights: weights[i % 2]}); r.render(); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel); };
  const compose = (i) => { r.render({panel: 'partition', fillRegions: i % 2 === 1, boundaries: true}); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel); };
  const time = (fn) => {
    fn(0);  // warm-up: shader compilation, texture allocation
    let n = 0;
    const t0 = performance.now();
    while (n < 3 || performance.now() - t0 < 1000 * seconds) fn(++n);
    return (performance.now() - t0) / n;
  };
  const frameMs = time(frame), composeMs = time(compose), form = r.form;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER);
  r.dispose();
  canvas.remove();
  return {frameMs, composeMs, form, renderer};
}"""


def wire_weights(model) -> str:
    parts = [np.concatenate([w.numpy().ravel(), b.numpy()]) for w, b in model.affine_layers()]
    return base64.b64encode(np.concatenate(parts).astype("<f4").tobytes()).decode()


def run(nets: list[str], sizes: list[int], seconds: float) -> list[dict]:
    from playwright.sync_api import sync_playwright

    chromium = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if chromium is None:
        raise SystemExit(f"no Chromium at {CHROMIUM} or on PATH")
    rows = []
    # a real server: the renderer reads the drawing facts the server publishes (GET /api/options)
    with running_server() as url:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.route(f"{url}/bench.html", lambda route: route.fulfill(body="<!doctype html><body></body>", content_type="text/html"))
                page.goto(f"{url}/bench.html")
                for net in nets:
                    widths = parse_layers(net)
                    sets = [wire_weights(build_mlp(widths, generator=torch.Generator().manual_seed(s))) for s in (0, 1)]
                    for size in sizes:
                        got = page.evaluate(JS_BENCH, {"widths": widths, "size": size, "sets": sets, "seconds": seconds})
                        row = {
                            "net": net,
                            "size": size,
                            "hidden": sum(widths),
                            "parameters": count_parameters(widths),
                            "frame_ms": got["frameMs"],
                            "fps": 1000.0 / got["frameMs"],
                            "compose_ms": got["composeMs"],
                            "form": got["form"],
                            "renderer": got["renderer"],
                        }
                        rows.append(row)
                        print(
                            f"{net:>8} {size:>5}^2  hidden {row['hidden']:>4}  {row['form']:>8}  frame {row['frame_ms']:9.1f} ms  "
                            f"{row['fps']:7.2f} frames/s  compose only {row['compose_ms']:7.1f} ms",
                            flush=True,
                        )
            finally:
                browser.close()
    if rows:
        print(f"(WebGL: {rows[0]['renderer']})")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", nargs="+", default=["14x6", "20x40"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[512, 1024])
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per case (at least 3 frames)")
    args = parser.parse_args()
    run(args.nets, args.sizes, args.seconds)


if __name__ == "__main__":
    main()
