"""Activation patterns: packing into words, a stable hash, colours and text.

A pattern is one bit per hidden neuron (on = pre-activation > 0), layer after
layer. Region identity is always the exact bits; the hash only picks a colour,
so a region keeps its colour while training moves it, and the page's WebGL
renderer computes the same colour from the same bits.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


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


def bit_pattern_colors(patterns: np.ndarray) -> np.ndarray:
    """Stable RGB colour (R, 3) uint8 per bool pattern: the grid view's colour for the same pattern."""
    bits = np.asarray(patterns, dtype=bool)
    return pattern_colors(pack_patterns(bits))


def pattern_strings(patterns: np.ndarray, widths: Sequence[int]) -> list[str]:
    """'0110|1001|...' per row, built as one byte array (a Python loop per bit is ~50x slower)."""
    bits = np.asarray(patterns, dtype=bool)
    bounds = np.cumsum([0, *widths])
    parts = []
    for i, (s, e) in enumerate(zip(bounds[:-1], bounds[1:])):
        if i:
            parts.append(np.full((bits.shape[0], 1), ord("|"), dtype=np.uint8))
        parts.append(np.where(bits[:, s:e], ord("1"), ord("0")).astype(np.uint8))
    buf = np.ascontiguousarray(np.concatenate(parts, axis=1)) if parts else np.zeros((bits.shape[0], 0), np.uint8)
    if buf.shape[0] == 0 or buf.shape[1] == 0:
        return [""] * buf.shape[0]
    return buf.view(f"S{buf.shape[1]}")[:, 0].astype(str).tolist()
