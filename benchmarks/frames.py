"""Frame cost: the project's frame path against the naive method, side by side in one process.

A *frame* is what a live view needs for one picture: the partition (patterns,
region ids), the region boundaries, the prediction, and the bytes the
websocket sends.

- project: ``compute_partition`` (refinement, see partition.py) and
  ``wire.partition_frame`` (raw uint8 prediction + packed boundary bits; the
  browser composes the panels).
- naive (the baseline, implemented here): every pixel of the grid through the
  network in one batch, the activation bits combined into one number per pixel
  with a sum of random coefficients, 4-neighbours compared in NumPy, and the
  two pictures (prediction with boundaries drawn over it, prediction) encoded
  as PNG (Pillow defaults).

Both run on the same trained network, alternately, and each figure is the
median of the repeats. The naive picture is checked against the project's:
same boundary pixels, prediction within one grey level.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
import torch
from PIL import Image

from polytope_lens.core.settings import RunConfig
from polytope_lens.core.images import Target
from polytope_lens.core.model import MLP
from polytope_lens.geometry.grid import compute_partition, grid_points
from polytope_lens.output.render import BOUNDARY_COLOR
from polytope_lens.web.store import ImageStore
from polytope_lens.core.training import Trainer
from polytope_lens.web.wire import decode_frame, partition_frame

NETS = ["14x6", "10x10,2,10x3", "20x40", "64x4"]
RESOLUTIONS = [256, 512, 1024]


def ring_target() -> Target:
    """The sample ring (the package's samples/ring.png), as the server loads it."""
    store = ImageStore()
    try:
        return store.target("ring", False)
    finally:
        store.close()


def trained_model(layers: str, steps: int, target: Target | None = None, seed: int = 0) -> MLP:
    """A network of the project's default run with ``layers``, trained ``steps`` steps on the ring."""
    trainer = Trainer(RunConfig(layers=layers, seed=seed), target or ring_target(), device="cpu")
    trainer.step(steps)
    return trainer.model


@torch.no_grad()
def naive_frame(model: MLP, resolution: int, seed: int = 1) -> dict:
    """The naive frame: one batch, sum of random coefficients, NumPy neighbours, PNG panels."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(grid_points(resolution))
    code = torch.zeros(x.shape[0], dtype=torch.float64)
    for linear, slope in zip(model.linears[:-1], model.layer_slopes):
        z = linear(x)
        coefficients = torch.rand(z.shape[1], generator=gen, dtype=torch.float64)
        code += (z > 0).double() @ coefficients
        x = model.activate(z, slope)
    out = model.linears[-1](x).numpy().reshape(resolution, resolution, -1)
    ids = code.numpy().reshape(resolution, resolution)
    boundary = np.zeros(ids.shape, dtype=bool)
    horiz = ids[:, 1:] != ids[:, :-1]
    vert = ids[1:] != ids[:-1]
    boundary[:, 1:] |= horiz
    boundary[:, :-1] |= horiz
    boundary[1:] |= vert
    boundary[:-1] |= vert
    prediction = np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
    rgb = np.repeat(prediction, 3, axis=2) if prediction.shape[2] == 1 else prediction
    panel = rgb.copy()
    panel[boundary] = BOUNDARY_COLOR
    pngs = []
    for img in (panel, rgb):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        pngs.append(buf.getvalue())
    return {"pngs": pngs, "boundary": boundary, "prediction": prediction}


def project_frame(model: MLP, resolution: int) -> bytes:
    """The project's frame: partition + boundaries + prediction, encoded for the websocket."""
    partition = compute_partition(model, resolution)
    return partition_frame(partition, {"step": 0})


def same_picture(frame: bytes, naive: dict) -> bool:
    """Same boundary pixels, and prediction bytes within one level of the naive ones."""
    header, sections = decode_frame(frame)
    r, c = header["resolution"], header["channels"]
    boundary = np.unpackbits(np.frombuffer(sections["boundary"], np.uint8), count=r * r).reshape(r, r)
    prediction = np.frombuffer(sections["prediction"], np.uint8).reshape(r, r, c)
    diff = np.abs(prediction.astype(np.int16) - naive["prediction"].astype(np.int16))
    return bool(np.array_equal(boundary.astype(bool), naive["boundary"]) and diff.max() <= 1)


def bench_frame(model: MLP, resolution: int, repeats: int = 3) -> dict:
    """Time the naive and the project frame alternately; medians, ratio and a picture check."""
    naive = naive_frame(model, resolution)  # warm-up, and the reference picture
    frame = project_frame(model, resolution)
    naive_s, project_s = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        naive_frame(model, resolution)
        t1 = time.perf_counter()
        project_frame(model, resolution)
        t2 = time.perf_counter()
        naive_s.append(t1 - t0)
        project_s.append(t2 - t1)
    header, _ = decode_frame(frame)
    naive_med, project_med = statistics.median(naive_s), statistics.median(project_s)
    return {
        "resolution": resolution,
        "naive_s": naive_med,
        "project_s": project_med,
        "ratio": naive_med / project_med,
        "regions": header["regions"],
        "frame_bytes": len(frame),
        "naive_bytes": sum(len(p) for p in naive["pngs"]),
        "same_picture": same_picture(frame, naive),
    }


def run(nets=NETS, resolutions=RESOLUTIONS, steps: int = 300, repeats: int = 3, log=print) -> list[dict]:
    """Frame cost of every net at every resolution; one dict per (net, resolution)."""
    target = ring_target()
    rows = []
    for layers in nets:
        t0 = time.perf_counter()
        model = trained_model(layers, steps, target)
        log(f"  trained {layers} for {steps} steps in {time.perf_counter() - t0:.1f} s")
        for resolution in resolutions:
            row = {"net": layers, "steps": steps, **bench_frame(model, resolution, repeats)}
            log(
                f"  frame {layers} {resolution}^2: project {row['project_s'] * 1e3:.1f} ms, "
                f"naive {row['naive_s'] * 1e3:.1f} ms, {row['ratio']:.1f}x, {row['regions']} regions, "
                f"same picture: {row['same_picture']}"
            )
            rows.append(row)
    return rows


if __name__ == "__main__":
    torch.set_num_threads(1)
    run()
