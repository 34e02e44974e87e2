"""A clip's run seen at one moment t: what the frame producer draws and the live geometry counts.

``Moment`` looks like a trainer to output/frames.py and geometry/dynamics.py (``model``,
``step_count``, ``target``, ``sample``, ``config``, ``losses``): its model is the 2-D slice at t
(geometry/slices.py), its target the clip's frame nearest to t, its points those of the frames
next to it. A picture's trainer is used as it is. ``MomentCache`` keeps the frame targets and
point subsets per frame (built once, and of stable identity, so the target panel is drawn once
per frame) and gives each (network, t) its own ``source_model`` token: a new t counts as a new
network for the live exact count, which never shows the count of another moment.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core.cliptime import nearest_frame
from ..core.images import PointSample, Target
from ..geometry.slices import slice_model

NEARBY_FRAMES = 1  # the target panel at frame k shows the points of frames k-1..k+1


class _Token:
    """Stands for one (network, t) pair in LiveGeometry's generation tracking."""


class Moment:
    def __init__(self, trainer, t: float, target: Target, sample: PointSample, token: _Token):
        self.trainer = trainer
        self.t = float(t)
        self.model = slice_model(trainer.model, t)
        self.step_count = trainer.step_count
        self.config = trainer.config
        self.target = target
        self.sample = sample
        self.source_model = token

    def losses(self):
        return self.trainer.losses()

    def __getattr__(self, name):
        # anything else (out_dim, classes, ...) is the trainer's own
        return getattr(self.trainer, name)


def nearby_points(sample: PointSample, frame: int, reach: int = NEARBY_FRAMES) -> PointSample:
    """The points of ``sample`` whose frame is within ``reach`` of ``frame``."""
    keep_train = np.abs(sample.train_frames - frame) <= reach
    keep_val = np.abs(sample.val_frames - frame) <= reach
    return replace(
        sample,
        train_pixels=sample.train_pixels[keep_train], val_pixels=sample.val_pixels[keep_val],
        train_x=sample.train_x[keep_train], train_y=sample.train_y[keep_train],
        val_x=sample.val_x[keep_val], val_y=sample.val_y[keep_val],
        train_frames=sample.train_frames[keep_train], val_frames=sample.val_frames[keep_val],
    )


class MomentCache:
    """Moments of one trainer's run. Not thread-safe: its owner (a FrameProducer) calls it."""

    def __init__(self):
        self._of: tuple | None = None  # (target, sample) the per-frame pieces below belong to
        self._frames: dict[int, tuple[Target, PointSample]] = {}
        self._tokens: dict[tuple[int, float], _Token] = {}

    def at(self, trainer, t: float):
        """The trainer itself for a picture, else its Moment at ``t``."""
        target = trainer.target
        if target.frames is None:
            return trainer
        if self._of is None or self._of[0] is not target or self._of[1] is not trainer.sample:
            self._of, self._frames, self._tokens = (target, trainer.sample), {}, {}
        k = nearest_frame(t, target.frame_count)
        if k not in self._frames:
            self._frames[k] = (target.frame(k), nearby_points(trainer.sample, k))
        key = (id(trainer.model), float(t))
        if key not in self._tokens:
            self._tokens = {key: _Token()}  # one moment at a time is tracked
        frame_target, points = self._frames[k]
        return Moment(trainer, t, frame_target, points, self._tokens[key])
