"""Region churn from a weight history: how much of the square changed linear region between
two recorded steps.

At every recorded step each point of a grid over [-1, 1]² gets its activation pattern
(pre-activation > 0 per hidden neuron, as everywhere else); churn at a step is the fraction
of grid points whose pattern differs from the previous recorded step's: 0 when the partition
stood still, 1 when every point moved to another region. The first step has none (None).
"""

from __future__ import annotations

import time

import numpy as np

from ..core.network import FrozenNetwork, Network, layer_arrays
from ..geometry.grid import grid_points

CHURN_RESOLUTION = 64  # 4,096 points: ~1/4000 of the square per point


def patterns(network: Network, points: np.ndarray) -> np.ndarray:
    """(points, hidden neurons) bool: which neurons are on at each point."""
    h = points.astype(np.float64)
    bits = []
    for (W, b), slope in zip(layer_arrays(network, np.float64)[:-1], network.slopes):
        z = h @ W.T + b
        bits.append(z > 0)
        h = np.where(z > 0, z, slope * z)
    return np.concatenate(bits, axis=1)


def churn_series(history, meta: dict, resolution: int = CHURN_RESOLUTION, indices: list[int] | None = None,
                 deadline: float | None = None) -> list[float | None]:
    """Churn at each step of ``meta["steps"]`` of a run's weights.bin (its layout: output/runfolder.py; bytes or a
    memory map, read step by step), or at the recorded steps ``indices`` only (each compared with
    the one before it in ``indices``). Stops early, with a shorter series, past ``deadline``
    (time.monotonic())."""
    size = int(meta["bytes_per_step"])
    points = grid_points(resolution)
    series: list[float | None] = []
    previous = None
    for i in range(len(meta["steps"])) if indices is None else indices:
        if deadline is not None and time.monotonic() > deadline:
            break
        chunk = bytes(history[i * size:(i + 1) * size])
        if len(chunk) < size:
            break  # a run cut off mid-write
        current = patterns(FrozenNetwork.from_flat(chunk, meta["widths"], meta["out_dim"], meta.get("slopes", meta["negative_slope"])), points)
        series.append(None if previous is None else round(float(np.mean(np.any(current != previous, axis=1))), 6))
        previous = current
    return series
