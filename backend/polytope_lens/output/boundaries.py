"""Region boundaries painted over a panel: the one drawing every panel's lines share.

A boundary pixel is painted when its right or lower neighbour lies in another region (each edge
on one side only), one pixel wide, and faded where lines crowd, by the painted pixels among its
3x3 neighbourhood (where regions are denser than pixels the panel would otherwise be solid
colour). The regression panels (render.py) and the class panels (classmap.py) both draw them.
"""

from __future__ import annotations

import numpy as np

from ..geometry.grid import GridPartition

# Opacity in eighths of a painted pixel, by how many painted pixels its 3x3 neighbourhood holds
# (itself included, 1 to 9). The page paints the same, with this table as GET /api/options publishes it.
FADE_EIGHTHS = (8, 8, 8, 8, 8, 8, 6, 5, 4, 3)


def boundary_lines(partition: GridPartition) -> np.ndarray:
    """The boundary pixels painted: ``partition.boundary`` less the pixels that differ only from their
    left or upper neighbour (that edge is painted on the other side). A boundary with no region
    change next to it (a movie's subsampled partition keeps those) is painted."""
    ids = partition.region_ids
    right = np.zeros(ids.shape, dtype=bool)
    right[:, :-1] = ids[:, :-1] != ids[:, 1:]
    down = np.zeros(ids.shape, dtype=bool)
    down[:-1, :] = ids[:-1, :] != ids[1:, :]
    left = np.zeros(ids.shape, dtype=bool)
    left[:, 1:] = right[:, :-1]
    up = np.zeros(ids.shape, dtype=bool)
    up[1:, :] = down[:-1, :]
    return partition.boundary & ~((left | up) & ~(right | down))


def line_opacity(lines: np.ndarray) -> np.ndarray:
    """Eighths of opacity of each painted pixel (FADE_EIGHTHS of the lines in its 3x3 neighbourhood)."""
    padded = np.pad(lines.astype(np.uint8), 1)
    h, w = lines.shape
    crowd = sum(padded[dr : dr + h, dc : dc + w] for dr in range(3) for dc in range(3))
    return np.asarray(FADE_EIGHTHS, dtype=np.uint16)[crowd]


def draw_boundaries(img: np.ndarray, partition: GridPartition, color) -> np.ndarray:
    """``img`` (uint8 R x R x 3) with the region boundaries painted in ``color``, one pixel wide and
    faded where they crowd: rgb = (rgb * (8 - a) + color * a + 4) // 8 for opacity a in eighths."""
    lines = boundary_lines(partition)
    out = img.copy()
    a = line_opacity(lines)[lines][:, None]
    base = img[lines].astype(np.uint16)
    out[lines] = ((base * (8 - a) + np.asarray(color, dtype=np.uint16) * a + 4) // 8).astype(np.uint8)
    return out
