"""Classification targets: classes read from a picture's colours, and labelled training points.

The colour rule: a pixel whose every channel is within ``TOLERANCE`` of one of
the ``PALETTE`` colours (eight distinct saturated colours), and whose
neighbours within ``EDGE_MARGIN`` pixels all do too, belongs to that class;
every other pixel (white, gray, black, and the blended pixels of anti-aliased
edges) is unlabelled and never sampled. The margin is there because a blend
between two palette colours can pass near a third (red and yellow blend
through orange): such a band along an edge is a few pixels wide and must not
become a class. A palette colour counts as a class only where it then covers
at least ``MIN_CLASS_PIXELS`` pixels.
Pure #FF0000, #00FF00 and #0000FF (the original tool's rule) are the first
three classes.

Class indices follow the palette order among the colours found, so a picture
of green and blue has class 0 = green and class 1 = blue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .images import PointSample, Target, pixel_to_point
from .settings import MAX_CLASSES, SettingError

PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0),      # red
    (0, 255, 0),      # green
    (0, 0, 255),      # blue
    (255, 255, 0),    # yellow
    (255, 0, 255),    # magenta
    (0, 255, 255),    # cyan
    (255, 128, 0),    # orange
    (128, 0, 255),    # violet
)
PALETTE_NAMES = ("red", "green", "blue", "yellow", "magenta", "cyan", "orange", "violet")
assert len(PALETTE) == len(PALETTE_NAMES) == MAX_CLASSES  # one palette colour per class a network may have
TOLERANCE = 40  # per channel, of 255: palette colours differ by at least 128 in some channel
EDGE_MARGIN = 2  # pixels: a blended band narrower than 2 * EDGE_MARGIN + 1 is never labelled
MIN_CLASS_PIXELS = 2048  # of the 1024x1024 target: 0.2 %
UNLABELLED = -1


class ClassError(SettingError):
    """A picture or a request that cannot make a classification run; ``field`` names the setting."""


@dataclass(frozen=True)
class ClassLabels:
    """The classes of a picture: a label per pixel (-1 unlabelled) and each class's colour and size."""

    labels: np.ndarray  # int8 (H, W)
    colors: tuple[tuple[int, int, int], ...]  # RGB of class k
    names: tuple[str, ...]
    pixels: tuple[int, ...]  # labelled pixels of class k

    @property
    def count(self) -> int:
        return len(self.colors)

    @property
    def labelled(self) -> int:
        return int(sum(self.pixels))

    def css_colors(self) -> list[str]:
        return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in self.colors]

    def summary(self) -> list[dict]:
        """What the page lists as the classes found: colour, name and pixel count."""
        return [{"color": css, "name": name, "pixels": n}
                for css, name, n in zip(self.css_colors(), self.names, self.pixels)]


def find_classes(target: Target) -> ClassLabels:
    """Label every pixel of an RGB target by the colour rule (module docstring).

    Raises ClassError (field ``image``) when fewer than two classes are found.
    """
    if target.channels != 3:
        raise ValueError("classes are read from a colour (RGB) target")
    rgb = target.to_uint8().astype(np.int16)
    palette = np.asarray(PALETTE, dtype=np.int16)
    # Palette colours are > 2*TOLERANCE apart in some channel, so at most one can match a pixel.
    labels = np.full(rgb.shape[:2], UNLABELLED, dtype=np.int8)
    found: list[int] = []
    counts: list[int] = []
    for k, colour in enumerate(palette):
        match = _erode(np.all(np.abs(rgb - colour) <= TOLERANCE, axis=2), EDGE_MARGIN)
        n = int(match.sum())
        if n >= MIN_CLASS_PIXELS:
            labels[match] = len(found)
            found.append(k)
            counts.append(n)
    if len(found) < 2:
        seen = ", ".join(f"{PALETTE_NAMES[k]} ({n:,} pixels)" for k, n in zip(found, counts)) or "none"
        raise ClassError(
            f"a classification picture needs at least 2 classes: areas of at least {MIN_CLASS_PIXELS:,} pixels "
            f"in distinct saturated colours ({', '.join(PALETTE_NAMES)}); found {seen}",
            field="image",
        )
    return ClassLabels(labels, tuple(PALETTE[k] for k in found), tuple(PALETTE_NAMES[k] for k in found), tuple(counts))


def view_classes(count: int, target: Target) -> ClassLabels:
    """The classes of a classifier shown on a picture that does not hold its classes (a network opened
    from a file, not trained here): the palette's first ``count`` colours, no pixel labelled."""
    if not 2 <= count <= MAX_CLASSES:
        raise ClassError(f"the page draws classifiers of 2 to {MAX_CLASSES} classes (one palette colour each); this "
                         f"network has {count} class scores", field="network")
    labels = np.full(target.values.shape[:2], UNLABELLED, dtype=np.int8)
    return ClassLabels(labels, PALETTE[:count], PALETTE_NAMES[:count], (0,) * count)


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels whose (2 radius + 1)^2 square neighbourhood lies wholly in ``mask``; past the picture's
    border counts as in (the border is not an edge between colours)."""
    out = mask.copy()
    for axis in (0, 1):
        step = out.copy()
        for d in range(1, radius + 1):
            shifted = np.ones_like(out)
            shifted_back = np.ones_like(out)
            if axis == 0:
                shifted[d:] = out[:-d]
                shifted_back[:-d] = out[d:]
            else:
                shifted[:, d:] = out[:, :-d]
                shifted_back[:, :-d] = out[:, d:]
            step &= shifted & shifted_back
        out = step
    return out


@dataclass(frozen=True)
class LabelledSample(PointSample):
    """A PointSample whose targets are class indices (int64, N) instead of brightness."""

    noisy: int = 0  # training labels flipped by label noise


def sample_labelled_points(classes: ClassLabels, train_points: int, val_points: int, seed: int,
                           label_noise: float = 0.0) -> LabelledSample:
    """Draw N + M distinct labelled pixels, reproducibly from ``seed``; with ``label_noise`` a
    seeded fraction of the training labels is replaced by another class (validation stays clean).

    Raises ClassError (field ``train_points``) when the picture has too few labelled pixels.
    """
    size = classes.labels.shape[0]
    flat_labels = classes.labels.reshape(-1)
    labelled = np.flatnonzero(flat_labels >= 0)
    wanted = train_points + val_points
    if wanted > labelled.size:
        raise ClassError(
            f"train_points + val_points = {wanted:,} is more than the {labelled.size:,} labelled pixels of the "
            "picture; ask for fewer points",
            field="train_points",
        )
    rng = np.random.default_rng(seed)
    flat = labelled[rng.choice(labelled.size, size=wanted, replace=False)]
    rows, cols = np.divmod(flat, size)
    pixels = np.stack([rows, cols], axis=1).astype(np.int64)
    points = pixel_to_point(rows, cols, size)
    y = flat_labels[flat].astype(np.int64)
    n = train_points
    train_y = y[:n].copy()
    noisy = 0
    if label_noise > 0:
        flip = rng.random(n) < label_noise
        # another class, uniformly: an offset of 1..K-1 never lands on the true one
        offset = rng.integers(1, classes.count, size=n)
        train_y[flip] = (train_y[flip] + offset[flip]) % classes.count
        noisy = int(flip.sum())
    return LabelledSample(pixels[:n], pixels[n:], points[:n], train_y, points[n:], y[n:].copy(), noisy=noisy)
