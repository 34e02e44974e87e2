"""Exact linear regions of a 2-D-input (leaky) ReLU MLP, by splitting polygons.

The network is piecewise affine: every activation pattern (which hidden neurons
have pre-activation > 0) holds on one convex polygon, and there the output is
one affine map ``A x + c``. This module computes those polygons exactly (up to
float64 rounding) for an axis-aligned box, default ``[-1, 1]^2``.

Algorithm (layer by layer, neuron by neuron, vectorised over regions)
---------------------------------------------------------------------
State: the current regions as a padded vertex array ``V`` (R, M, 2) in
counter-clockwise order with vertex counts ``n`` (R,), and, per region, the
affine map of the current layer's *input* in input coordinates
(``A`` (R, d, 2), ``c`` (R, d)). It starts with one region, the box, and the
identity map.

For hidden layer ``W`` (h, d), ``b`` (h,):

1. Pre-activation forms per region: ``P = W A`` (R, h, 2), ``q = W c + b``.
   Inside one layer these do not change when a region is split (the layer's
   input map only changes once the layer's own pattern is known), so children
   keep an index ``origin`` into ``P, q`` instead of a copy.
2. Pre-pass: evaluate every neuron at every vertex of every region at once and
   mark ``cand[r, j]`` when neuron ``j``'s zero line crosses region ``r``
   (regions are convex, so the line crosses iff the vertex values take both
   signs). Regions not crossed get their bit from the sign directly. Children
   of a split are subsets of their parent, so they inherit ``cand``: neuron
   ``j`` only ever looks at regions that were crossed at the start of the
   layer, which in trained nets is a small fraction.
3. For each neuron ``j`` (a Python loop over neurons, never over regions):
   re-evaluate the candidates, and clip the ones still crossed into the
   ``>= 0`` and ``<= 0`` halves (Sutherland-Hodgman against one line,
   vectorised: each edge emits its start vertex if inside and the crossing
   point if its end points have strictly opposite signs; a cumulative sum
   compacts the emitted points). The positive half replaces the parent in
   place with bit ``j`` on, the negative half is appended with bit ``j`` off.
4. After the layer: ``A = s * P[origin]``, ``c = s * q[origin]`` with
   ``s = 1`` where on and the layer's negative slope where off; pattern bits are
   appended. The output map is ``W_out A + ...`` after the last hidden layer.

Conventions and tolerances (see ``snap``)
------------------------------------------
- A neuron is *on* when its pre-activation is ``> 0`` (as in the grid code).
- Vertex values within ``eps * |a|`` of zero (``eps`` = 1e-10 times the box
  size, i.e. a distance in input units) count as *on the line*. Such vertices go
  to both halves and create no crossing point; a region whose vertices are all
  within that distance on one side is not split. So no child thinner than
  ``eps`` in the cut direction is ever created.
- Slivers: if one half of a split would still have area below
  ``SLIVER_AREA`` (1e-18 times the box area, about ``eps**2``: only the
  rounding debris of nearly concurrent lines is that small), the region is
  *not* split and takes the bit of its larger half. Nothing is dropped, so the
  areas always sum to the box area; the price is that points inside such a
  sliver (all within a few ``eps`` of a boundary) get the neighbouring pattern.
  A larger threshold (1e-12 was tried) merges real, if tiny, regions: on
  random 256x256 nets it left output errors of 3e-7 at vertices instead of
  1e-15.
- Padding slots ``m >= n[r]`` of ``V`` repeat the region's first vertex, so
  min/max over the vertex axis and the shoelace formula work without masks.
- Neighbouring regions compute their shared edge separately, so the result is
  not a watertight mesh: shared vertices agree to rounding (~1e-15), not
  bit for bit.

Cost: one dense pre-pass per layer (regions x vertex slots x neurons, in
chunks) plus, per neuron, work proportional to the regions its line crosses.
Measured with ``benchmarks/exact_partition.py`` (row 5 of ``benchmarks/run_all.py``) on the 2-core dev machine:
trained ring 14x6 (3.8k regions) ~30-90 ms, trained 64x4 (23k regions)
~0.2-0.6 s, depending on load.

Public API: :func:`exact_partition`, :class:`ExactPartition`,
:func:`region_counts_per_layer`, :func:`region_counts_partial`,
:func:`neuron_zero_set`, :class:`PartitionTooLarge`; the inspector is in
inspection.py, the JSON/SVG documents in export.py. Every function takes a
``core.network.Network`` with 2 inputs (the live ``MLP``, or a ``FrozenNetwork``:
a frozen copy that another thread or process may keep using while the model
trains on), honouring each hidden layer's own negative slope. The long ones take ``max_regions``,
``deadline`` and ``progress`` (``progress(fraction, regions)``, called after
every neuron, so a caller can show how far a long computation got).

Longer than most modules on purpose: the splitting state, the clipping and
point location share one padded-polygon representation and are kept together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from ..core.network import Network, layer_arrays
from .patterns import pattern_strings


Box = tuple[float, float, float, float]  # (x_min, x_max, y_min, y_max)
Progress = Callable[[float, int], None]  # progress(fraction done in [0, 1], regions so far)

DEFAULT_BOX: Box = (-1.0, 1.0, -1.0, 1.0)
SNAP_EPS = 1e-10  # on-the-line distance, relative to the box size
SLIVER_AREA = 1e-18  # smallest half a split may create, relative to the box area (~ SNAP_EPS**2)
_PREPASS_CHUNK = 1 << 21  # elements (regions * slots * neurons) per pre-pass chunk


class PartitionTooLarge(RuntimeError):
    """Raised when ``max_regions`` or ``deadline`` is exceeded; callers fall back to a grid."""


# ---------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------


@dataclass
class ExactPartition:
    """Linear regions of a network on a box.

    ``vertices`` (R, M, 2) float64, counter-clockwise, padded: slots at and after
    ``counts[r]`` repeat the first vertex. ``patterns`` (R, H) bool over all
    hidden neurons of the included layers, layer after layer. ``A`` (R, k, 2),
    ``c`` (R, k): on region r the map is ``x -> A[r] @ x + c[r]``; it is the
    network output when ``complete`` (all hidden layers included), otherwise
    the activations of the last included hidden layer (k = its width).
    """

    vertices: np.ndarray
    counts: np.ndarray
    patterns: np.ndarray
    A: np.ndarray
    c: np.ndarray
    box: Box
    widths: tuple[int, ...]
    complete: bool = True

    @property
    def region_count(self) -> int:
        return int(self.counts.shape[0])

    def areas(self) -> np.ndarray:
        """Shoelace area of every region (R,)."""
        return shoelace(self.vertices)

    def polygons(self) -> list[np.ndarray]:
        """One (n_i, 2) counter-clockwise vertex array per region."""
        return [v[:k] for v, k in zip(self.vertices, self.counts)]

    def interior_points(self) -> np.ndarray:
        """Vertex mean of every region (R, 2): inside, since regions are convex."""
        return _vertex_mean(self.vertices, self.counts)

    def pattern_strings(self) -> list[str]:
        """Patterns as '0110|1001|...' (one group per layer, '1' = on)."""
        return pattern_strings(self.patterns, self.widths)

    def locate(self, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        """Index of the region containing each point (N, 2), -1 outside the box.

        Purely geometric (no model needed): a uniform bucket grid over the box
        lists the regions whose bounding box meets each cell; each point is
        tested against the candidates of its cell with edge half-plane tests.
        A point on a shared edge goes to the region it is deepest inside.
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return _locate(self.vertices, self.counts, self.box, pts, tol)


# ---------------------------------------------------------------------------
# Building the partition
# ---------------------------------------------------------------------------


def exact_partition(model: Network, box: Sequence[float] = DEFAULT_BOX, max_layers: int | None = None,
                    max_regions: int | None = None, deadline: float | None = None,
                    progress: Progress | None = None) -> ExactPartition:
    """Exact linear regions of ``model`` on ``box`` = (x0, x1, y0, y1).

    ``max_layers=k`` uses only the first k hidden layers (the partition they
    induce; ``A, c`` are then that layer's activations). ``max_regions`` and
    ``deadline`` (a ``time.monotonic()`` value) raise :class:`PartitionTooLarge`
    when exceeded, checked after every neuron; ``progress(fraction, regions)``
    is called there too.
    """
    layers, slopes = numpy_layers(model)
    hidden = layers[:-1]
    k = len(hidden) if max_layers is None else max(0, min(int(max_layers), len(hidden)))
    state = None
    for state in _layer_states(hidden[:k], slopes, check_box(box), max_regions, deadline, progress):
        pass
    if k == len(hidden):
        W, b = layers[-1]
        A, c = _apply_layer(W, b, state.A, state.c)
    else:
        A, c = state.A, state.c
    return ExactPartition(state.V, state.n, state.patterns, A, c, state.box,
                          tuple(w.shape[0] for w, _ in hidden[:k]), complete=k == len(hidden))


def region_counts_per_layer(model: Network, box: Sequence[float] = DEFAULT_BOX, max_regions: int | None = None,
                            deadline: float | None = None, progress: Progress | None = None) -> list[int]:
    """Region counts of the partitions induced by the first k hidden layers, k = 1..L (one pass)."""
    layers, slopes = numpy_layers(model)
    states = _layer_states(layers[:-1], slopes, check_box(box), max_regions, deadline, progress)
    return [s.n.shape[0] for s in states][1:]


def region_counts_and_patterns(model: Network, box: Sequence[float] = DEFAULT_BOX, max_regions: int | None = None,
                               deadline: float | None = None, progress: Progress | None = None
                               ) -> tuple[list[int], np.ndarray, ExactPartition]:
    """:func:`region_counts_per_layer`, the activation patterns (regions, H) bool of the full partition
    (what the live dynamics compare between updates: births, deaths, dead neurons) and that complete
    partition itself (the live origami surface draws it: surface.py), from one pass."""
    layers, slopes = numpy_layers(model)
    hidden = layers[:-1]
    counts: list[int] = []
    state = None
    for i, state in enumerate(_layer_states(hidden, slopes, check_box(box), max_regions, deadline, progress)):
        if i:
            counts.append(int(state.n.shape[0]))
    W, b = layers[-1]
    A, c = _apply_layer(W, b, state.A, state.c)
    partition = ExactPartition(state.V, state.n, state.patterns, A, c, state.box,
                               tuple(w.shape[0] for w, _ in hidden), complete=True)
    return counts, state.patterns, partition


def region_counts_partial(model: Network, box: Sequence[float] = DEFAULT_BOX, max_regions: int | None = None,
                          deadline: float | None = None, progress: Progress | None = None
                          ) -> tuple[list[int], str | None]:
    """Like :func:`region_counts_per_layer`, but past a limit it keeps the layers it finished.

    Returns ``(counts, reason)``: counts for k = 1..K (K = L when ``reason`` is
    None, else the layers done before ``max_regions`` or ``deadline`` stopped it,
    with the :class:`PartitionTooLarge` message as ``reason``).
    """
    layers, slopes = numpy_layers(model)
    counts: list[int] = []
    try:
        for i, state in enumerate(_layer_states(layers[:-1], slopes, check_box(box), max_regions, deadline, progress)):
            if i:
                counts.append(int(state.n.shape[0]))
    except PartitionTooLarge as exc:
        return counts, str(exc)
    return counts, None


def neuron_zero_set(model: Network, layer: int, neuron: int, box: Sequence[float] = DEFAULT_BOX,
                    max_regions: int | None = None, deadline: float | None = None,
                    progress: Progress | None = None) -> np.ndarray:
    """Where hidden neuron ``neuron`` (0-based) of hidden layer ``layer`` (1-based) switches.

    Returns segments (S, 2, 2): the set where the neuron's pre-activation is 0.
    Within each region of the first ``layer - 1`` layers' partition the
    pre-activation is affine, so the set is one straight piece per region the
    line crosses: a polyline bent at the earlier layers' boundaries (for
    ``layer = 1`` one segment, the neuron's line clipped to the box). A line
    that only touches a region at a vertex gives nothing; one that runs along a
    shared edge appears once per side. ``max_regions``/``deadline``/``progress``
    apply to the partition of the earlier layers.
    """
    layers, slopes = numpy_layers(model)
    hidden = layers[:-1]
    if not 1 <= int(layer) <= len(hidden):
        raise ValueError(f"layer must be 1..{len(hidden)}, got {layer}")
    W, b = hidden[int(layer) - 1]
    if not 0 <= int(neuron) < W.shape[0]:
        raise ValueError(f"neuron must be 0..{W.shape[0] - 1} in layer {layer}, got {neuron}")
    box = check_box(box)
    state = None
    for state in _layer_states(hidden[: int(layer) - 1], slopes, box, max_regions, deadline, progress):
        pass
    w = W[int(neuron)]
    a = np.einsum("d,rdk->rk", w, state.A)  # (R, 2): gradient of the pre-activation per region
    q = state.c @ w + b[int(neuron)]
    return _line_segments(state.V, state.n, a, q, SNAP_EPS * max(box[1] - box[0], box[3] - box[2]))


def _line_segments(V: np.ndarray, n: np.ndarray, a: np.ndarray, q: np.ndarray, eps: float) -> np.ndarray:
    """Segments (S, 2, 2) where ``a[r] . x + q[r] = 0`` crosses the convex polygon r (padded V)."""
    R, M, _ = V.shape
    norm = np.hypot(a[:, 0], a[:, 1])
    s = snap(np.einsum("rmk,rk->rm", V, a) + q[:, None], eps * norm)
    slot = np.arange(M)
    valid = slot[None, :] < n[:, None]
    nxt = np.where(slot[None, :] + 1 < n[:, None], slot[None, :] + 1, 0)
    rows = np.arange(R)[:, None]
    sq, Vq = s[rows, nxt], V[rows, nxt]
    cross = valid & (((s > 0) & (sq < 0)) | ((s < 0) & (sq > 0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(cross, s / np.where(cross, s - sq, 1.0), 0.0)
    pts = np.concatenate([V, V + t[..., None] * (Vq - V)], axis=1)  # vertices, then crossing points
    keep = np.concatenate([valid & (s == 0), cross], axis=1)
    # The line meets a convex polygon in a segment: its extreme kept points along the line.
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.stack([-a[:, 1], a[:, 0]], axis=1) / np.where(norm > 0, norm, 1.0)[:, None]
    along = np.einsum("rmk,rk->rm", pts, d)
    lo = np.where(keep, along, np.inf).argmin(axis=1)
    hi = np.where(keep, along, -np.inf).argmax(axis=1)
    r = np.arange(R)
    length = along[r, hi] - along[r, lo]
    ok = (norm > 0) & (keep.sum(axis=1) >= 2) & (length > eps)
    return np.stack([pts[r, lo], pts[r, hi]], axis=1)[ok]


@dataclass
class _State:
    """Regions after some hidden layers; A, c map input -> that layer's activations."""

    V: np.ndarray
    n: np.ndarray
    patterns: np.ndarray
    A: np.ndarray
    c: np.ndarray
    box: Box


def _layer_states(hidden, slopes: Sequence[float], box: Box, max_regions, deadline,
                  progress=None) -> Iterator[_State]:
    """Yield the state before any layer (the box) and after each hidden layer (``slopes``: each
    hidden layer's negative slope)."""
    x0, x1, y0, y1 = box
    V = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], dtype=np.float64)
    state = _State(V, np.array([4]), np.zeros((1, 0), dtype=bool),
                   np.eye(2)[None], np.zeros((1, 2)), box)
    yield state
    size = max(x1 - x0, y1 - y0)
    eps = SNAP_EPS * size
    sliver = SLIVER_AREA * (x1 - x0) * (y1 - y0)
    for i, ((W, b), slope) in enumerate(zip(hidden, slopes)):
        P, q = _apply_layer(W, b, state.A, state.c)
        report = None if progress is None else _layer_progress(progress, i, len(hidden))
        V, n, origin, on = _split_layer(state.V, state.n, P, q, eps, sliver, max_regions, deadline, report)
        gain = np.where(on, 1.0, slope)
        state = _State(V, n, np.concatenate([state.patterns[origin], on], axis=1),
                       P[origin] * gain[..., None], q[origin] * gain, box)
        yield state


def _apply_layer(W: np.ndarray, b: np.ndarray, A: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-region affine forms of ``W z + b`` where ``z = A x + c``: (R, h, 2), (R, h)."""
    # tensordot turns the batched product into one BLAS matrix product.
    P = np.tensordot(A, W, axes=([1], [1])).transpose(0, 2, 1)
    return np.ascontiguousarray(P), c @ W.T + b


class _Regions:
    """Growable storage for the regions of one layer's split (capacity doubling)."""

    def __init__(self, V: np.ndarray, n: np.ndarray, cand: np.ndarray, on: np.ndarray):
        R = n.shape[0]
        cap = max(16, 2 * R)
        self.size = R
        self.V = _grow(V, cap)
        self.n = _grow(n, cap)
        self.origin = _grow(np.arange(R), cap)
        self.cand = _grow(cand, cap)
        self.on = _grow(on, cap)

    def widen(self, M: int) -> None:
        """Make room for M vertex slots, padding with each region's first vertex."""
        extra = M - self.V.shape[1]
        if extra > 0:
            pad = np.repeat(self.V[:, :1], extra, axis=1)
            self.V = np.concatenate([self.V, pad], axis=1)

    def append(self, parents: np.ndarray, V: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Append children that copy their parents' bookkeeping; return their indices."""
        k = parents.shape[0]
        if self.size + k > self.n.shape[0]:
            cap = max(2 * self.n.shape[0], self.size + k)
            self.V, self.n, self.origin, self.cand, self.on = (
                _grow(a, cap) for a in (self.V, self.n, self.origin, self.cand, self.on))
        new = np.arange(self.size, self.size + k)
        self.V[new, : V.shape[1]] = V
        self.V[new, V.shape[1]:] = V[:, :1]
        self.n[new] = n
        self.origin[new] = self.origin[parents]
        self.cand[new] = self.cand[parents]
        self.on[new] = self.on[parents]
        self.size += k
        return new


def _grow(a: np.ndarray, cap: int) -> np.ndarray:
    out = np.zeros((cap,) + a.shape[1:], dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


def _layer_progress(progress: Progress, layer: int, layers: int) -> Callable[[float, int], None]:
    """``progress`` for the whole run, given the fraction done within one layer."""
    return lambda within, regions: progress((layer + within) / layers, regions)


def _split_layer(V, n, P, q, eps, sliver, max_regions, deadline, progress=None):
    """Split every region by every neuron of one layer.

    Returns vertices, counts, origin (index of the region each child came
    from, into P, q) and the layer's bits ``on`` (R', h).
    """
    cand, on = _prepass(V, P, q, eps, deadline)
    store = _Regions(V, n, cand, on)
    h = P.shape[1]
    for j in range(h):
        idx = np.flatnonzero(store.cand[: store.size, j])
        if idx.size:
            _split_neuron(store, idx, j, P, q, eps, sliver)
        if progress is not None:
            progress((j + 1) / h, store.size)
        if max_regions is not None and store.size > max_regions:
            raise PartitionTooLarge(f"more than {max_regions} regions")
        if deadline is not None and time.monotonic() > deadline:
            raise PartitionTooLarge("deadline passed while computing the exact partition")
    R = store.size
    M = int(store.n[:R].max())
    return store.V[:R, :M], store.n[:R], store.origin[:R], store.on[:R]


def _prepass(V, P, q, eps, deadline):
    """Which neurons cross which regions, and the bit of every neuron that does not.

    Evaluates all neurons at all vertices (chunked over regions to bound memory).
    """
    R, M, _ = V.shape
    h = P.shape[1]
    cand = np.empty((R, h), dtype=bool)
    on = np.empty((R, h), dtype=bool)
    tol = eps * np.hypot(P[..., 0], P[..., 1])  # (R, h): eps as a distance
    step = max(1, _PREPASS_CHUNK // max(1, M * h))
    for s in range(0, R, step):
        e = min(R, s + step)
        # (C, M, h) values: x * a_x + y * a_y + b at every vertex slot
        vals = np.matmul(V[s:e], P[s:e].transpose(0, 2, 1))
        vals += q[s:e, None, :]
        hi = vals.max(axis=1)
        lo = vals.min(axis=1)
        t = tol[s:e]
        cand[s:e] = (hi > t) & (lo < -t)
        on[s:e] = hi > t
        if deadline is not None and time.monotonic() > deadline:
            raise PartitionTooLarge("deadline passed while computing the exact partition")
    return cand, on


def _split_neuron(store: _Regions, idx: np.ndarray, j: int, P, q, eps, sliver) -> None:
    """Split the candidate regions ``idx`` by neuron ``j``'s zero line."""
    o = store.origin[idx]
    a = P[o, j]
    b = q[o, j]
    Vi = store.V[idx]
    s = snap(Vi[..., 0] * a[:, :1] + Vi[..., 1] * a[:, 1:] + b[:, None], eps * np.hypot(a[:, 0], a[:, 1]))
    hi = s.max(axis=1)
    lo = s.min(axis=1)
    crossed = (hi > 0) & (lo < 0)
    store.on[idx[~crossed], j] = hi[~crossed] > 0
    if not crossed.any():
        return
    idx, Vi, s = idx[crossed], Vi[crossed], s[crossed]
    pos_V, pos_n, neg_V, neg_n = clip_both(Vi, store.n[idx], s)
    pos_area, neg_area = shoelace(pos_V), shoelace(neg_V)
    split = np.minimum(pos_area, neg_area) >= sliver
    if not split.all():
        # A sliver half: keep the region whole with the bit of its larger half.
        keep = idx[~split]
        store.on[keep, j] = pos_area[~split] >= neg_area[~split]
        idx, pos_V, pos_n = idx[split], pos_V[split], pos_n[split]
        neg_V, neg_n = neg_V[split], neg_n[split]
        if idx.size == 0:
            return
    store.widen(max(pos_V.shape[1], neg_V.shape[1]))
    store.V[idx, : pos_V.shape[1]] = pos_V
    store.V[idx, pos_V.shape[1]:] = pos_V[:, :1]
    store.n[idx] = pos_n
    store.on[idx, j] = True
    new = store.append(idx, neg_V, neg_n)
    store.on[new, j] = False


def snap(s: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Set vertex values within ``tol`` (per row) of zero to exactly zero (on the line)."""
    s[np.abs(s) <= tol[:, None]] = 0.0
    return s


def clip_both(V: np.ndarray, n: np.ndarray, s: np.ndarray):
    """Sutherland-Hodgman of K convex polygons against ``s >= 0`` and ``s <= 0`` at once.

    ``V`` (K, M, 2) padded vertices, ``n`` (K,) counts, ``s`` (K, M) snapped
    values at the vertices. Returns (pos_V, pos_n, neg_V, neg_n), each padded.
    """
    K, M, _ = V.shape
    slot = np.arange(M)
    valid = slot[None, :] < n[:, None]
    nxt = np.where(slot[None, :] + 1 < n[:, None], slot[None, :] + 1, 0)
    rows = np.arange(K)[:, None]
    sq = s[rows, nxt]
    Vq = V[rows, nxt]
    # crossing point of edge p -> q where the signs are strictly opposite
    cross = valid & (((s > 0) & (sq < 0)) | ((s < 0) & (sq > 0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(cross, s / np.where(cross, s - sq, 1.0), 0.0)
    X = V + t[..., None] * (Vq - V)
    # interleave: slot 2m = vertex m, slot 2m+1 = crossing point on edge m
    pts = np.empty((K, 2 * M, 2))
    pts[:, 0::2] = V
    pts[:, 1::2] = X
    keep_pos = np.empty((K, 2 * M), dtype=bool)
    keep_pos[:, 0::2] = valid & (s >= 0)
    keep_pos[:, 1::2] = cross
    keep_neg = keep_pos.copy()
    keep_neg[:, 0::2] = valid & (s <= 0)
    return (*_compact(pts, keep_pos), *_compact(pts, keep_neg))


def _compact(pts: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pack the kept points of each row to the front; pad with the row's first point."""
    counts = keep.sum(axis=1)
    M = int(counts.max())
    r, col = np.nonzero(keep)
    dest = np.cumsum(keep, axis=1)[r, col] - 1
    out = np.empty((pts.shape[0], M, 2))
    first = pts[np.arange(pts.shape[0]), keep.argmax(axis=1)]
    out[:] = first[:, None, :]
    out[r, dest] = pts[r, col]
    return out, counts


# ---------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------


def shoelace(V: np.ndarray) -> np.ndarray:
    """Signed area of padded polygons (padding repeats vertex 0, which adds nothing)."""
    x, y = V[..., 0], V[..., 1]
    xn, yn = np.roll(x, -1, axis=-1), np.roll(y, -1, axis=-1)
    return 0.5 * (x * yn - xn * y).sum(axis=-1)


def _vertex_mean(V: np.ndarray, n: np.ndarray) -> np.ndarray:
    valid = np.arange(V.shape[1])[None, :] < n[:, None]
    return (V * valid[..., None]).sum(axis=1) / n[:, None]


def check_box(box: Sequence[float]) -> Box:
    x0, x1, y0, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box must be (x_min, x_max, y_min, y_max) with min < max, got {box}")
    return (x0, x1, y0, y1)


def _locate(V: np.ndarray, n: np.ndarray, box: Box, pts: np.ndarray, tol: float) -> np.ndarray:
    """Point location in a convex partition via a uniform bucket grid (see ExactPartition.locate)."""
    R, M, _ = V.shape
    N = pts.shape[0]
    result = np.full(N, -1, dtype=np.int64)
    x0, x1, y0, y1 = box
    scale = max(x1 - x0, y1 - y0)
    inside_box = ((pts[:, 0] >= x0 - tol * scale) & (pts[:, 0] <= x1 + tol * scale)
                  & (pts[:, 1] >= y0 - tol * scale) & (pts[:, 1] <= y1 + tol * scale))
    if N == 0 or R == 0:
        return result
    G = int(np.clip(2 * np.sqrt(R), 1, 1024))  # about 1/4 region per cell
    cx, cy = G / (x1 - x0), G / (y1 - y0)

    def cell(x, y):
        ix = np.clip(((x - x0) * cx).astype(np.int64), 0, G - 1)
        iy = np.clip(((y - y0) * cy).astype(np.int64), 0, G - 1)
        return ix, iy

    # (cell, region) pairs for every cell a region's bounding box meets
    ix0, iy0 = cell(V[..., 0].min(1) - tol * scale, V[..., 1].min(1) - tol * scale)
    ix1, iy1 = cell(V[..., 0].max(1) + tol * scale, V[..., 1].max(1) + tol * scale)
    wx, wy = ix1 - ix0 + 1, iy1 - iy0 + 1
    per = wx * wy
    reg = np.repeat(np.arange(R), per)
    local = np.arange(reg.size) - np.repeat(np.cumsum(per) - per, per)
    cells = (iy0[reg] + local // wx[reg]) * G + ix0[reg] + local % wx[reg]
    order = np.argsort(cells, kind="stable")
    cell_regions = reg[order]
    starts = np.searchsorted(cells[order], np.arange(G * G + 1))

    # Edge lines as unit normals: n . p + d is the signed distance (CCW: inside > 0).
    e = np.roll(V, -1, axis=1) - V
    length = np.hypot(e[..., 0], e[..., 1])
    real = length > 0  # padding slots give zero-length edges: never reject there
    inv = np.where(real, 1.0 / np.where(real, length, 1.0), 0.0)
    nx, ny = -e[..., 1] * inv, e[..., 0] * inv
    lines = np.stack([nx, ny, np.where(real, -(nx * V[..., 0] + ny * V[..., 1]), np.inf)], axis=-1)

    idx_in = np.flatnonzero(inside_box)
    chunk = 1 << 16
    for s0 in range(0, idx_in.size, chunk):
        pid = idx_in[s0: s0 + chunk]
        ix, iy = cell(pts[pid, 0], pts[pid, 1])
        c = iy * G + ix
        pid, c = pid[starts[c + 1] > starts[c]], c[starts[c + 1] > starts[c]]  # cells with candidates
        if pid.size == 0:
            continue
        p = pts[pid]
        lo, k = starts[c], starts[c + 1] - starts[c]
        offs = np.cumsum(k) - k
        which = np.repeat(np.arange(pid.size), k)
        cand = cell_regions[np.repeat(lo - offs, k) + np.arange(which.size)]
        L = lines[cand]  # (C, M, 3)
        dist = (L[..., 0] * p[which, None, 0] + L[..., 1] * p[which, None, 1] + L[..., 2]).min(axis=1)
        # deepest candidate per point (ties only on shared edges)
        best = np.maximum.reduceat(dist, offs)
        hit = np.flatnonzero(dist == np.repeat(best, k))
        found = best >= -tol * scale
        res = np.full(pid.size, -1, dtype=np.int64)
        res[which[hit]] = cand[hit]
        result[pid] = np.where(found, res, -1)
    return result


# ---------------------------------------------------------------------------
# Model access, colours, formatting
# ---------------------------------------------------------------------------


def numpy_layers(model: Network) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[float, ...]]:
    """float64 (W, b) of every linear layer (hidden first, output last) and each hidden layer's
    negative slope."""
    layers = layer_arrays(model, np.float64)
    if layers[0][0].shape[1] != 2:
        raise ValueError(f"exact partitions need a 2-D input, the model takes {layers[0][0].shape[1]}")
    slopes = tuple(float(s) for s in model.slopes)
    if len(slopes) != len(layers) - 1:
        raise ValueError(f"{len(slopes)} slopes for {len(layers) - 1} hidden layers")
    return layers, slopes
