"""A plane through many inputs: a D-input network seen on the square [-1, 1]².

A plane is input = origin + x·u + y·v. On it the first layer is
W·(origin + x·u + y·v) + b = (W·[u v])·(x, y) + (b + W·origin), so the network restricted to the
plane is an ordinary 2-input network: ``fold_plane`` writes that identity once (as slices.py
folds a clip's t into the first bias), and every exact tool — partition, counts, inspector,
decision regions, the grid, the renderer — applies to it unchanged.

``plane_through`` puts three points (rows of a data file) on the square: the plane through them,
u and v orthogonal and of equal length (so the picture is not sheared or stretched), scaled so that
the three points lie inside [-1 + margin, 1 - margin]².
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..core.network import FrozenNetwork, Network, freeze, layer_arrays

DEFAULT_MARGIN = 0.2  # the three points lie within [-0.8, 0.8]²


@dataclass(frozen=True, eq=False)
class Plane:
    """input = origin + x·u + y·v (float64 vectors of the network's input size)."""

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray

    def __post_init__(self):
        for field in ("origin", "u", "v"):
            value = np.array(getattr(self, field), dtype=np.float64).reshape(-1)
            value.setflags(write=False)
            object.__setattr__(self, field, value)
        if not (self.origin.size == self.u.size == self.v.size) or self.origin.size < 2:
            raise ValueError(f"origin, u and v must have one size of 2 or more, not {self.origin.size}, "
                             f"{self.u.size}, {self.v.size}")
        if not all(np.all(np.isfinite(a)) for a in (self.origin, self.u, self.v)):
            raise ValueError("a plane's origin, u and v must be finite")
        if np.linalg.matrix_rank(np.stack([self.u, self.v])) < 2:
            raise ValueError("u and v of a plane must not be parallel")

    @property
    def dim(self) -> int:
        return int(self.origin.size)

    def inputs(self, xy: np.ndarray) -> np.ndarray:
        """The network inputs (N, D) at plane coordinates (N, 2)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return self.origin + xy[:, :1] * self.u + xy[:, 1:] * self.v

    def coordinates(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the points' projections onto the plane (N, 2) and their distances to it (N,)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, self.dim)
        basis = np.stack([self.u, self.v], axis=1)  # (D, 2)
        xy, *_ = np.linalg.lstsq(basis, (points - self.origin).T, rcond=None)
        xy = xy.T
        distance = np.linalg.norm(points - self.inputs(xy), axis=1)
        return xy, distance

    def to_json(self) -> dict:
        return {"origin": self.origin.tolist(), "u": self.u.tolist(), "v": self.v.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "Plane":
        return cls(data["origin"], data["u"], data["v"])


def default_plane(dim: int) -> Plane:
    """The plane of the first two inputs, every other input 0 (a view before a data file is given)."""
    origin, u, v = np.zeros(dim), np.zeros(dim), np.zeros(dim)
    u[0], v[1] = 1.0, 1.0
    return Plane(origin, u, v)


def plane_through(points: np.ndarray, rows: Sequence[int] = (0, 1, 2), margin: float = DEFAULT_MARGIN) -> Plane:
    """The plane through three rows of ``points`` (N, D), the square [-1, 1]² mapped onto it so that
    all three lie inside [-1 + margin, 1 - margin]² (u ⟂ v, |u| = |v|)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2:
        raise ValueError(f"points must be rows (N x D), not an array of shape {points.shape}")
    rows = [int(r) for r in rows]
    if len(rows) != 3 or len(set(rows)) != 3:
        raise ValueError(f"a plane needs three different rows, not {rows}")
    for r in rows:
        if not 0 <= r < points.shape[0]:
            raise ValueError(f"row {r} is not in the data file's {points.shape[0]} rows")
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must be in [0, 1), not {margin}")
    p1, p2, p3 = points[rows]
    a = p2 - p1
    if np.linalg.norm(a) == 0:
        raise ValueError(f"rows {rows[0]} and {rows[1]} are the same point: no plane through them")
    e1 = a / np.linalg.norm(a)
    c = p3 - p1
    c_perp = c - (c @ e1) * e1
    scale_ref = max(np.linalg.norm(a), np.linalg.norm(c))
    if np.linalg.norm(c_perp) <= 1e-9 * scale_ref:
        raise ValueError(f"rows {rows} lie on one line: no plane through them")
    e2 = c_perp / np.linalg.norm(c_perp)
    xy = np.array([[0.0, 0.0], [np.linalg.norm(a), 0.0], [c @ e1, np.linalg.norm(c_perp)]])
    low, high = xy.min(axis=0), xy.max(axis=0)
    centre = (low + high) / 2
    half = float(np.max(high - low)) / 2 / (1.0 - margin)  # the points' box fills [-1+margin, 1-margin]
    return Plane(p1 + centre[0] * e1 + centre[1] * e2, half * e1, half * e2)


def fold_plane(network: Network, plane: Plane) -> FrozenNetwork:
    """The 2-input network on the plane: the first layer becomes (W·[u v], b + W·origin) in float64,
    every later layer, the activations and the task are unchanged."""
    network = freeze(network)
    layers = layer_arrays(network)
    W, b = layers[0]
    if W.shape[1] != plane.dim:
        raise ValueError(f"the plane lies in {plane.dim} dimensions, the network takes {W.shape[1]} inputs")
    W64 = W.astype(np.float64)
    folded = (W64 @ np.stack([plane.u, plane.v], axis=1), b.astype(np.float64) + W64 @ plane.origin)
    return network.with_layers([folded, *layers[1:]])
