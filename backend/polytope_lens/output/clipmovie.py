"""A clip's network over time: the learnt clip beside the original, and the partition of each moment.

One movie frame per frame of the clip, at its time t: the three panels of output/render.py
(partition of the slice at t, the prediction at t, the clip's frame with the points of the
frames next to it), drawn by the same FrameProducer as every other frame. The exact region count
of each slice comes with it (geometry/slices.py): ``counts_over_time``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.clips import frame_times
from ..core.settings import ViewSettings
from ..core.training import Trainer
from ..geometry.exact import region_counts_per_layer
from ..geometry.slices import slice_weights
from ..geometry.weights import WeightsSnapshot
from .frames import FrameProducer
from .movie import write_movie


def counts_over_time(model, times, max_regions: int | None = None) -> list[int]:
    """Exact region count of the slice at each t of ``times`` (a 2-input model: the same count each time)."""
    arrays = WeightsSnapshot(model).arrays()
    return [region_counts_per_layer(slice_weights(arrays, float(t)), max_regions=max_regions)[-1] for t in times]


def clip_pictures(trainer: Trainer, view: ViewSettings) -> list:
    """The three-panel picture at the time of every frame of the trainer's clip."""
    producer = FrameProducer()
    pictures = []
    for t in frame_times(trainer.target.frame_count):
        frame = producer.frame(trainer, view.resolution, live=False, t=float(t))
        pictures.append(producer.picture(trainer, frame, view))
    return pictures


def write_clip_movie(trainer: Trainer, path: str | Path, view: ViewSettings) -> tuple[Path, list[dict]]:
    """Write the learnt clip (movie of ``clip_pictures``, at the clip's own speed) and return it with
    the exact count of each moment: [{"frame", "t", "exact_regions"}]."""
    times = frame_times(trainer.target.frame_count)
    duration = trainer.target.duration_s or 0.1 * len(times)
    fps = max(1.0, min(30.0, len(times) / duration))
    written = write_movie(clip_pictures(trainer, view), path, fps=fps)
    counts = counts_over_time(trainer.model, times)
    rows = [{"frame": k, "t": round(float(t), 6), "exact_regions": int(n)} for k, (t, n) in enumerate(zip(times, counts))]
    return written, rows


def count_range(rows: list[dict]) -> tuple[int, int]:
    values = np.array([r["exact_regions"] for r in rows])
    return int(values.min()), int(values.max())
