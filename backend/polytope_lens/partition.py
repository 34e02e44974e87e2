"""The network's linear regions as seen on an R x R grid over [-1, 1]^2.

Every grid point gets its activation pattern (one bit per hidden neuron, on
when the pre-activation is > 0), packed into 64-bit words. Regions are told
apart by the exact packed pattern: a hash is used only to sort quickly, and
every hash bucket is checked against the real bits, so two different patterns
are never merged.

Grid orientation matches images.py: row 0 is the top (y close to +1),
column 0 is the left (x close to -1); pixel centres, not edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import MLP

# Points per forward chunk: keeps activations of a 64-wide layer in cache-sized blocks.
CHUNK_POINTS = 1 << 16
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def grid_points(resolution: int) -> np.ndarray:
    """(R*R, 2) float32 pixel-centre coordinates in row-major order, y up."""
    centres = -1.0 + (2.0 * np.arange(resolution, dtype=np.float64) + 1.0) / resolution
    xs = np.tile(centres, resolution)
    ys = np.repeat(centres[::-1], resolution)
    return np.stack([xs, ys], axis=1).astype(np.float32)


def words_per_pattern(hidden: int) -> int:
    return max(1, (hidden + 63) // 64)


def pack_patterns(bits: np.ndarray) -> np.ndarray:
    """bool (N, H) -> uint64 (N, K); bit h of the pattern is bit h%64 of word h//64."""
    n, hidden = bits.shape
    k = words_per_pattern(hidden)
    packed = np.packbits(bits, axis=1, bitorder="little")
    if packed.shape[1] != 8 * k:
        packed = np.concatenate([packed, np.zeros((n, 8 * k - packed.shape[1]), np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view("<u8").reshape(n, k)


def unpack_patterns(words: np.ndarray, hidden: int) -> np.ndarray:
    """uint64 (N, K) -> bool (N, H); inverse of pack_patterns."""
    raw = np.ascontiguousarray(words.astype("<u8")).view(np.uint8).reshape(words.shape[0], -1)
    return np.unpackbits(raw, axis=1, bitorder="little")[:, :hidden].astype(bool)


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the whole word (wrapping arithmetic)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def pattern_hash(words: np.ndarray) -> np.ndarray:
    """uint64 (N, K) -> uint64 (N,). Depends only on the pattern bits."""
    h = np.full(words.shape[0], 0x9E3779B97F4A7C15, dtype=np.uint64)
    for k in range(words.shape[1]):
        h = _mix64(h ^ words[:, k])
    return h


def pattern_colors(words: np.ndarray) -> np.ndarray:
    """uint8 (N, 3) colours from patterns: the same pattern always gets the same colour.

    Hue comes from the hash; saturation and value stay in a band so every
    region is clearly coloured but never black or white.
    """
    h = pattern_hash(words)
    hue = (h & np.uint64(0xFFFF)).astype(np.float64) / 65536.0
    sat = 0.45 + 0.35 * ((h >> np.uint64(16)) & np.uint64(0xFF)).astype(np.float64) / 255.0
    val = 0.70 + 0.25 * ((h >> np.uint64(24)) & np.uint64(0xFF)).astype(np.float64) / 255.0
    return _hsv_to_rgb(hue, sat, val)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6.0).astype(np.int64) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    rgb = np.zeros((h.shape[0], 3))
    for idx, (r, g, b) in enumerate(choices):
        sel = i == idx
        rgb[sel, 0], rgb[sel, 1], rgb[sel, 2] = r[sel], g[sel], b[sel]
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


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

    def region_patterns(self) -> np.ndarray:
        """bool (regions, H): the activation pattern of each region."""
        return unpack_patterns(self.region_words, self.hidden)

    def region_colors(self) -> np.ndarray:
        """uint8 (regions, 3), stable across frames (derived from the pattern)."""
        return pattern_colors(self.region_words)

    def color_image(self) -> np.ndarray:
        """uint8 (R, R, 3): every pixel in its region's colour."""
        return self.region_colors()[self.region_ids]


@torch.no_grad()
def grid_patterns(model: MLP, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed patterns (R*R, K) and outputs (R*R, C) of every pixel centre."""
    device = next(model.parameters()).device
    points = torch.from_numpy(grid_points(resolution)).to(device)
    hidden = model.hidden_count
    n = points.shape[0]
    words = np.empty((n, words_per_pattern(hidden)), dtype=np.uint64)
    out = np.empty((n, model.linears[-1].out_features), dtype=np.float32)
    bits = torch.empty((min(n, CHUNK_POINTS), hidden), dtype=torch.bool, device=device)
    for start in range(0, n, CHUNK_POINTS):
        stop = min(n, start + CHUNK_POINTS)
        x = points[start:stop]
        col = 0
        for linear in model.linears[:-1]:
            z = linear(x)
            width = z.shape[1]
            torch.gt(z, 0, out=bits[: stop - start, col : col + width])
            col += width
            x = model.activate(z)
        out[start:stop] = model.linears[-1](x).cpu().numpy()
        words[start:stop] = pack_patterns(bits[: stop - start].cpu().numpy())
    return words, out


def compute_partition(model: MLP, resolution: int) -> GridPartition:
    """Patterns, region ids, boundaries and prediction on an R x R grid."""
    words, out = grid_patterns(model, resolution)
    region_words, inverse = exact_unique(words)
    region_ids = inverse.reshape(resolution, resolution)
    return GridPartition(
        resolution=resolution,
        hidden=model.hidden_count,
        region_ids=region_ids,
        region_words=region_words,
        boundary=boundary_mask(region_ids),
        prediction=out.reshape(resolution, resolution, -1),
    )
