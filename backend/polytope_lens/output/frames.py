"""One frame producer for the live view and the headless recorder.

A frame is the trainer's state at one step seen on a grid: losses, the grid
partition, and the geometry fields (exact region counts, edge density). The
same producer turns it into the three-panel picture (render.py), so the CLI's
frames, the page's PNG download and the movie agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..core.settings import ViewSettings
from ..core.training import Losses, Trainer
from ..geometry.dynamics import LiveGeometry
from ..geometry.grid import GridPartition, compute_partition
from ..geometry.pattern_dynamics import PatternDynamics
from .classmap import labelled_target_rgb
from .moments import MomentCache
from .render import FrameInfo, render_frame, target_rgb


# A live frame (taken while training runs) costs up to R^2 x the hidden neurons (every pixel near a
# boundary is evaluated through every layer): one layer of 1,024, or 40 layers of 20, at 512^2 take
# a second or more, and the view would update once every few seconds. While running, such a network
# is seen on a grid halved until R^2 x hidden neurons is within this work (the frame says its
# resolution); paused, at the view's own. 150 neurons at 512^2 keeps every ready experiment at two
# updates a second or more on a 2-core machine (benchmarks/live_updates.py; TRAIN_PER_DRAW in
# web/sessions/local.py): the 14x6s, the bottleneck and 10x8 stay at 512^2, one layer of 276 is seen
# at 256^2, one layer of 1,024 and 20x40 at 128^2.
LIVE_WORK = 512 * 512 * 150
LIVE_MIN_RESOLUTION = 128


def live_resolution(resolution: int, widths) -> int:
    """The grid side of a live frame of a network with hidden ``widths`` at the view's ``resolution``."""
    hidden = max(1, sum(widths))
    r = int(resolution)
    while r > LIVE_MIN_RESOLUTION and r * r * hidden > LIVE_WORK:
        r //= 2
    return max(r, min(int(resolution), LIVE_MIN_RESOLUTION))


@dataclass
class Frame:
    step: int
    losses: Losses
    partition: GridPartition
    geometry: dict  # header fields: exact counts, per-layer counts, edge density (LiveGeometry); churn, births, deaths, dead neurons (PatternDynamics)
    t: float = 0.0  # the moment of a clip it shows (output/moments.py); 0 for a picture


class FrameProducer:
    """Frames of one trainer's run. Not thread-safe: its owner calls it under the trainer's lock."""

    def __init__(self, geometry: LiveGeometry | None = None):
        self.geometry = geometry or LiveGeometry()
        self.dynamics = PatternDynamics()
        self._target_panel: np.ndarray | None = None
        self._target_of: tuple | None = None
        self.moments = MomentCache()

    def frame(self, trainer: Trainer, resolution: int, live: bool, t: float = 0.0,
              partition: GridPartition | None = None, defer_exact: bool = False) -> Frame:
        """Losses, partition and geometry of the trainer now (of a clip's network: of its slice at
        ``t``); ``live`` (training runs): a very wide network on a coarser grid (``live_resolution``).
        ``partition``: the grid partition of this very network, already computed (a live server-drawn
        update's: measured, not computed twice). ``defer_exact``: the exact count is not waited for
        (LiveGeometry.frame_fields). Raises TrainingDiverged (from ``trainer.losses``) when the network
        is no longer finite."""
        losses = trainer.losses()
        seen = self.moments.at(trainer, t)  # a clip's network: its slice at t
        if live:
            resolution = live_resolution(resolution, seen.model.widths)
        if partition is None or partition.resolution != resolution:
            partition = compute_partition(seen.model, resolution)
        fields = self.geometry.frame_fields(seen, partition, live, defer_exact=defer_exact)
        step = int(trainer.step_count)
        fields.update(self.dynamics.fields(seen, partition, self.geometry.exact_patterns(step)))
        return Frame(step, losses, partition, fields, t=float(t) if seen is not trainer else 0.0)

    def picture(self, trainer: Trainer, frame: Frame, view: ViewSettings, caption: bool = True,
                partition: GridPartition | None = None) -> Image.Image:
        """The three panels of ``frame`` (or of ``partition``, e.g. a smaller copy for a movie)."""
        partition = partition or frame.partition
        clip = trainer.target.frame_count > 1
        trainer = self.moments.at(trainer, frame.t)  # a clip's target panel: the frame at t
        info = None
        if caption:
            info = FrameInfo(
                step=frame.step,
                train_loss=frame.losses.train if frame.losses else math.nan,
                val_loss=frame.losses.val if frame.losses else math.nan,
                regions=frame.partition.region_count,
                architecture=trainer.config.architecture_label(trainer.out_dim, in_dim=3 if clip else 2)
                + (f"   t = {frame.t:+.2f}" if clip else ""),
                train_accuracy=frame.losses.train_accuracy if frame.losses else None,
                val_accuracy=frame.losses.val_accuracy if frame.losses else None,
            )
        classes = getattr(trainer, "classes", None)
        return render_frame(partition, self._target(trainer, partition.resolution), info,
                            fill_regions=view.fill_regions, show_boundaries=view.boundaries,
                            class_colors=list(classes.colors) if classes is not None else None)

    def _target(self, trainer: Trainer, size: int) -> np.ndarray:
        # The target panel never changes during a run: draw it once per target, points and size.
        key = (trainer.target, trainer.sample, size)
        if self._target_of is None or any(a is not b for a, b in zip(key[:2], self._target_of[:2])) or key[2] != self._target_of[2]:
            classes = getattr(trainer, "classes", None)
            self._target_panel = (target_rgb(trainer.target, trainer.sample, size) if classes is None
                                  else labelled_target_rgb(trainer.target, classes, trainer.sample, size))
            self._target_of = key
        return self._target_panel
