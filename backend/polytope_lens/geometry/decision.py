"""Exact decision regions of a classifier: where each class wins, and the boundary between them.

Inside one linear region (exact.py) every class score is an affine function
``s_i(x) = A_i x + c_i``, so the set where class i wins there is the region's
polygon clipped by the half-planes ``s_i - s_k >= 0`` for every other class k:
a convex piece. The pieces of one class over all regions make its exact
decision region; the pieces of a region tile it, so all pieces' areas sum to
the box's area. A piece's edges that lie on a line ``s_i = s_k`` are the exact
decision boundary: straight segments, one set per linear region it crosses.

Ties: a point where two scores are equal belongs to both pieces' closures (it
is on the boundary); two classes with identical maps on a region (a
degenerate half-plane) go to the lower class index, so pieces never overlap.

Each boundary segment is reported once, by the piece of the lower class index
of the pair, with the two classes it separates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .exact import (
    SLIVER_AREA, SNAP_EPS, ExactPartition, PartitionTooLarge, clip_both, shoelace, snap, _vertex_mean,
)


@dataclass
class DecisionRegions:
    """Convex pieces where one class wins, and the boundary segments between classes.

    ``vertices`` (P, M, 2) padded as in ExactPartition, ``counts`` (P,), ``classes`` (P,) the
    winning class, ``regions`` (P,) the linear region each piece lies in. ``segments`` (S, 2, 2)
    endpoints, ``segment_classes`` (S, 2) the two classes (lower first), ``segment_regions`` (S,).
    """

    vertices: np.ndarray
    counts: np.ndarray
    classes: np.ndarray
    regions: np.ndarray
    segments: np.ndarray
    segment_classes: np.ndarray
    segment_regions: np.ndarray
    class_count: int
    region_count: int

    def areas(self) -> np.ndarray:
        return shoelace(self.vertices)

    def class_areas(self) -> np.ndarray:
        """Area of each class's decision region (K,)."""
        return np.bincount(self.classes, weights=self.areas(), minlength=self.class_count)

    def polygons(self) -> list[np.ndarray]:
        return [v[:k] for v, k in zip(self.vertices, self.counts)]

    def interior_points(self) -> np.ndarray:
        return _vertex_mean(self.vertices, self.counts)

    @property
    def boundary_length(self) -> float:
        if self.segments.shape[0] == 0:
            return 0.0
        return float(np.linalg.norm(self.segments[:, 1] - self.segments[:, 0], axis=1).sum())

    @property
    def regions_crossed(self) -> int:
        """Linear regions the decision boundary passes through."""
        return int(np.unique(self.segment_regions).size)

    def summary(self) -> dict:
        """The live and export figures: boundary length, regions crossed, pieces, class areas."""
        return {
            "boundary_length": round(self.boundary_length, 6),
            "boundary_regions": self.regions_crossed,
            "decision_pieces": int(self.counts.shape[0]),
            "class_areas": [round(float(a), 6) for a in self.class_areas()],
        }


def decision_regions(partition: ExactPartition) -> DecisionRegions:
    """Clip every linear region of a complete partition by its classes' half-planes (module docstring)."""
    if not partition.complete:
        raise ValueError("decision regions need the network's output: use the partition of all hidden layers")
    A, c = partition.A, partition.c  # (R, K, 2), (R, K)
    R, K = c.shape
    if K < 2:
        raise ValueError("decision regions need a classifier with at least 2 outputs")
    x0, x1, y0, y1 = partition.box
    eps = SNAP_EPS * max(x1 - x0, y1 - y0)
    sliver = SLIVER_AREA * (x1 - x0) * (y1 - y0)
    pieces_V, pieces_n, pieces_cls, pieces_reg = [], [], [], []
    segs, seg_cls, seg_reg = [], [], []
    for i in range(K):
        V, n, reg = partition.vertices, partition.counts, np.arange(R)
        for k in range(K):
            if k == i or V.shape[0] == 0:
                continue
            a = A[reg, i] - A[reg, k]
            b = c[reg, i] - c[reg, k]
            norm = np.hypot(a[:, 0], a[:, 1])
            s = V @ a[:, :, None]
            s = s[..., 0] + b[:, None]
            flat = norm <= 1e-300
            # a degenerate half-plane: the whole region or none of it (ties to the lower index)
            whole = flat & ((b > 0) | ((b == 0) & (i < k)))
            s = np.where(flat[:, None], np.where(whole, 1.0, -1.0)[:, None], s)
            snap(s, eps * np.where(flat, 0.0, norm))
            pos_V, pos_n, _, _ = clip_both(V, n, s)
            keep = (pos_n >= 3) & (shoelace(pos_V) > sliver)
            V, n, reg = pos_V[keep], pos_n[keep], reg[keep]
        if V.shape[0] == 0:
            continue
        pieces_V.append(V)
        pieces_n.append(n)
        pieces_cls.append(np.full(n.shape[0], i))
        pieces_reg.append(reg)
        # Edges of a piece on a line s_i = s_k (k > i: each segment once) are boundary segments.
        for k in range(i + 1, K):
            a = A[reg, i] - A[reg, k]
            b = c[reg, i] - c[reg, k]
            tol = 1e-9 * (np.hypot(a[:, 0], a[:, 1]) + np.abs(b))  # rounding of vertices on the line
            s = (V @ a[:, :, None])[..., 0] + b[:, None]
            on = np.abs(s) <= tol[:, None]
            slot = np.arange(V.shape[1])
            nxt = np.where(slot[None, :] + 1 < n[:, None], slot[None, :] + 1, 0)
            rows = np.arange(V.shape[0])[:, None]
            edge = on & on[rows, nxt] & (slot[None, :] < n[:, None])
            pr, pm = np.nonzero(edge)
            if pr.size == 0:
                continue
            p, q = V[pr, pm], V[pr, nxt[pr, pm]]
            long_enough = np.linalg.norm(q - p, axis=1) > eps
            pr, p, q = pr[long_enough], p[long_enough], q[long_enough]
            segs.append(np.stack([p, q], axis=1))
            seg_cls.append(np.stack([np.full(pr.size, i), np.full(pr.size, k)], axis=1))
            seg_reg.append(reg[pr])
    M = max((v.shape[1] for v in pieces_V), default=3)
    padded = [np.concatenate([v, np.repeat(v[:, :1], M - v.shape[1], axis=1)], axis=1) for v in pieces_V]
    return DecisionRegions(
        vertices=np.concatenate(padded) if padded else np.zeros((0, 3, 2)),
        counts=np.concatenate(pieces_n) if pieces_n else np.zeros(0, dtype=np.int64),
        classes=np.concatenate(pieces_cls) if pieces_cls else np.zeros(0, dtype=np.int64),
        regions=np.concatenate(pieces_reg) if pieces_reg else np.zeros(0, dtype=np.int64),
        segments=np.concatenate(segs) if segs else np.zeros((0, 2, 2)),
        segment_classes=np.concatenate(seg_cls) if seg_cls else np.zeros((0, 2), dtype=np.int64),
        segment_regions=np.concatenate(seg_reg) if seg_reg else np.zeros(0, dtype=np.int64),
        class_count=K,
        region_count=R,
    )


def softmax(scores: np.ndarray) -> np.ndarray:
    z = np.asarray(scores, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def region_classes(inspection: dict, colors: list[str] | None = None, decimals: int = 9) -> dict:
    """The inspector's classification view of one region (``inspection.inspect_point``'s answer):
    per-class maps, scores and softmax at the point (and by autograd), the winner there, and the
    convex piece of the region where each class wins."""
    A = np.asarray(inspection["A"], dtype=np.float64)
    c = np.asarray(inspection["c"], dtype=np.float64)
    polygon = np.asarray(inspection["polygon"], dtype=np.float64)
    xs, ys = polygon[:, 0], polygon[:, 1]
    box = (float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max()))
    part = ExactPartition(polygon[None], np.array([polygon.shape[0]]), np.zeros((1, 0), dtype=bool),
                          A[None], c[None], box, (), complete=True)
    decision = decision_regions(part)
    scores = np.asarray(inspection["output"], dtype=np.float64)
    probs = softmax(scores)
    auto = softmax(np.asarray(inspection["autograd"]["output"], dtype=np.float64))
    r = lambda a: np.round(a, decimals).tolist()  # noqa: E731
    return {
        "maps": [{"class": k, "color": colors[k] if colors and k < len(colors) else None,
                  "A": r(A[k]), "c": round(float(c[k]), decimals)} for k in range(A.shape[0])],
        "scores": r(scores),
        "softmax": r(probs),
        "autograd_softmax": r(auto),
        "max_softmax_diff": float(np.max(np.abs(probs - auto))),
        "winner": int(np.argmax(scores)),
        "pieces": [{"class": int(k), "polygon": r(poly), "area": round(float(a), 12)}
                   for poly, k, a in zip(decision.polygons(), decision.classes, decision.areas())],
        "boundary": r(decision.segments),
    }


def decision_json(decision: DecisionRegions, colors: list[str] | None = None, decimals: int = 9) -> dict:
    """``regions.json``'s ``decision`` member: the pieces (polygon, class, area, linear region), each
    class's area, the boundary segments with the classes they separate, and the summary figures."""
    def r(a):
        return np.round(a, decimals).tolist()

    return {
        "polygons": [r(p) for p in decision.polygons()],
        "classes": decision.classes.tolist(),
        "areas": r(decision.areas()),
        "regions": decision.regions.tolist(),
        "class_areas": r(decision.class_areas()),
        "class_colors": list(colors) if colors else None,
        "boundary": r(decision.segments),
        "boundary_classes": decision.segment_classes.tolist(),
        "boundary_length": round(decision.boundary_length, decimals),
        "boundary_regions": decision.regions_crossed,
    }


def decision_svg(decision: DecisionRegions, box, size: int, colors: list[str] | None = None) -> str:
    """SVG elements to lay over a partition drawing: each class's pieces tinted in its colour and
    the exact decision boundary as a heavy line (y flipped as in export.partition_svg)."""
    x0, x1, y0, y1 = box
    sx, sy = size / (x1 - x0), size / (y1 - y0)

    def xy(p) -> str:
        return f"{(p[0] - x0) * sx:.2f},{(y1 - p[1]) * sy:.2f}"

    out = ['<g fill-opacity="0.35" stroke="none">']
    for poly, cls in zip(decision.polygons(), decision.classes.tolist()):
        fill = colors[cls] if colors and cls < len(colors) else "#808080"
        out.append(f'<path d="M{" L".join(xy(p) for p in poly)}Z" fill="{fill}"/>')
    out.append(f'</g><g stroke="#000000" stroke-width="{max(2.0, size / 256):g}" stroke-linecap="round" fill="none">')
    if decision.segments.shape[0]:
        out.append('<path d="' + "".join(f"M{xy(a)} L{xy(b)}" for a, b in decision.segments) + '"/>')
    out.append("</g>")
    return "".join(out)


def with_decision_overlay(svg: str | bytes, overlay: str) -> str | bytes:
    """Insert ``overlay`` just before the closing ``</svg>`` of a drawing."""
    if isinstance(svg, bytes):
        return svg[: svg.rindex(b"</svg>")] + overlay.encode() + b"</svg>"
    return svg[: svg.rindex("</svg>")] + overlay + "</svg>"


__all__ = ["DecisionRegions", "decision_regions", "decision_json", "decision_svg", "with_decision_overlay",
           "PartitionTooLarge"]
