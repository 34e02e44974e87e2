"""The region inspector: one region as inequalities, its local affine map, an autograd cross-check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..core.network import Network, layer_arrays
from .exact import DEFAULT_BOX, SNAP_EPS, check_box, clip_both, numpy_layers, shoelace, snap
from .patterns import pattern_strings

# ---------------------------------------------------------------------------
# Inspector: the inequalities of one region
# ---------------------------------------------------------------------------


@dataclass
class RegionInfo:
    """One region as the intersection of one half-plane per hidden neuron (and the box).

    Neuron j's inequality is ``sign[j] * (a[j] @ x + b[j]) > 0`` for on
    (sign +1) and ``a[j] @ x + b[j] <= 0`` for off (sign -1). ``binding[j]``
    marks the neurons whose line carries an edge of the polygon (the others are
    redundant); ``box_binding`` does the same for the box sides (left, right,
    bottom, top). ``A`` (out, 2) is the gradient of the output, ``c`` its offset.
    """

    pattern: np.ndarray
    a: np.ndarray
    b: np.ndarray
    sign: np.ndarray
    binding: np.ndarray
    box_binding: np.ndarray
    polygon: np.ndarray
    area: float
    edge_count: int
    A: np.ndarray
    c: np.ndarray
    widths: tuple[int, ...]

    def to_json(self, decimals: int | None = 9) -> dict:
        def r(x):
            return (np.round(x, decimals) if decimals is not None else x).tolist()

        return {
            "pattern": pattern_strings(self.pattern[None], self.widths)[0],
            "a": r(self.a), "b": r(self.b), "sign": self.sign.tolist(),
            "binding": self.binding.tolist(), "box_binding": self.box_binding.tolist(),
            "polygon": r(self.polygon), "area": float(self.area), "edge_count": self.edge_count,
            "A": r(self.A), "c": r(self.c),
        }


def region_inequalities(model: Network, pattern_or_point, box: Sequence[float] = DEFAULT_BOX,
                        tol: float = 1e-9) -> RegionInfo:
    """Inequalities, polygon and local affine map of one region.

    ``pattern_or_point`` is a point (x, y), or a pattern: bool/0-1 array of all
    hidden neurons, or a string such as '0110|1001' (separators ignored). A
    pattern that no point of the box has gives an empty polygon and area 0.
    """
    layers, slopes = numpy_layers(model)
    box = check_box(box)
    widths = tuple(W.shape[0] for W, _ in layers[:-1])
    pattern, point = _parse_pattern_or_point(pattern_or_point, sum(widths))
    A, c = np.eye(2), np.zeros(2)
    a_all, b_all, bits = [], [], []
    start = 0
    for (W, b), slope in zip(layers[:-1], slopes):
        P, qv = W @ A, W @ c + b
        on = (P @ point + qv > 0) if pattern is None else pattern[start: start + W.shape[0]]
        start += W.shape[0]
        gain = np.where(on, 1.0, slope)
        a_all.append(P)
        b_all.append(qv)
        bits.append(np.asarray(on, dtype=bool))
        A, c = P * gain[:, None], qv * gain
    W, b = layers[-1]
    a = np.concatenate(a_all) if a_all else np.zeros((0, 2))
    bv = np.concatenate(b_all) if b_all else np.zeros(0)
    bits = np.concatenate(bits) if bits else np.zeros(0, dtype=bool)
    sign = np.where(bits, 1, -1)

    x0, x1, y0, y1 = box
    poly = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    scale = max(x1 - x0, y1 - y0)
    norm = np.hypot(a[:, 0], a[:, 1])
    for j in range(a.shape[0]):  # one polygon: a loop over neurons is cheap here
        if poly.shape[0] == 0:
            break
        s = sign[j] * (poly @ a[j] + bv[j])
        s = snap(s[None], np.array([SNAP_EPS * scale * norm[j]]))[0]
        poly = _clip_one(poly, s, strict=bool(bits[j]))

    # A line binds when at least two polygon vertices lie on it (it carries an edge).
    if poly.shape[0] >= 3:
        on_line = np.abs(poly @ a.T + bv) <= tol * scale * np.maximum(norm, 1e-300)
        binding = (on_line.sum(axis=0) >= 2) & (norm > 0)
        sides = np.stack([np.abs(poly[:, 0] - x0), np.abs(poly[:, 0] - x1),
                          np.abs(poly[:, 1] - y0), np.abs(poly[:, 1] - y1)], axis=1)
        box_binding = (sides <= tol * scale).sum(axis=0) >= 2
        area = float(shoelace(poly))
    else:
        poly = np.zeros((0, 2))
        binding = np.zeros(a.shape[0], dtype=bool)
        box_binding = np.zeros(4, dtype=bool)
        area = 0.0
    return RegionInfo(bits, a, bv, sign, binding, box_binding, poly, area, int(poly.shape[0]),
                      W @ A, W @ c + b, widths)


def _clip_one(poly: np.ndarray, s: np.ndarray, strict: bool) -> np.ndarray:
    """Keep the ``s >= 0`` (``s > 0`` if strict) part of one convex polygon (s: snapped values)."""
    if (s >= 0).all() and not (strict and (s == 0).all()):
        return poly
    if (s <= 0).all():
        # Only on-the-line vertices survive: no area left.
        return np.zeros((0, 2))
    pts, n = clip_both(poly[None], np.array([poly.shape[0]]), s[None])[:2]
    return pts[0, : n[0]]


def _parse_pattern_or_point(value, H: int):
    """(pattern bool (H,), None) or (None, point (2,)). A pair of floats is a point."""
    if isinstance(value, str):
        bits = np.array([ch == "1" for ch in value if ch in "01"], dtype=bool)
    else:
        arr = np.asarray(value)
        if arr.shape == (2,) and arr.dtype.kind == "f":
            return None, arr.astype(np.float64)
        bits = arr.astype(bool).reshape(-1)
    if bits.shape[0] != H:
        raise ValueError(f"pattern has {bits.shape[0]} bits, the network has {H} hidden neurons")
    return bits, None




def autograd_gradient(model: Network, point: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Output (out,) and its gradient (out, 2) at ``point`` by torch autograd, in float64.

    An independent check of the region's affine map: torch differentiates the
    forward pass (``relu'(0) = 0``, matching the pattern's "on means > 0").
    """
    import torch

    layers = [(torch.tensor(W), torch.tensor(b)) for W, b in layer_arrays(model, np.float64)]
    x = torch.tensor([float(point[0]), float(point[1])], dtype=torch.float64, requires_grad=True)
    h = x
    for (W, b), slope in zip(layers[:-1], model.slopes):
        z = W @ h + b
        h = torch.relu(z) if slope == 0.0 else torch.nn.functional.leaky_relu(z, slope)
    W, b = layers[-1]
    y = W @ h + b
    grads = [torch.autograd.grad(y[i], x, retain_graph=True)[0] for i in range(y.shape[0])]
    return y.detach().numpy(), torch.stack(grads).numpy()


def inspect_point(model: Network, point: Sequence[float], box: Sequence[float] = DEFAULT_BOX,
                  decimals: int | None = 12) -> dict:
    """Everything the inspector shows about the region containing ``point``, as plain JSON.

    :func:`region_inequalities` (pattern, polygon, area, edges, one inequality
    per hidden neuron with the binding ones marked, map ``A x + c``) plus the
    pattern per layer, the output at the point, torch autograd's gradient there
    (and its largest difference from ``A``), and the inequalities as text.
    """
    box = check_box(box)
    x, y = float(point[0]), float(point[1])
    if not (box[0] <= x <= box[1] and box[2] <= y <= box[3]):
        raise ValueError(f"the point ({x:g}, {y:g}) is outside the box {list(box)}")
    info = region_inequalities(model, np.array([x, y], dtype=np.float64), box)
    out, grad = autograd_gradient(model, (x, y))
    data = info.to_json(decimals)
    starts = np.cumsum([0, *info.widths])
    neurons = []
    for layer, (s0, s1) in enumerate(zip(starts[:-1], starts[1:]), start=1):
        for j, k in enumerate(range(s0, s1)):
            on = bool(info.pattern[k])
            neurons.append({
                "layer": layer, "neuron": j, "on": on, "binding": bool(info.binding[k]),
                "a": info.a[k].tolist(), "b": float(info.b[k]),
                "text": _inequality_text(info.a[k], info.b[k], on),
            })
    x0, x1, y0, y1 = box
    sides = [{"side": side, "binding": bool(bind), "text": text}
             for side, bind, text in zip(("left", "right", "bottom", "top"), info.box_binding,
                                         (f"x >= {x0:g}", f"x <= {x1:g}", f"y >= {y0:g}", f"y <= {y1:g}"))]
    value = info.A @ np.array([x, y]) + info.c
    data.update({
        "point": [x, y],
        "widths": list(info.widths),
        "layers": [[int(v) for v in info.pattern[s0:s1]] for s0, s1 in zip(starts[:-1], starts[1:])],
        "gradient": info.A.tolist(),
        "output": value.tolist(),
        "autograd": {
            "gradient": grad.tolist(),
            "output": out.tolist(),
            "max_abs_diff": float(np.max(np.abs(grad - info.A))) if grad.size else 0.0,
        },
        "inequalities": neurons,
        "box_sides": sides,
        "binding_count": int(info.binding.sum() + info.box_binding.sum()),
    })
    data["text"] = inspector_text(data)
    return data


def _inequality_text(a: np.ndarray, b: float, on: bool) -> str:
    """``0.5312 x - 1.2 y + 0.041 > 0`` (on) or ``... <= 0`` (off)."""
    ax, ay, c = float(a[0]), float(a[1]), float(b)
    text = f"{ax:.6g} x {'-' if ay < 0 else '+'} {abs(ay):.6g} y {'-' if c < 0 else '+'} {abs(c):.6g}"
    return f"{text} {'>' if on else '<='} 0"


def inspector_text(data: dict) -> str:
    """Plain-text summary of an :func:`inspect_point` answer ("copy as text")."""
    lines = [
        f"Region at ({data['point'][0]:.6g}, {data['point'][1]:.6g})",
        f"pattern (1 = on, layers separated by |): {data['pattern']}",
        f"area {data['area']:.6g}, {data['edge_count']} edges",
    ]
    for i, (g, c) in enumerate(zip(data["gradient"], data["c"])):
        name = "f" if len(data["c"]) == 1 else f"f{i}"
        lines.append(f"{name}(x, y) = {g[0]:.9g} x + {g[1]:.9g} y + {c:.9g}")
    lines.append("inequalities (one per hidden neuron; * = carries an edge of the polygon, others redundant):")
    for q in data["inequalities"]:
        mark = "*" if q["binding"] else " "
        state = "on" if q["on"] else "off"
        # people count neurons from 1, as layers (the JSON's `neuron` index is 0-based)
        lines.append(f"{mark} layer {q['layer']} neuron {q['neuron'] + 1} {state}: {q['text']}")
    for side in data["box_sides"]:
        if side["binding"]:
            lines.append(f"* box {side['side']}: {side['text']}")
    return "\n".join(lines) + "\n"

