"""How the panels are painted, as one set of facts: what GET /api/options publishes ("drawing",
"point_colors") for the page, and what the notebook widget (notebook/lens.py) embeds in its front end,
so that every painter paints with the same numbers (docs/protocol.md)."""

from __future__ import annotations

from pydantic import BaseModel

from .boundaries import FADE_EIGHTHS
from .classmap import CLASS_REGION_EDGE, DECISION_COLOR, LIGHTEST, UNLABELLED_FADE, VAL_POINT_COLOR
from .moments import NEARBY_FRAMES
from .render import BOUNDARY_COLOR, REGION_EDGE_COLOR, TRAIN_COLOR, VAL_COLOR

RGB = tuple[int, int, int]


class DrawingFacts(BaseModel):
    """How the server paints its panels, so that the page paints its own the same (docs/protocol.md)."""

    boundary_fade_eighths: tuple[int, ...]  # a painted boundary pixel's opacity by the painted pixels among its 3x3
    boundary_color: RGB  # boundaries over the prediction
    region_edge_color: RGB  # boundaries between filled regions
    class_region_edge_color: RGB  # region boundaries over a class map
    decision_color: RGB  # a classifier's decision boundary
    class_val_point_color: RGB  # a classifier's validation points
    class_lightest: float  # share of the class colour at the lowest confidence (1/K)
    unlabelled_fade: float  # a classifier's target picture, faded towards white under its points
    nearby_frames: int  # a clip's target at frame k shows the points of frames k-n..k+n


DRAWING = DrawingFacts(
    boundary_fade_eighths=FADE_EIGHTHS,
    boundary_color=BOUNDARY_COLOR,
    region_edge_color=REGION_EDGE_COLOR,
    class_region_edge_color=CLASS_REGION_EDGE,
    decision_color=DECISION_COLOR,
    class_val_point_color=VAL_POINT_COLOR,
    class_lightest=LIGHTEST,
    unlabelled_fade=UNLABELLED_FADE,
    nearby_frames=NEARBY_FRAMES,
)


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


POINT_COLORS = {"train": _hex(TRAIN_COLOR), "val": _hex(VAL_COLOR)}  # "#rrggbb" of the training and validation points
