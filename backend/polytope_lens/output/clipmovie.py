"""A clip's network over time: the learnt clip beside the original, and the partition of each moment.

One movie frame per frame of the clip, at its time t: the three panels of output/render.py
(partition of the slice at t, the prediction at t, the clip's frame with the points of the
frames next to it), drawn by the same FrameProducer as every other frame. The exact region count
of each slice comes with it (geometry/slices.py): ``counts_over_time``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.cliptime import frame_times
from ..core.settings import ViewSettings
from ..core.training import Trainer
from ..geometry.exact import region_counts_per_layer
from ..core.network import Network
from ..geometry.slices import slice_weights
from ..geometry.grid import compute_partition
from .frames import Frame, FrameProducer
from .frozen import FrozenRun
from .movie import movie_bytes, write_movie


def counts_over_time(model: Network, times, max_regions: int | None = None) -> list[int]:
    """Exact region count of the slice at each t of ``times`` (a 2-input model: the same count each time)."""
    return [region_counts_per_layer(slice_weights(model, float(t)), max_regions=max_regions)[-1] for t in times]


def clip_pictures(trainer, view: ViewSettings, losses=None) -> list:
    """The three-panel picture at the time of every frame of the trainer's clip (``trainer``: a
    Trainer, or a frozen copy of one: ``frozen_copy``, a FrozenRun)."""
    producer = FrameProducer()
    losses = losses or trainer.losses()
    pictures = []
    for t in frame_times(trainer.target.frame_count):
        seen = producer.moments.at(trainer, float(t))
        partition = compute_partition(seen.model, view.resolution)
        frame = Frame(int(trainer.step_count), losses, partition, {}, t=float(t))
        pictures.append(producer.picture(trainer, frame, view))
    return pictures


def frozen_copy(trainer: Trainer) -> FrozenRun:
    """What ``clip_pictures`` reads of a trainer, frozen (call it under the trainer's lock; the
    copy is then drawn from on another thread while training goes on)."""
    return FrozenRun.of(trainer)


def clip_movie_bytes(frozen, losses, view: ViewSettings) -> tuple[bytes, str, str]:
    """The learnt clip of a frozen copy as a movie in memory: (bytes, mime type, extension)."""
    times = frame_times(frozen.target.frame_count)
    duration = frozen.target.duration_s or 0.1 * len(times)
    return movie_bytes(clip_pictures(frozen, view, losses), fps=max(1.0, min(30.0, len(times) / duration)))


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
