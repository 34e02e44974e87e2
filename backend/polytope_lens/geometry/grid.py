"""The network's linear regions as seen on an R x R grid over [-1, 1]^2.

Every grid point gets its activation pattern (one bit per hidden neuron, on
when the pre-activation is > 0), packed into 64-bit words. Regions are told
apart by the exact packed pattern: a hash is used only to sort quickly, and
every hash bucket is checked against the real bits, so two different patterns
are never merged.

Grid orientation matches images.py: row 0 is the top (y close to +1),
column 0 is the left (x close to -1); pixel centres, not edges.

Fast path (``compute_partition``): the network is not evaluated at every
pixel. Every region {x : pattern(x) = p} is convex (an intersection of
half-planes), so a pixel centre halfway between two centres with the same
pattern has that pattern too, and since the network is affine on the region,
its output is the mean of theirs. The grid is refined from a coarse lattice
(every 16th pixel) by halving: each new lattice point is the midpoint of two
known points (along a diagonal, an edge, or the mid-line through a block
centre); where a pair agrees the point inherits, otherwise it is evaluated.
Only points next to boundaries are evaluated (about 5-20% of the pixels of a
trained 14x6), in batches, with preallocated buffers.

Floating point: a point serves as the end of a pair only when every
pre-activation is clearly away from zero (|z| > MARGIN_REL times its layer's
scale), so rounding can never give an inherited pixel another pattern than a
direct evaluation would. Evaluated points are computed like ``nn.Linear`` on a
full batch (tiny batches padded), but BLAS may group sums differently for
another batch shape: on some CPUs a pixel whose pre-activation is within
rounding of zero (seen: |z| = 7e-9 at a scale of 6, one pixel in 16k) takes
the other sign, exactly as it could between any two batch sizes. Otherwise the
result is the direct method's partition: the same regions (equivalence classes
of pixels), the same boundary mask, the same region patterns; region ids are
numbered in order of discovery; the prediction agrees to float rounding (~1e-6
of its scale).
``compute_partition_direct`` is the plain full-grid evaluation, kept as the
reference and as the fallback (GPU or float64 models, a 63-bit hash collision).

Longer than most modules on purpose: the refinement, its evaluator and its
pattern table are one algorithm whose invariants hold only together.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from ..core.images import pixel_to_point
from ..core.network import Network
from .patterns import pack_patterns, pattern_colors, pattern_hash, words_per_pattern

# Points per forward chunk: keeps activations of a 64-wide layer in cache-sized blocks.
CHUNK_POINTS = 1 << 16
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
# Fast path: spacing of the coarse lattice (a power of two) the refinement starts from.
REFINE_BLOCK = 16
# A point is a safe endpoint for inheritance when every |pre-activation| exceeds this
# fraction of its layer's largest |pre-activation| on the coarse lattice (float32 rounding
# of a pre-activation is ~1e-7 of that scale, so rounding can never flip an inherited bit).
MARGIN_REL = 1e-5
# BLAS multiplies a single row by another route (gemv) than a batch: pad tiny batches
# so every point is computed exactly as in a full-grid batch.
MIN_BATCH = 8


def grid_points(resolution: int) -> np.ndarray:
    """(R*R, 2) float32 pixel-centre coordinates in row-major order, y up."""
    rows, cols = np.divmod(np.arange(resolution * resolution), resolution)
    return pixel_to_point(rows, cols, resolution)


def exact_unique(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct patterns and each row's index into them, never merging different patterns.

    Returns (region_words (R, K), inverse (N,) int32). Region order is by hash,
    which is arbitrary but deterministic.
    """
    if words.shape[1] == 1:
        keys, first, inverse = np.unique(words[:, 0], return_index=True, return_inverse=True)
        return words[first], inverse.astype(np.int32)
    h = pattern_hash(words)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    if np.array_equal(words, words[first][inverse]):
        return words[first], inverse.astype(np.int32)
    # A 64-bit hash collision (astronomically rare): fall back to sorting the full rows.
    view = np.ascontiguousarray(words).view(np.dtype((np.void, words.shape[1] * 8))).ravel()
    _, first, inverse = np.unique(view, return_index=True, return_inverse=True)
    return words[first], inverse.astype(np.int32)


def boundary_mask(region_ids: np.ndarray) -> np.ndarray:
    """True where a pixel has a 4-neighbour in another region (both sides of an edge)."""
    ids = region_ids
    mask = np.zeros(ids.shape, dtype=bool)
    horiz = ids[:, 1:] != ids[:, :-1]
    vert = ids[1:, :] != ids[:-1, :]
    mask[:, 1:] |= horiz
    mask[:, :-1] |= horiz
    mask[1:, :] |= vert
    mask[:-1, :] |= vert
    return mask


@dataclass
class GridPartition:
    resolution: int
    hidden: int
    region_ids: np.ndarray  # int32 (R, R)
    region_words: np.ndarray  # uint64 (regions, K): the pattern of each region
    boundary: np.ndarray  # bool (R, R)
    prediction: np.ndarray  # float32 (R, R, C), raw network output

    @property
    def region_count(self) -> int:
        return int(self.region_words.shape[0])

    def region_colors(self) -> np.ndarray:
        """uint8 (regions, 3), stable across frames (derived from the pattern)."""
        return pattern_colors(self.region_words)

    def color_image(self) -> np.ndarray:
        """uint8 (R, R, 3): every pixel in its region's colour."""
        return self.region_colors()[self.region_ids]


def torch_layers(network: Network) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(W, b) of every layer as torch tensors: a live MLP's own (detached, on its device), a frozen
    network's numpy arrays copied onto the CPU (weights are small next to a grid's activations)."""
    return [tuple(a.detach() if isinstance(a, torch.Tensor) else torch.tensor(a) for a in layer)
            for layer in network.affine_layers()]


def activate(z: torch.Tensor, slope: float) -> torch.Tensor:
    """A hidden layer's activation: ReLU for slope 0, else leaky ReLU with that negative slope."""
    return torch.relu(z) if slope == 0.0 else torch.nn.functional.leaky_relu(z, slope)


@torch.no_grad()
def grid_patterns(model: Network, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed patterns (R*R, K) and outputs (R*R, C) of every pixel centre."""
    layers = torch_layers(model)
    device = layers[0][0].device
    points = torch.from_numpy(grid_points(resolution)).to(device, layers[0][0].dtype)
    hidden = sum(model.widths)
    n = points.shape[0]
    words = np.empty((n, words_per_pattern(hidden)), dtype=np.uint64)
    out = np.empty((n, model.out_dim), dtype=np.float32)
    bits = torch.empty((min(n, CHUNK_POINTS), hidden), dtype=torch.bool, device=device)
    for start in range(0, n, CHUNK_POINTS):
        stop = min(n, start + CHUNK_POINTS)
        x = points[start:stop]
        col = 0
        for (W, b), slope in zip(layers[:-1], model.slopes):
            z = torch.nn.functional.linear(x, W, b)  # what nn.Linear computes
            width = z.shape[1]
            torch.gt(z, 0, out=bits[: stop - start, col : col + width])
            col += width
            x = activate(z, slope)
        out[start:stop] = torch.nn.functional.linear(x, *layers[-1]).cpu().numpy()
        words[start:stop] = pack_patterns(bits[: stop - start].cpu().numpy())
    return words, out


def compute_partition_direct(model: Network, resolution: int) -> GridPartition:
    """The plain method: every pixel through the network, then exact_unique. The reference."""
    words, out = grid_patterns(model, resolution)
    region_words, inverse = exact_unique(words)
    region_ids = inverse.reshape(resolution, resolution)
    return GridPartition(
        resolution=resolution,
        hidden=sum(model.widths),
        region_ids=region_ids,
        region_words=region_words,
        boundary=boundary_mask(region_ids),
        prediction=out.reshape(resolution, resolution, -1),
    )


def compute_partition(model: Network, resolution: int) -> GridPartition:
    """Patterns, region ids, boundaries and prediction on an R x R grid.

    Same result as ``compute_partition_direct`` (same region ids, same boundary
    mask; prediction equal up to float rounding), computed by refinement (see
    the module docstring) for networks whose weights are float32 on the CPU
    (a frozen network, or a live MLP there).
    """
    layers = torch_layers(model)
    if all(a.device.type == "cpu" and a.dtype == torch.float32 for layer in layers for a in layer):
        try:
            return _refined_partition(model, layers, resolution)
        except _HashCollision:
            pass
    return compute_partition_direct(model, resolution)


class _HashCollision(Exception):
    """Two different patterns met with the same 64-bit hash: use the direct method."""


def _layer_packing(col: int, width: int) -> list[tuple]:
    """How a layer whose neurons are bits col .. col + width - 1 of the pattern is packed into
    16-bit codes: (first code, first neuron, end neuron, powers of two) pieces; the powers are
    (g, 1, 16) for g whole codes (written), (1, n) for n bits of one code (added)."""
    pieces = []
    j = 0
    while j < width:
        bit = (col + j) % 16
        whole = (width - j) // 16 if bit == 0 else 0
        if whole:
            powers = (2.0 ** torch.arange(16, dtype=torch.float32)).repeat(whole, 1, 1)
            pieces.append(((col + j) // 16, j, j + 16 * whole, powers))
            j += 16 * whole
        else:
            n = min(16 - bit, width - j)
            powers = (2.0 ** torch.arange(bit, bit + n, dtype=torch.float32))[None, :]
            pieces.append(((col + j) // 16, j, j + n, powers))
            j += n
    return pieces


class _Evaluator:
    """Patterns, outputs and pre-activation margins of arbitrary points, in reused buffers.

    Points are columns (2, n); every layer computes ``addmm(b, W, a)``, which
    gives bit for bit the rows of ``nn.Linear`` on a batch. The pattern bits
    are packed with one small matrix product per layer into 16-bit codes
    (sums of distinct powers of two below 2^16: exact in float32).
    """

    def __init__(self, widths: list[int], out_dim: int):
        self.widths = list(widths)
        self.out_dim = out_dim
        self.hidden = sum(widths)
        self.words = words_per_pattern(self.hidden)
        self.shorts = (self.hidden + 15) // 16
        # Per layer, how its pattern bits are packed into the 16-bit codes: the neurons that fill
        # whole codes, 16 at a time with one batched (1, 16) x (16, c) product written straight
        # into those codes; a code shared with the layer before or after (at most one at each end)
        # with a (1, n) x (n, c) product added to it. So the cost grows with the width, never with
        # its square (one dense (codes x width) matrix would cost a 1,024-wide layer 64 times its
        # own product).
        self.packs = [_layer_packing(int(col), w) for col, w in zip(np.cumsum([0, *widths[:-1]]), widths)]
        self.widest = max([*widths, out_dim, 2])
        self.chunk = int(np.clip((1 << 17) // self.widest, 256, 8192))
        size = self.widest * self.chunk
        self._bufs = (torch.empty(size), torch.empty(size))
        self._scratch = torch.empty(size)
        self._codes = torch.empty(self.shorts * self.chunk)
        self._x = torch.empty(2 * self.chunk)
        self._views: dict[int, tuple] = {}

    def _views_for(self, c: int) -> tuple:
        """Tensor and array views of the buffers for a chunk of c points (cached: c is a
        multiple of 256, so there are at most chunk / 256 of them)."""
        views = self._views.get(c)
        if views is None:
            x = self._x[: 2 * c].view(2, c)
            codes = self._codes[: self.shorts * c].view(self.shorts, c)
            per_layer = []
            for layer, w in enumerate(self.widths):
                z = self._bufs[layer & 1][: w * c].view(w, c)
                bits = self._scratch[: w * c].view(w, c)
                per_layer.append((z, z.numpy(), bits, bits.numpy()))
            last = len(self.widths)
            o = self._bufs[last & 1][: self.out_dim * c].view(self.out_dim, c)
            views = self._views[c] = (x, x.numpy(), codes, codes.numpy(), per_layer, o, o.numpy())
        return views

    def __call__(self, layers, slopes, pts: np.ndarray, want_scale: bool = False, margins: bool = True):
        """pts float32 (2, n) -> words (n, K) uint64, out (n, C) float32, minabs (L, n), maxabs (L,).

        ``layers``: (weight, bias as a column) of every linear layer, detached; ``slopes``: the
        negative slope of each hidden layer.
        ``margins=False`` skips minabs (left at +inf).
        """
        n = pts.shape[1]
        n_layers = len(self.widths)
        shorts = self.shorts
        codes16 = np.zeros((n, 4 * self.words), dtype="<u2")
        out = np.empty((n, self.out_dim), dtype=np.float32)
        minabs = np.empty((n_layers, n), dtype=np.float32) if margins else np.full((n_layers, n), np.inf, np.float32)
        maxabs = np.zeros(n_layers, dtype=np.float32)
        hidden = list(zip(layers, self.packs, slopes))
        for start in range(0, n, self.chunk):
            c = min(self.chunk, n - start)
            # Chunk sizes are rounded up to a multiple of 256 (padded with copies of the
            # first point) so that few sets of buffer views are ever made.
            c_pad = min(self.chunk, -(-c // 256) * 256)
            x, x_np, codes, codes_np, per_layer, o, o_np = self._views_for(c_pad)
            x_np[:, :c] = pts[:, start : start + c]
            x_np[:, c:] = pts[:, start : start + 1]
            codes.zero_()
            a = x
            for layer, ((weight, bias), pack, slope) in enumerate(hidden):
                z, z_np, bits, bits_np = per_layer[layer]
                torch.addmm(bias, weight, a, out=z)
                torch.gt(z, 0, out=bits)
                for row, j0, j1, powers in pack:
                    if powers.dim() == 3:  # whole codes row .. row + g: written, not added
                        g = powers.shape[0]
                        torch.bmm(powers, bits[j0:j1].view(g, 16, c_pad), out=codes[row : row + g].view(g, 1, c_pad))
                    else:  # part of one code (a (codes, n) matrix: added to that many codes)
                        codes[row : row + powers.shape[0]].addmm_(powers, bits[j0:j1])
                if margins:
                    np.abs(z_np, out=bits_np)
                    np.min(bits_np[:, :c], axis=0, out=minabs[layer, start : start + c])
                    if want_scale:
                        maxabs[layer] = max(maxabs[layer], bits_np[:, :c].max())
                if slope == 0.0:
                    torch.relu_(z)
                else:
                    torch.nn.functional.leaky_relu_(z, slope)
                a = z
            weight, bias = layers[-1]
            # The output (its summation order may differ from nn.Linear's in the last bit).
            torch.addmm(bias, weight, a, out=o)
            out[start : start + c] = o_np[:, :c].T
            codes16[start : start + c, :shorts] = codes_np[:, :c].astype(np.uint16).T
        return codes16.view("<u8"), out, minabs, maxabs


_local = threading.local()


def _evaluator(model: Network) -> _Evaluator:
    """One evaluator (buffers) per thread and architecture; weights are read at every call."""
    cache = getattr(_local, "evaluators", None)
    if cache is None:
        cache = _local.evaluators = {}
    widths = tuple(model.widths)
    key = (widths, model.out_dim)
    ev = cache.get(key)
    if ev is None:
        if len(cache) >= 4:
            cache.clear()
        ev = cache[key] = _Evaluator(list(widths), model.out_dim)
    return ev


_LOW_BITS = np.uint64((1 << 63) - 1)


def _pattern_keys(words: np.ndarray, plain: bool) -> np.ndarray:
    """63-bit keys of packed patterns: the pattern itself when it fits, else its hash.

    The hash (top bit cleared) only serves to compare patterns during refinement:
    every key match is checked on the real bits.
    """
    if plain:
        return words[:, 0].copy()
    keys = pattern_hash(words)
    keys &= _LOW_BITS
    return keys


_SLOT_MULT = np.uint64(0x9E3779B97F4A7C15)


class _RegionTable:
    """Distinct patterns met so far, each with its region id (ids in order of discovery).

    An open-addressing hash table on the 63-bit keys of _pattern_keys, probed with
    vectorised linear probing. A key match is accepted only when the packed pattern
    bits match too, so two different patterns are never merged (on a 63-bit hash
    collision the caller falls back to the direct method).
    """

    def __init__(self, plain: bool, k_words: int, bits: int = 12):
        self.plain = plain
        self.words = np.empty((0, k_words), dtype=np.uint64)
        self._alloc(bits)

    def _alloc(self, bits: int) -> None:
        self.bits = bits
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.slot_keys = np.zeros(1 << bits, dtype=np.uint64)
        self.slot_ids = np.full(1 << bits, -1, dtype=np.int32)

    def __len__(self) -> int:
        return self.words.shape[0]

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * _SLOT_MULT) >> self.shift).astype(np.intp)

    def _find(self, keys: np.ndarray) -> np.ndarray:
        ids = np.full(keys.shape[0], -1, dtype=np.int32)
        slots = self._slots(keys)
        todo = np.arange(keys.shape[0])
        while todo.size:
            s = slots[todo]
            sid = self.slot_ids[s]
            found = self.slot_keys[s] == keys[todo]
            found &= sid >= 0
            ids[todo[found]] = sid[found]
            more = ~found & (sid >= 0)  # an other key sits there: probe the next slot
            todo = todo[more]
            slots[todo] = (s[more] + 1) & self.mask
        return ids

    def _insert(self, keys: np.ndarray, ids: np.ndarray) -> None:
        """Insert distinct keys that are not in the table yet."""
        slots = self._slots(keys)
        todo = np.arange(keys.shape[0])
        while todo.size:
            s = slots[todo]
            free = self.slot_ids[s] < 0
            cand, cs = todo[free], s[free]
            self.slot_keys[cs] = keys[cand]  # keys sharing a free slot: one write wins
            won = self.slot_keys[cs] == keys[cand]
            self.slot_ids[cs[won]] = ids[cand[won]]
            free[free] = won
            todo = todo[~free]
            slots[todo] = (s[~free] + 1) & self.mask

    def ids(self, keys: np.ndarray, words: np.ndarray, may_add: np.ndarray) -> np.ndarray:
        """Region id of each pattern; new patterns get new ids where ``may_add``, else -1."""
        ids = self._find(keys)
        hit = ids >= 0
        if not self.plain and len(self):
            known = np.take(self.words, np.maximum(ids, 0), axis=0)
            if ((known != words).any(axis=1) & hit).any():
                raise _HashCollision
        new = may_add & ~hit
        if new.any():
            new_keys, new_words = keys[new], words[new]
            uniq, first, inverse = np.unique(new_keys, return_index=True, return_inverse=True)
            if not self.plain and not np.array_equal(new_words[first][inverse], new_words):
                raise _HashCollision
            m = len(self)
            fresh = np.arange(m, m + uniq.shape[0], dtype=np.int32)
            ids[new] = fresh[inverse]
            self.words = np.concatenate([self.words, new_words[first]])
            if 4 * len(self) > (1 << self.bits):  # keep the load under 1/4: grow and re-insert
                bits = self.bits
                while 8 * len(self) > (1 << bits):
                    bits += 1
                self._alloc(bits)
                self._insert(_pattern_keys(self.words, self.plain), np.arange(len(self), dtype=np.int32))
            else:
                self._insert(uniq, fresh)
        return ids


@torch.no_grad()
def _refined_partition(model: Network, layers: list, resolution: int) -> GridPartition:
    r = resolution
    ev = _evaluator(model)
    layers = [(W, b[:, None]) for W, b in layers]
    slopes = model.slopes
    plain_keys = ev.hidden <= 63  # the pattern itself is the key (its top bit is free)
    out_dim = layers[-1][0].shape[0]
    block = REFINE_BLOCK
    nb = max(1, -(-(r - 1) // block))
    p = nb * block + 1  # padded lattice side; rows/columns past r are evaluated, then cropped
    end = p - 1
    idx = np.arange(p, dtype=np.float64)
    xs = (-1.0 + (2.0 * idx + 1.0) / r).astype(np.float32)  # same arithmetic as grid_points
    ys = (-1.0 + (2.0 * (r - 1 - idx) + 1.0) / r).astype(np.float32)

    # rid: the pixel's region id when the pixel is a safe endpoint of a known region; else
    # (an evaluated point too close to a boundary for float rounding, or a point on the
    # padding whose pattern is not on the grid so far) a negative value unique to it, so
    # that nothing inherits from it. Only regions met on the grid itself get ids.
    rid = np.empty((p, p), dtype=np.int32)
    pred = np.empty((p, p, out_dim), dtype=np.float32)
    flat_rid, flat_pred = rid.reshape(-1), pred.reshape(-1, out_dim)
    table = _RegionTable(plain_keys, ev.words)
    fixes: list[tuple[np.ndarray, np.ndarray]] = []  # grid pixels holding a marker, and their ids
    state = {"count": 0, "tau": None}

    def evaluate(flat: np.ndarray, want_scale: bool = False, endpoints: bool = True) -> None:
        """Evaluate the pixels ``flat`` (indices into the padded grid) and store them.
        ``endpoints=False``: they will never be the end of a pair (no margins needed)."""
        n = flat.shape[0]
        if n == 0:
            return
        rows, cols = np.divmod(flat, p)
        pts = np.empty((2, max(n, MIN_BATCH)), dtype=np.float32)
        pts[0, :n] = xs[cols]
        pts[1, :n] = ys[rows]
        pts[:, n:] = pts[:, :1]
        words, out, minabs, maxabs = ev(layers, slopes, pts, want_scale, margins=endpoints)
        words, out, minabs = words[:n], out[:n], minabs[:, :n]
        if want_scale:
            state["tau"] = (MARGIN_REL * maxabs)[:, None]
        inside = (rows < r) & (cols < r)
        ids = table.ids(_pattern_keys(words, plain_keys), words, inside)
        usable = np.all(minabs > state["tau"], axis=0)
        usable &= ids >= 0
        markers = -1 - np.arange(state["count"], state["count"] + n, dtype=np.int32)
        state["count"] += n
        flat_rid[flat] = np.where(usable, ids, markers)
        flat_pred[flat] = out
        fix = inside & ~usable
        if fix.any():
            fixes.append((rows[fix] * r + cols[fix], ids[fix]))

    # Coarse lattice: every block-th pixel, evaluated.
    lattice = np.arange(nb + 1) * block
    evaluate((lattice[:, None] * p + lattice[None, :]).ravel(), want_scale=True)

    def inherit(target, a, b, step, row_off, col_off, other) -> np.ndarray:
        """Points ``target`` (a strided view) take the region of pair (a, b) where it agrees,
        else of the pair at +-``other`` (row, col offsets); returns the flat indices of the
        points where neither pair agrees (to be evaluated)."""
        ra = rid[a]
        differ = ra != rid[b]
        rid[target] = ra
        pt = pred[target]
        np.add(pred[a], pred[b], out=pt)
        pt *= 0.5
        ii, jj = np.divmod(np.flatnonzero(differ), differ.shape[1])
        rows, cols = ii * step + row_off, jj * step + col_off
        flat = rows * p + cols
        if flat.size == 0:
            return flat
        dr, dc = other
        # The other pair leaves the grid only for edge midpoints on the grid's border.
        if dc == 0:
            valid = (rows >= dr) & (rows <= end - dr)
        elif dr == 0:
            valid = (cols >= dc) & (cols <= end - dc)
        else:
            valid = None  # block centres: always inside
        centre = flat if valid is None else flat[valid]
        offset = dr * p + dc
        k = flat_rid[centre - offset]
        agree = k == flat_rid[centre + offset]
        if agree.any():
            hit = centre[agree]
            flat_rid[hit] = k[agree]
            flat_pred[hit] = (flat_pred[hit - offset] + flat_pred[hit + offset]) * 0.5
            if valid is None:
                return flat[~agree]
            valid[valid] = agree
            return flat[~valid]
        return flat

    s = block
    while s > 1:
        h = s // 2
        e0, e1, mid, every = slice(0, end, s), slice(s, None, s), slice(h, None, s), slice(0, None, s)
        # Block centres (two diagonals); then midpoints of horizontal edges (the edge, or
        # the centres above and below) and of vertical edges (the edge, or the centres beside).
        evaluate(inherit((mid, mid), (e0, e0), (e1, e1), s, h, h, (h, -h)))
        todo_h = inherit((every, mid), (every, e0), (every, e1), s, 0, h, (h, 0))
        todo_v = inherit((mid, every), (e0, every), (e1, every), s, h, 0, (0, h))
        evaluate(np.concatenate([todo_h, todo_v]), endpoints=h > 1)
        s = h

    region_ids = np.ascontiguousarray(rid[:r, :r])
    for where, ids in fixes:
        region_ids.reshape(-1)[where] = ids
    return GridPartition(
        resolution=r,
        hidden=ev.hidden,
        region_ids=region_ids,
        region_words=table.words,
        boundary=boundary_mask(region_ids),
        prediction=np.ascontiguousarray(pred[:r, :r]),
    )
