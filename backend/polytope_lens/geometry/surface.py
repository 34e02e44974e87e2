"""The origami surface: a network's output over the plane as exact flat facets.

On each linear region (exact.py) the network is one affine map, so the graph
z = f(x, y) of one output over the region is a flat facet: the region's polygon
lifted by the region's own map. Facets meet at creases, the region boundaries.
Lifting every exact polygon gives the exact surface, no grid involved.

Which height (an ``Output``, written as text on the command line, the REST
routes and the page):

- ``channel:i``: output i (a gray picture has one, a colour picture three);
- ``luminance``: 0.299 R + 0.587 G + 0.114 B of a colour picture's outputs
  (affine in the outputs, so affine on every region: still exact);
- ``winner`` (classifiers): the winning class's score, max_k s_k. It is
  piecewise affine too, with more pieces: each region is cut by the argmax
  boundaries (decision.py) into the exact decision pieces, and each piece is a
  facet lifted by its class's score;
- ``class:i`` (classifiers): class i's score over the linear regions.

Heights are the network's raw outputs (a regression's prediction before it is
clipped to [0, 1] for the picture: clipping would add creases that are not
region boundaries).

A :class:`Surface` holds the facets (padded polygons as in ExactPartition),
every output's map on each facet, the linear region it lies in, the partition
panel's colour of that region and, where the facets are decision pieces, the
winning class. Writers: Wavefront OBJ (one group per facet, ``g region_K``, or
``g region_K_class_C`` for a decision piece; float64 coordinates written in
their shortest exact form; each polygon as a fan of triangles), binary PLY, and
the binary ``surface`` message of docs/protocol.md ("The origami surface") that
the page draws. Numerics only: no torch, no web code.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..core.container import pack, unpack
from .decision import DecisionRegions, decision_regions
from .documents import DocumentTooLarge
from .exact import ExactPartition, shoelace
from .patterns import bit_pattern_colors

LUMINANCE = (0.299, 0.587, 0.114)  # weights of R, G, B (ITU-R BT.601, as the page's gray)
OUTPUT_KINDS = ("channel", "luminance", "winner", "class")
OUTPUT_HELP = "channel:i, luminance (colour pictures), winner or class:i (classifiers)"
SECTION_ALIGN = 4  # bytes: every section of a surface message may be viewed as a 4-byte typed array
OBJ_CHUNK = 4096  # facets written between looks at the byte cap and the clock
_OUTPUT_TEXT = re.compile(r"^(channel|class):(\d{1,4})$|^(luminance|winner)$")


@dataclass(frozen=True)
class Output:
    """Which height a surface shows: ``kind`` one of OUTPUT_KINDS, ``index`` for channel and class."""

    kind: str
    index: int | None = None

    def __str__(self) -> str:
        return self.kind if self.index is None else f"{self.kind}:{self.index}"


def default_output(task: str, out_dim: int) -> Output:
    """The page's default: a classifier's winning score, a colour picture's luminance, else the output."""
    if task == "classify":
        return Output("winner")
    return Output("luminance") if out_dim == 3 else Output("channel", 0)


def parse_output(text: str | None, task: str, out_dim: int) -> Output:
    """``"channel:0"``, ``"luminance"``, ``"winner"``, ``"class:2"`` (None or "": the default) for a
    network of ``task`` with ``out_dim`` outputs. ValueError, in words, for a choice it does not have."""
    if text is None or text == "":
        return default_output(task, out_dim)
    match = _OUTPUT_TEXT.match(text.strip())
    if match is None:
        raise ValueError(f"output must be one of {OUTPUT_HELP}; got {text[:40]!r}")
    kind = match.group(1) or match.group(3)
    index = int(match.group(2)) if match.group(2) is not None else None
    classify = task == "classify"
    if kind in ("winner", "class") and not classify:
        raise ValueError(f"output {kind!r} is for classifiers; this network regresses a picture "
                         f"(choose channel:0..{out_dim - 1}{' or luminance' if out_dim == 3 else ''})")
    if kind in ("channel", "luminance") and classify:
        raise ValueError(f"output {kind!r} is for pictures; this network classifies (choose winner or "
                         f"class:0..{out_dim - 1})")
    if kind == "luminance" and out_dim != 3:
        raise ValueError(f"output 'luminance' needs a colour picture's 3 outputs; this network has {out_dim} "
                         "(choose channel:0)")
    if index is not None and not 0 <= index < out_dim:
        raise ValueError(f"output {kind}:{index} does not exist: this network has {out_dim} output"
                         f"{'s' if out_dim != 1 else ''} ({kind}:0..{out_dim - 1})")
    return Output(kind, index)


@dataclass
class Surface:
    """The facets of a surface (see the module docstring).

    ``vertices`` (P, M, 2) float64 counter-clockwise, padded as ExactPartition's; ``counts`` (P,);
    ``A`` (P, K, 2), ``c`` (P, K): every output's map on each facet; ``regions`` (P,) the linear
    region (index into the partition) each facet lies in; ``colors`` (P, 3) uint8 that region's
    pattern colour; ``winner`` (P,) the winning class where the facets are decision pieces, else
    None. ``region_count``: the partition's linear regions.
    """

    vertices: np.ndarray
    counts: np.ndarray
    A: np.ndarray
    c: np.ndarray
    regions: np.ndarray
    colors: np.ndarray
    winner: np.ndarray | None
    box: tuple[float, float, float, float]
    region_count: int
    task: str

    @property
    def facet_count(self) -> int:
        return int(self.counts.shape[0])

    @property
    def out_dim(self) -> int:
        return int(self.c.shape[1])

    @property
    def pieces(self) -> bool:
        """The facets are decision pieces (a region cut by its argmax boundaries)."""
        return self.winner is not None

    def areas(self) -> np.ndarray:
        """Projected (x, y) area of every facet."""
        return shoelace(self.vertices)

    def flat_vertices(self) -> np.ndarray:
        """(V, 2): every facet's vertices without padding, facet after facet."""
        return self.vertices[self._valid()]

    def _valid(self) -> np.ndarray:
        return np.arange(self.vertices.shape[1])[None, :] < self.counts[:, None]

    def height_map(self, output: Output) -> tuple[np.ndarray, np.ndarray]:
        """The map of ``output`` on every facet: a (P, 2), b (P,), z = a·(x, y) + b."""
        if output.kind == "luminance":
            w = np.asarray(LUMINANCE)
            return np.einsum("k,pkd->pd", w, self.A), self.c @ w
        if output.kind == "winner":
            if self.winner is None:
                raise ValueError("the winning score's facets are the decision pieces: build the surface with pieces")
            rows = np.arange(self.facet_count)
            return self.A[rows, self.winner], self.c[rows, self.winner]
        return self.A[:, output.index], self.c[:, output.index]

    def heights(self, output: Output) -> np.ndarray:
        """z of ``output`` at every flat vertex (V,), each lifted by its facet's own map (float64)."""
        a, b = self.height_map(output)
        facet = np.repeat(np.arange(self.facet_count), self.counts)
        xy = self.flat_vertices()
        return xy[:, 0] * a[facet, 0] + xy[:, 1] * a[facet, 1] + b[facet]

    def triangles(self) -> np.ndarray:
        """(T, 3) indices into the flat vertices: each facet's polygon as a fan from its first vertex
        (convex polygons: the fan covers it exactly)."""
        n = self.counts.astype(np.int64)
        first = np.cumsum(n) - n
        fans = np.maximum(n - 2, 0)
        facet = np.repeat(np.arange(n.size), fans)
        i = np.arange(fans.sum()) - np.repeat(np.cumsum(fans) - fans, fans) + 1
        base = first[facet]
        return np.stack([base, base + i, base + i + 1], axis=1)

    def group_names(self) -> list[str]:
        """One name per facet: ``region_K``, or ``region_K_class_C`` for a decision piece."""
        if self.winner is None:
            return [f"region_{k}" for k in self.regions.tolist()]
        return [f"region_{k}_class_{c}" for k, c in zip(self.regions.tolist(), self.winner.tolist())]

    def creases(self, output: Output) -> np.ndarray:
        """(E, 2, 3) crease edges in 3-D: the facets' edges that are not on the box's sides, each
        shared edge once (its two facets compute it separately; they agree to rounding, so edges
        are matched by their end points rounded to 1e-9 of the box)."""
        valid = self._valid()
        nxt = np.where(np.arange(self.vertices.shape[1])[None, :] + 1 < self.counts[:, None],
                       np.arange(self.vertices.shape[1])[None, :] + 1, 0)
        rows = np.arange(self.facet_count)[:, None]
        p, q = self.vertices, self.vertices[rows, nxt]
        x0, x1, y0, y1 = self.box
        tol = 1e-9 * max(x1 - x0, y1 - y0)
        on_side = np.zeros(valid.shape, dtype=bool)
        for axis, value in ((0, x0), (0, x1), (1, y0), (1, y1)):
            on_side |= (np.abs(p[..., axis] - value) <= tol) & (np.abs(q[..., axis] - value) <= tol)
        keep = valid & ~on_side & (np.hypot(*(q - p).transpose(2, 0, 1)) > tol)
        f, m = np.nonzero(keep)
        a, b = p[f, m], q[f, m]
        key = np.round(np.concatenate([np.minimum(a, b), np.maximum(a, b)], axis=1) / tol).astype(np.int64)
        _, first = np.unique(key, axis=0, return_index=True)
        f, a, b = f[first], a[first], b[first]
        A, B = self.height_map(output)
        za = (a * A[f]).sum(axis=1) + B[f]
        zb = (b * A[f]).sum(axis=1) + B[f]
        return np.stack([np.column_stack([a, za]), np.column_stack([b, zb])], axis=1)


def build_surface(partition: ExactPartition, task: str = "regress", pieces: bool | None = None,
                  decision: DecisionRegions | None = None) -> Surface:
    """The surface of a complete partition of a network of ``task``: one facet per linear region,
    or with ``pieces`` (default: for a classifier) one per exact decision piece (decision.py), each
    with its winning class (``decision``: the partition's decision regions when already computed)."""
    if not partition.complete:
        raise ValueError("a surface needs the network's output: the partition of all hidden layers")
    pieces = task == "classify" if pieces is None else pieces
    colors = bit_pattern_colors(partition.patterns)[:, :3]
    if not pieces:
        return Surface(partition.vertices, partition.counts, partition.A, partition.c,
                       np.arange(partition.region_count), colors, None, partition.box, partition.region_count, task)
    decision = decision if decision is not None else decision_regions(partition)
    reg = decision.regions
    return Surface(decision.vertices, decision.counts, partition.A[reg], partition.c[reg], reg, colors[reg],
                   decision.classes, partition.box, partition.region_count, task)


def surface_for(partition: ExactPartition, task: str, output: Output) -> Surface:
    """The surface an export of ``output`` writes: a classifier's winning score over its decision
    pieces, anything else over the linear regions."""
    return build_surface(partition, task, pieces=task == "classify" and output.kind == "winner")


# ---------------------------------------------------------------------------
# The binary surface message (docs/protocol.md, "The origami surface")
# ---------------------------------------------------------------------------


def surface_sections(surface: Surface) -> list[tuple[str, bytes]]:
    """``counts``, ``vertices``, ``maps``, ``colors`` and, for decision pieces, ``winner`` and ``region``."""
    P, K = surface.facet_count, surface.out_dim
    maps = np.empty((P, K, 3), dtype="<f4")
    maps[..., :2] = surface.A
    maps[..., 2] = surface.c
    sections = [
        ("counts", surface.counts.astype("<u4").tobytes()),
        ("vertices", surface.flat_vertices().astype("<f4").tobytes()),
        ("maps", maps.tobytes()),
        ("colors", np.ascontiguousarray(surface.colors, dtype=np.uint8).tobytes()),
    ]
    if surface.winner is not None:
        sections.append(("winner", surface.winner.astype(np.uint8).tobytes()))
        sections.append(("region", surface.regions.astype("<u4").tobytes()))
    return sections


def surface_message_bytes(surface: Surface) -> int:
    """The payload size of :func:`surface_message` (before the header), known before it is packed."""
    P, K, V = surface.facet_count, surface.out_dim, int(surface.counts.sum())
    sizes = [4 * P, 8 * V, 12 * P * K, 3 * P] + ([P, 4 * P] if surface.winner is not None else [])
    return sum(s + (-s % SECTION_ALIGN) for s in sizes)


def surface_message(surface: Surface, step: int, t: float | None = None, output: Output | None = None,
                    extra: dict | None = None) -> bytes:
    """The binary ``surface`` message (websocket and REST body) of ``surface`` at ``step``."""
    header = {
        "type": "surface", "step": int(step), "regions": surface.facet_count,
        "linear_regions": surface.region_count, "out_dim": surface.out_dim,
        "box": [float(v) for v in surface.box], "t": None if t is None else float(t), "task": surface.task,
        "exact": True, "output": None if output is None else str(output), **(extra or {}),
    }
    return pack(header, surface_sections(surface), align=SECTION_ALIGN)


def decode_surface(message: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """A surface message read back (tests, Python clients): the header, and per section an array:
    ``counts`` (P,), ``vertices`` (V, 2), ``maps`` (P, K, 3), ``colors`` (P, 3), ``winner`` and
    ``region`` (P,) where present."""
    header, raw = unpack(message)
    if header.get("type") != "surface":
        raise ValueError(f"not a surface message (type {header.get('type')!r})")
    P, K = header["regions"], header["out_dim"]
    arrays = {
        "counts": np.frombuffer(raw["counts"], "<u4"),
        "vertices": np.frombuffer(raw["vertices"], "<f4").reshape(-1, 2),
        "maps": np.frombuffer(raw["maps"], "<f4").reshape(P, K, 3),
        "colors": np.frombuffer(raw["colors"], np.uint8).reshape(P, 3),
    }
    if "winner" in raw:
        arrays["winner"] = np.frombuffer(raw["winner"], np.uint8)
    if "region" in raw:
        arrays["region"] = np.frombuffer(raw["region"], "<u4")
    return header, arrays


# ---------------------------------------------------------------------------
# Files: Wavefront OBJ and PLY
# ---------------------------------------------------------------------------


def _check(total: int, written: int, facets: int, max_bytes: int | None, deadline: float | None, what: str) -> None:
    if max_bytes is not None and total > max_bytes:
        estimate = total * facets / max(1, written)
        raise DocumentTooLarge(f"{facets:,} facets make {what} of about {estimate / 1e6:,.0f} MB, more than the "
                               f"{max_bytes / 1e6:,.0f} MB limit")
    if deadline is not None and time.monotonic() > deadline:
        raise DocumentTooLarge(f"deadline passed while writing the {what}")


def obj_bytes(surface: Surface, output: Output, comments: Sequence[str] = (), *, max_bytes: int | None = None,
              deadline: float | None = None) -> bytes:
    """Wavefront OBJ of the surface of ``output``: per facet a group (``g region_K``), its vertices
    (``v x y z``, float64 in their shortest exact form, z by the facet's own map) and its polygon as
    a fan of triangles (``f``, 1-based indices). ``comments`` become ``#`` lines at the top.
    :class:`DocumentTooLarge` past ``max_bytes`` or ``deadline``."""
    xy = surface.flat_vertices()
    z = surface.heights(output)
    tri = surface.triangles() + 1
    names = surface.group_names()
    counts = surface.counts.tolist()
    fans = [max(0, n - 2) for n in counts]
    head = "".join(f"# {line}\n" for line in comments)
    head += f"# output: {output}; {surface.facet_count} facets over {surface.region_count} linear regions\n"
    parts = [head.encode()]
    total = len(parts[0])
    v_at = t_at = 0
    P = surface.facet_count
    for start in range(0, P, OBJ_CHUNK):
        stop = min(P, start + OBJ_CHUNK)
        nv = sum(counts[start:stop])
        nt = sum(fans[start:stop])
        xs = xy[v_at : v_at + nv].tolist()
        zs = z[v_at : v_at + nv].tolist()
        ts = tri[t_at : t_at + nt].tolist()
        lines, vi, ti = [], 0, 0
        for p in range(start, stop):
            lines.append(f"g {names[p]}")
            for k in range(vi, vi + counts[p]):
                lines.append(f"v {xs[k][0]!r} {xs[k][1]!r} {zs[k]!r}")
            for k in range(ti, ti + fans[p]):
                a, b, c = ts[k]
                lines.append(f"f {a} {b} {c}")
            vi += counts[p]
            ti += fans[p]
        chunk = ("\n".join(lines) + "\n").encode()
        parts.append(chunk)
        total += len(chunk)
        v_at += nv
        t_at += nt
        _check(total, stop, P, max_bytes, deadline, "an OBJ file")
    return b"".join(parts)


def ply_bytes(surface: Surface, output: Output, comments: Sequence[str] = (), *, max_bytes: int | None = None,
              deadline: float | None = None) -> bytes:
    """Binary little-endian PLY of the surface of ``output``: float64 vertices (x, y, z), triangles
    (each facet's fan) with the facet's linear ``region``, its ``class`` for decision pieces, and the
    region's pattern colour (``red``, ``green``, ``blue``)."""
    xy = surface.flat_vertices()
    tri = surface.triangles()
    facet = np.repeat(np.arange(surface.facet_count), np.maximum(surface.counts - 2, 0))
    V, T = xy.shape[0], tri.shape[0]
    size = V * 24 + T * (1 + 12 + 4 + (4 if surface.pieces else 0) + 3)
    _check(size, surface.facet_count, surface.facet_count, max_bytes, deadline, "a PLY file")
    verts = np.empty((V, 3), dtype="<f8")
    verts[:, :2] = xy
    verts[:, 2] = surface.heights(output)
    fields = [("n", "u1"), ("v", "<i4", (3,)), ("region", "<i4")]
    if surface.pieces:
        fields.append(("class", "<i4"))
    fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    faces = np.empty(T, dtype=np.dtype(fields))
    faces["n"] = 3
    faces["v"] = tri
    faces["region"] = surface.regions[facet]
    if surface.pieces:
        faces["class"] = surface.winner[facet]
    for i, name in enumerate(("red", "green", "blue")):
        faces[name] = surface.colors[facet, i]
    lines = ["ply", "format binary_little_endian 1.0", *(f"comment {c}" for c in comments),
             f"comment output: {output}; {surface.facet_count} facets over {surface.region_count} linear regions",
             f"element vertex {V}", "property double x", "property double y", "property double z",
             f"element face {T}", "property list uchar int vertex_indices", "property int region"]
    if surface.pieces:
        lines.append("property int class")
    lines += ["property uchar red", "property uchar green", "property uchar blue", "end_header"]
    return ("\n".join(lines) + "\n").encode() + verts.tobytes() + faces.tobytes()


def read_ply(data: bytes) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A PLY written by :func:`ply_bytes` read back: vertices (V, 3), triangles (T, 3) and the face
    properties by name (tests and scripts)."""
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode().splitlines()
    V = T = 0
    face_props: list[str] = []
    element = None
    for line in header:
        words = line.split()
        if words[:1] == ["element"]:
            element = words[1]
            if element == "vertex":
                V = int(words[2])
            else:
                T = int(words[2])
        elif words[:1] == ["property"] and element == "face" and words[1] != "list":
            face_props.append(words[-1])
    verts = np.frombuffer(data, "<f8", count=3 * V, offset=end).reshape(V, 3)
    kinds = {"region": "<i4", "class": "<i4", "red": "u1", "green": "u1", "blue": "u1"}
    dtype = np.dtype([("n", "u1"), ("v", "<i4", (3,)), *((p, kinds[p]) for p in face_props)])
    faces = np.frombuffer(data, dtype, count=T, offset=end + 24 * V)
    return verts, faces["v"], {p: faces[p] for p in face_props}


def read_obj(text: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """An OBJ written by :func:`obj_bytes` read back, group by group: (name, the group's vertices
    (n, 3), its triangles (T, 3) as 0-based indices into those vertices) (tests and scripts)."""
    groups: list[tuple[str, list, list]] = []
    vertices: list[tuple[float, float, float]] = []
    owner: list[int] = []
    for line in text.splitlines():
        if line.startswith("g "):
            groups.append((line[2:].strip(), [], []))
        elif line.startswith("v "):
            x, y, z = (float(w) for w in line.split()[1:4])
            vertices.append((x, y, z))
            owner.append(len(groups) - 1)
            groups[-1][1].append(len(vertices) - 1)
        elif line.startswith("f "):
            groups[-1][2].append([int(w.split("/")[0]) - 1 for w in line.split()[1:]])
    out = []
    for name, idx, faces in groups:
        base = idx[0] if idx else 0
        out.append((name, np.array([vertices[i] for i in idx]).reshape(-1, 3),
                    np.array(faces, dtype=np.int64).reshape(-1, 3) - base))
    return out


__all__ = ["Output", "Surface", "LUMINANCE", "OUTPUT_HELP", "build_surface", "surface_for", "default_output",
           "parse_output", "surface_message", "surface_message_bytes", "decode_surface", "obj_bytes", "ply_bytes",
           "read_obj", "read_ply"]
