"""Time in a clip: the t of each frame over [-1, 1], and the frame nearest a t.

Both a clip's loading (core/clips.py) and its sampling (core/images.py) need these, so they sit
below both. The page's drawing/cliptime.js rounds the same way.
"""

from __future__ import annotations

import numpy as np


def frame_times(count: int) -> np.ndarray:
    """t of each of ``count`` frames: evenly over [-1, 1] (0 for a single frame)."""
    if count <= 1:
        return np.zeros(max(count, 1), dtype=np.float64)
    return np.linspace(-1.0, 1.0, count)


def nearest_frame(t: float, count: int) -> int:
    """The frame whose time is nearest to ``t`` (clamped to the clip)."""
    if count <= 1:
        return 0
    # halves round up, as the page's Math.round (frontend/drawing/cliptime.js): both show the same frame
    return int(np.clip(np.floor((float(t) + 1.0) / 2.0 * (count - 1) + 0.5), 0, count - 1))
