"""Pictures of a classifier: the class map shaded by confidence, its decision boundary, labelled points.

Panel colours: each pixel takes its winning class's colour, mixed with white
by the confidence (the winner's softmax probability, from 1/K = white-ish to
1 = the full colour). The decision boundary is where the winning class
changes between neighbouring pixels, drawn ``DECISION_WIDTH`` pixels wide in
``DECISION_COLOR`` over the thin region boundaries. (The exact boundary, as
straight segments, is geometry/decision.py's; this is its picture on the grid.)
"""

from __future__ import annotations

import numpy as np

from ..core.classes import ClassLabels
from ..core.images import PointSample, Target
from ..geometry.grid import GridPartition
from .boundaries import draw_boundaries

DECISION_COLOR = (0, 0, 0)
DECISION_WIDTH = 3
CLASS_REGION_EDGE = (95, 95, 95)  # region boundaries over a class map: visible on every palette colour
LIGHTEST = 0.3  # share of the class colour at the lowest confidence (1/K)
UNLABELLED_FADE = 0.55  # the target panel's picture is faded so the points stand out
VAL_POINT_COLOR = (0, 0, 0)


def softmax_confidence(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Winning class (R, R) and its softmax probability (R, R) of scores (R, R, K)."""
    z = scores.astype(np.float64)
    winner = z.argmax(axis=2)
    top = np.take_along_axis(z, winner[..., None], axis=2)
    prob = 1.0 / np.exp(z - top).sum(axis=2)
    return winner, prob


def class_map_rgb(scores: np.ndarray, colors, confidence: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """uint8 (R, R, 3): the winner's colour, mixed with white by the confidence (``confidence``:
    ``softmax_confidence(scores)`` when the caller has it already)."""
    K = scores.shape[2]
    winner, prob = confidence if confidence is not None else softmax_confidence(scores)
    palette = np.asarray(colors, dtype=np.float64)
    t = np.clip((prob - 1.0 / K) / (1.0 - 1.0 / K), 0.0, 1.0)
    share = (LIGHTEST + (1.0 - LIGHTEST) * t)[..., None]
    rgb = palette[winner] * share + 255.0 * (1.0 - share)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def decision_mask(winner: np.ndarray, width: int = DECISION_WIDTH) -> np.ndarray:
    """Pixels next to a change of the winning class, widened to about ``width`` pixels."""
    edge = np.zeros(winner.shape, dtype=bool)
    dx = winner[:, 1:] != winner[:, :-1]
    dy = winner[1:, :] != winner[:-1, :]
    edge[:, 1:] |= dx
    edge[1:, :] |= dy
    for _ in range(max(0, width - 1) // 2):
        grown = edge.copy()
        grown[1:, :] |= edge[:-1, :]
        grown[:-1, :] |= edge[1:, :]
        grown[:, 1:] |= edge[:, :-1]
        grown[:, :-1] |= edge[:, 1:]
        edge = grown
    return edge


def class_partition_rgb(partition: GridPartition, colors, fill_regions: bool = False,
                        show_boundaries: bool = True) -> np.ndarray:
    """Panel 1 of a classifier: the class map (or region colours) with region boundaries thin and
    the decision boundary heavy over them."""
    img = partition.color_image().copy() if fill_regions else class_map_rgb(partition.prediction, colors)
    if show_boundaries:
        img = draw_boundaries(img, partition, CLASS_REGION_EDGE)
    winner, _ = softmax_confidence(partition.prediction)
    img[decision_mask(winner)] = DECISION_COLOR
    return img


def labelled_target_rgb(target: Target, classes: ClassLabels, sample: PointSample | None, size: int) -> np.ndarray:
    """Panel 3 of a classifier: the picture faded, training points in their (possibly noisy) label's
    colour, validation points black."""
    from PIL import Image

    pil = target.to_pil().convert("RGB")
    if pil.size != (size, size):
        pil = pil.resize((size, size), Image.Resampling.BOX)
    img = np.asarray(pil).astype(np.float64)
    img = np.rint(img * (1 - UNLABELLED_FADE) + 255.0 * UNLABELLED_FADE).astype(np.uint8)
    if sample is None:
        return img
    scale = size / target.values.shape[0]
    palette = np.asarray(classes.colors, dtype=np.uint8)
    dot = 2 if size >= 512 else 1
    for pixels, colours in ((sample.train_pixels, palette[np.asarray(sample.train_y, dtype=np.int64)]),
                            (sample.val_pixels, np.broadcast_to(np.asarray(VAL_POINT_COLOR, np.uint8), (len(sample.val_pixels), 3)))):
        rows = np.minimum((pixels[:, 0] * scale).astype(np.int64), size - 1)
        cols = np.minimum((pixels[:, 1] * scale).astype(np.int64), size - 1)
        for dr in range(dot):
            for dc in range(dot):
                img[np.minimum(rows + dr, size - 1), np.minimum(cols + dc, size - 1)] = colours
    return img
