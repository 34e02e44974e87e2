"""The live measurement of every ready experiment: what one update's measured fields cost, and where
the time goes (issue 28, item 7).

While the page draws, a live update is the weights; its measured fields (losses, the grid partition
and its count, the geometry fields, pattern churn) come from a frozen copy on the session's
measuring thread (web/sessions/measuring.py), via ``FrameProducer.frame``. The page stays live when
that takes well under half a second. For each preset (core/presets.py) this trains it a few steps,
then times, on the same frozen network, interleaved A B A B (medians):

- A: the project's measurement at the view's resolution, split into the grid partition
  (geometry/grid.py), the live geometry (geometry/dynamics.py) and the pattern dynamics
  (geometry/pattern_dynamics.py);
- B (the baseline): the grid partition with the evaluator's former packing of activation bits
  (one dense (codes x width) matrix per layer, whose cost grows with the width squared), set up
  here.

    PYTHONPATH=backend python benchmarks/live_measure.py [--presets lazy,post-14x6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from polytope_lens.core.clips import load_clip_or_picture
from polytope_lens.core.presets import PRESETS, PRESETS_BY_ID
from polytope_lens.core.samples import sample_path
from polytope_lens.core.settings import ViewSettings
from polytope_lens.core.training import Trainer
from polytope_lens.geometry import grid
from polytope_lens.output.frames import FrameProducer
from polytope_lens.output.frozen import FrozenRun


def dense_packs(widths: list[int]) -> list:
    """The former packing: one dense (codes, width) matrix of powers of two per layer."""
    packs, col = [], 0
    for w in widths:
        lo, hi = col // 16, (col + w - 1) // 16 + 1
        pack = torch.zeros(hi - lo, w)
        for j in range(w):
            pack[(col + j) // 16 - lo, j] = float(1 << ((col + j) % 16))
        packs.append([(lo, 0, w, pack)])  # one piece: every code of the layer, added
        col += w
    return packs


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(preset_id: str, repeats: int, steps: int = 20) -> dict:
    preset = PRESETS_BY_ID[preset_id]
    config = preset.config
    trainer = Trainer(config, load_clip_or_picture(sample_path(config.image), color=config.target_color))
    trainer.step(steps)
    resolution = ViewSettings(**preset.view).resolution
    run = FrozenRun.of(trainer)
    producer = FrameProducer()
    producer.frame(run, resolution, live=True)  # warm: buffers, the first exact attempt
    evaluator = grid._evaluator(run.model)
    project_packs = evaluator.packs
    baseline_packs = dense_packs(list(run.model.widths))
    parts = {"frame": [], "partition": [], "baseline_partition": []}
    for _ in range(repeats):
        evaluator.packs = project_packs
        parts["frame"].append(timed(lambda: producer.frame(run, resolution, live=True)))
        parts["partition"].append(timed(lambda: grid.compute_partition(run.model, resolution)))
        evaluator.packs = baseline_packs
        parts["baseline_partition"].append(timed(lambda: grid.compute_partition(run.model, resolution)))
    evaluator.packs = project_packs
    med = {k: statistics.median(v) for k, v in parts.items()}
    med["rest"] = max(0.0, med["frame"] - med["partition"])  # live geometry + pattern dynamics + losses
    med["updates_per_s"] = 1.0 / med["frame"]
    med["resolution"] = resolution
    med["hidden"] = sum(run.model.widths)
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default=",".join(p.id for p in PRESETS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as `polytope-lens serve` runs a session
    print(f"{'preset':<18}{'hidden':>7}{'R':>6}{'measure s':>11}{'partition s':>13}{'rest s':>9}"
          f"{'dense-pack partition s':>24}{'ratio':>7}{'measures/s':>12}")
    for preset_id in args.presets.split(","):
        m = measure(preset_id, args.repeats)
        print(f"{preset_id:<18}{m['hidden']:>7}{m['resolution']:>6}{m['frame']:>11.3f}{m['partition']:>13.3f}"
              f"{m['rest']:>9.3f}{m['baseline_partition']:>24.3f}{m['baseline_partition'] / m['partition']:>7.2f}"
              f"{m['updates_per_s']:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
