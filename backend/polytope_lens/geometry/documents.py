"""The exact partition as compact documents (JSON, SVG), built within a byte cap and a deadline.

What ``/regions.json`` and ``/regions.svg`` send and ``polytope-lens regions``
writes. The JSON has the fields of :func:`export.partition_json` (same names,
same nesting), written compactly:

- no spaces; coordinates with 6 decimals (a millionth of the box, 1/2000 of a
  pixel of a 1024² frame), areas with 12, affine maps with 8;
- numbers without a fraction written without ``.0`` (the many exact zeros of
  the maps of switched-off neurons become ``0``);
- ``fields`` may leave out what a client does not need (the page's overlay
  needs only ``polygons`` and ``colors``).

Measured sizes (docs/protocol.md): about 95 bytes per region for polygons and
colours, 242 for everything of a trained 14x6 net, about 1.7 KB for the first
layers of a 64-wide net (where ``A``/``c`` hold 64 activations' maps). Numbers are
written by orjson when it is installed (about 10x faster than json).

Both encoders work region chunk by region chunk, checking the running size
against ``max_bytes`` and the clock against ``deadline``; a document that will
clearly not fit is refused from a sample before any of it is built.
Numerics only (numpy): no torch, no web code, so a worker process imports it
quickly.
"""

from __future__ import annotations

import json
import re
import time
from typing import Iterable, Sequence

import numpy as np

from .exact import ExactPartition, PartitionTooLarge
from .patterns import bit_pattern_colors, pattern_strings

COORD_DECIMALS = 6
AREA_DECIMALS = 12
MAP_DECIMALS = 8
CHUNK = 2048  # regions encoded at a time (between checks of size and clock)
SAMPLE = 256  # regions encoded up front to estimate the size of the whole document
FIELDS = ("polygons", "patterns", "areas", "colors", "A", "c")

_TRAILING_ZERO = re.compile(rb"\.0(?=[,\]])")

try:  # ~10x faster than json for arrays of floats; the json module does the same job without it
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; kept working without it
    orjson = None


class DocumentTooLarge(PartitionTooLarge):
    """The document would pass its byte cap (or its deadline while being written)."""


def parse_fields(text: str | None) -> tuple[str, ...]:
    """``"polygons,colors"`` -> ("polygons", "colors"); None or "" -> all. ValueError names a bad one."""
    if not text:
        return FIELDS
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    bad = [n for n in names if n not in FIELDS]
    if bad or not names:
        raise ValueError(f"fields: unknown field {bad[0][:40]!r}; choose from {', '.join(FIELDS)}" if bad
                         else f"fields: name at least one of {', '.join(FIELDS)}")
    return tuple(n for n in FIELDS if n in names)  # document order


def _numbers(values, fast: bool = True) -> bytes:
    """JSON of a float array, or of a list of float arrays, without the '.0' of whole numbers.

    (A float's shortest form ends in ".0" only when it is whole, so removing ".0" before a
    comma or a bracket touches nothing else.)
    """
    if orjson is not None and fast:
        out = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    else:
        plain = values.tolist() if isinstance(values, np.ndarray) else [v.tolist() for v in values]
        out = json.dumps(plain, separators=(",", ":")).encode()
    return out.replace(b".0,", b",").replace(b".0]", b"]")


def _css(colors: np.ndarray) -> list[str]:
    return ["#%02x%02x%02x" % (int(r), int(g), int(b)) for r, g, b in colors[:, :3]]


class _Encoder:
    def __init__(self, partition: ExactPartition):
        self.p = partition
        self._areas = None
        self._colors = None

    @property
    def areas(self) -> np.ndarray:
        if self._areas is None:
            self._areas = np.round(self.p.areas(), AREA_DECIMALS)
        return self._areas

    @property
    def colors(self) -> np.ndarray:
        if self._colors is None:
            self._colors = bit_pattern_colors(self.p.patterns)
        return self._colors

    def field(self, name: str, idx) -> bytes:
        """The items of field ``name`` for regions ``idx`` (a slice or index array), comma-joined."""
        p = self.p
        if name == "polygons":
            V = np.round(p.vertices[idx], COORD_DECIMALS)
            return _numbers([v[:k] for v, k in zip(V, p.counts[idx])])[1:-1]
        if name == "patterns":
            strings = pattern_strings(p.patterns[idx], p.widths)
            return ('"' + '","'.join(strings) + '"').encode() if strings else b""
        if name == "areas":
            return _numbers(np.ascontiguousarray(self.areas[idx]))[1:-1]
        if name == "colors":
            strings = _css(self.colors[idx])
            return ('"' + '","'.join(strings) + '"').encode() if strings else b""
        if name == "A":  # (+ 0.0: no "-0" for the zeros of switched-off neurons)
            return _numbers(np.round(p.A[idx], MAP_DECIMALS) + 0.0)[1:-1]
        if name == "c":
            return _numbers(np.round(p.c[idx], MAP_DECIMALS) + 0.0)[1:-1]
        raise ValueError(name)


def _check_clock(deadline: float | None, what: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise DocumentTooLarge(f"deadline passed while writing the {what}")


def _too_big(estimate: float, max_bytes: int, regions: int) -> DocumentTooLarge:
    return DocumentTooLarge(
        f"{regions:,} regions make a document of about {estimate / 1e6:,.0f} MB, more than the "
        f"{max_bytes / 1e6:,.0f} MB limit"
    )


def _sample(R: int) -> np.ndarray:
    return np.unique(np.linspace(0, R - 1, num=min(R, SAMPLE)).astype(np.int64)) if R else np.zeros(0, np.int64)


def partition_document(partition: ExactPartition, extra: dict | None = None, *,
                       fields: Sequence[str] = FIELDS, max_bytes: int | None = None,
                       deadline: float | None = None) -> bytes:
    """The partition as compact JSON bytes: ``box``, ``widths``, ``complete``, ``region_count``,
    the per-region ``fields``, then ``extra`` (e.g. step, layers).

    Raises :class:`DocumentTooLarge` when the bytes would pass ``max_bytes`` (estimated from a
    sample first, then counted as written) or the clock passes ``deadline``.
    """
    enc = _Encoder(partition)
    R = partition.region_count
    fields = tuple(f for f in FIELDS if f in fields)
    head = {"box": list(partition.box), "widths": list(partition.widths), "complete": partition.complete,
            "region_count": R}
    parts: list[bytes] = [_TRAILING_ZERO.sub(b"", json.dumps(head, separators=(",", ":")).encode())[:-1]]
    total = len(parts[0])
    if max_bytes is not None and R:
        idx = _sample(R)
        sampled = sum(len(enc.field(name, idx)) + 1 for name in fields)
        estimate = total + sampled * R / len(idx)
        if estimate > 1.05 * max_bytes:
            raise _too_big(estimate, max_bytes, R)
    for name in fields:
        _check_clock(deadline, "regions document")
        parts.append(f',"{name}":['.encode())
        for start in range(0, R, CHUNK):
            chunk = enc.field(name, slice(start, min(R, start + CHUNK)))
            if start:
                parts.append(b",")
            parts.append(chunk)
            total += len(chunk) + 1
            if max_bytes is not None and total > max_bytes:
                raise _too_big(total * R / max(1, min(R, start + CHUNK)) / len(fields), max_bytes, R)
            _check_clock(deadline, "regions document")
        parts.append(b"]")
    if extra:
        parts.append(b"," + json.dumps(extra, separators=(",", ":")).encode()[1:-1])
    parts.append(b"}")
    return b"".join(parts)


def partition_svg_bytes(partition: ExactPartition, size: int = 1024, stroke: str = "#000000",
                        stroke_width: float = 0.6, *, max_bytes: int | None = None,
                        deadline: float | None = None) -> bytes:
    """:func:`export.partition_svg` (same drawing, same text) written chunk by chunk within
    ``max_bytes`` and ``deadline`` (:class:`DocumentTooLarge` past either)."""
    x0, x1, y0, y1 = partition.box
    sx, sy = size / (x1 - x0), size / (y1 - y0)
    R = partition.region_count
    fills = _css(bit_pattern_colors(partition.patterns)) if R else []

    def paths(idx: Iterable[int]) -> str:
        out = []
        for i in idx:
            k = int(partition.counts[i])
            px = (partition.vertices[i, :k, 0] - x0) * sx
            py = (y1 - partition.vertices[i, :k, 1]) * sy
            pts = " L".join(f"{a:.2f},{b:.2f}" for a, b in zip(px.tolist(), py.tolist()))
            out.append(f'<path d="M{pts}Z" fill="{fills[i]}"/>')
        return "".join(out)

    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
            f'viewBox="0 0 {size} {size}">'
            f'<g stroke="{stroke}" stroke-width="{stroke_width}" stroke-linejoin="round">').encode()
    parts = [head]
    total = len(head)
    if max_bytes is not None and R:
        idx = _sample(R)
        estimate = total + len(paths(idx)) * R / len(idx)
        if estimate > 1.05 * max_bytes:
            raise _too_big(estimate, max_bytes, R)
    for start in range(0, R, CHUNK):
        chunk = paths(range(start, min(R, start + CHUNK))).encode()
        parts.append(chunk)
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise _too_big(total * R / min(R, start + CHUNK), max_bytes, R)
        _check_clock(deadline, "SVG drawing")
    parts.append(b"</g></svg>")
    return b"".join(parts)


def marks_svg(marks: Sequence[Sequence[float]], box: Sequence[float], size: int) -> str:
    """Numbered rings at points of the square (x right, y up), e.g. the three points of a plane."""
    x0, x1, y0, y1 = (float(v) for v in box)
    r = max(4, size // 100)
    items = []
    for i, (x, y) in enumerate(marks, 1):
        px, py = (x - x0) / (x1 - x0) * size, (y1 - y) / (y1 - y0) * size
        items.append(f'<g class="mark"><circle cx="{px:.2f}" cy="{py:.2f}" r="{r}" fill="none" stroke="#000" '
                     f'stroke-width="{max(1, r // 3)}"/><circle cx="{px:.2f}" cy="{py:.2f}" r="{r - 1}" fill="none" '
                     f'stroke="#fff" stroke-width="1"/><text x="{px + r + 2:.2f}" y="{py - r - 2:.2f}" '
                     f'font-size="{2 * r}" font-family="sans-serif">{i}</text></g>')
    return f'<g id="marks">{"".join(items)}</g>'
