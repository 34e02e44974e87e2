"""A run frozen at one step: what drawing a frame reads of a trainer while the trainer trains on."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.images import PointSample, Target
from ..core.network import FrozenNetwork
from ..core.settings import RunConfig
from ..core.training import Losses, Trainer


@dataclass
class FrozenRun:
    """A trainer's run at one step, for the frame producer (output/frames.py), the live geometry and
    the clip movie: the network frozen (``model``: a FrozenNetwork), the picture and points, the
    losses measured then. ``source_model`` stands for the trainer's own network, the same from frame
    to frame (the live geometry follows a network by its identity)."""

    model: FrozenNetwork
    source_model: object
    step_count: int
    config: RunConfig
    target: Target
    sample: PointSample
    measured: Losses
    classes: object = None  # a classifier's ClassLabels (core/classes.py)
    out_dim: int = 1

    def losses(self) -> Losses:
        return self.measured

    @classmethod
    def of(cls, trainer: Trainer) -> "FrozenRun":
        """The trainer now (call it under the trainer's lock). Raises TrainingDiverged (from
        trainer.losses) when the network is no longer finite."""
        return cls(trainer.model.freeze(), trainer.model, int(trainer.step_count), trainer.config, trainer.target,
                   trainer.sample, trainer.losses(), trainer.classes, trainer.out_dim)
