"""A network opened for viewing: the file's network, and the 2-input network the tools show.

A 2-input network is shown as it is, on the square [-1, 1]². A D-input one is shown on a plane
(geometry/plane.py): through three rows of a data file when one is given, else the plane of its
first two inputs (every other input 0); the plane's map is folded into the first layer, so the
shown network is an ordinary 2-input one, and the three points are kept as marks on the square.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..core.network import FrozenNetwork
from ..geometry.plane import DEFAULT_MARGIN, Plane, default_plane, fold_plane, plane_through
from .refusal import NetworkRefused


@dataclass(frozen=True, eq=False)
class OpenedNetwork:
    network: FrozenNetwork  # as the file holds it (D inputs)
    shown: FrozenNetwork  # the 2-input network every tool reads
    name: str = "network"
    plane: Plane | None = None  # None for a 2-input network
    marks: tuple[tuple[float, float], ...] = ()  # the plane's three points on the square
    rows: tuple[int, ...] = ()  # their rows in the data file
    notes: tuple[str, ...] = field(default=())

    @property
    def cannot_train(self) -> str | None:
        """Why a picture cannot train it here (a D-input network: its picture would be the plane's)."""
        if self.network.in_dim == 2:
            return None
        return (f"it takes {self.network.in_dim} inputs and is shown on a plane through them; a picture gives "
                "2 (x, y), so it is shown, not trained")

    def summary(self) -> dict:
        """What the page and REST show of it: sizes, layers, the activation of each hidden layer."""
        net = self.network
        return {
            "name": self.name,
            "in_dim": net.in_dim,
            "out_dim": net.out_dim,
            "layers": list(net.widths),
            "slopes": [float(s) for s in net.slopes],
            "activations": [activation_name(s) for s in net.slopes],
            "task": net.task,
            "parameters": int(sum(W.size + b.size for W, b in net.affine_layers())),
            "plane": self.plane.to_json() if self.plane is not None else None,
            "marks": [list(m) for m in self.marks],
            "rows": list(self.rows),
            "trainable_on_pictures": self.cannot_train is None,
        }

    def regions_fields(self, source: str) -> tuple[dict, list[str] | None]:
        """What the regions document of this network adds to the partition (``polytope-lens regions
        FILE`` and ``polytope_lens.partition(...).to_json()`` write the same): the file's name, the
        network as the file holds it, the plane, its points on the square and their rows; and the
        class colours of a classifier (the page's palette; None past it: no decision regions)."""
        from ..core.classes import PALETTE

        shown = self.shown
        classes = None
        if shown.task == "classify" and shown.out_dim <= len(PALETTE):  # its decision regions, in the palette's colours
            classes = ["#{:02x}{:02x}{:02x}".format(*c) for c in PALETTE[:shown.out_dim]]
        summary = self.summary()
        extra = {"source": source, "network": {k: summary[k] for k in (
            "in_dim", "out_dim", "layers", "slopes", "activations", "task")}}
        if self.plane is not None:
            extra.update(plane=self.plane.to_json(), marks=summary["marks"], rows=summary["rows"])
        return extra, classes


def activation_name(slope: float) -> str:
    return "relu" if slope == 0 else f"leaky_relu({slope:g})"


def open_view(network: FrozenNetwork, name: str = "network", points: np.ndarray | None = None,
              rows: Sequence[int] = (0, 1, 2), margin: float = DEFAULT_MARGIN) -> OpenedNetwork:
    """``network`` ready to show: itself when it has 2 inputs (points are then refused), else folded
    onto the plane through ``rows`` of ``points`` (or the plane of its first two inputs)."""
    if network.in_dim == 2:
        if points is not None:
            raise NetworkRefused(f"{name} takes 2 inputs and is shown on the square itself; a plane through points "
                                 "is for networks of more inputs", "points")
        return OpenedNetwork(network, network, name)
    if points is None:
        plane = default_plane(network.in_dim)
        return OpenedNetwork(network, fold_plane(network, plane), name, plane,
                             notes=("no points given: the plane of the first two inputs, every other input 0",))
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != network.in_dim:
        raise NetworkRefused(f"the points have {points.shape[-1]} columns; the network takes {network.in_dim} inputs",
                             "points")
    try:
        plane = plane_through(points, rows, margin)
    except ValueError as exc:
        raise NetworkRefused(f"points: {exc}", "rows") from None
    xy, _ = plane.coordinates(points[list(rows)])
    marks = tuple((round(float(x), 9), round(float(y), 9)) for x, y in xy)
    return OpenedNetwork(network, fold_plane(network, plane), name, plane, marks, tuple(int(r) for r in rows))
