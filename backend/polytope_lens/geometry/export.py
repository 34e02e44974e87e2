"""The exact partition as documents: JSON (polygons, patterns, areas, colours, affine maps) and SVG.

``export_regions`` writes the partition of a checkpoint's network (what
``polytope-lens regions`` does); the web layer serves the same documents for a
live session.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.network import Network
from ..core.training import load_checkpoint_model
from .decision import decision_json, decision_regions, decision_svg, with_decision_overlay
from .documents import marks_svg, partition_document, partition_svg_bytes
from .exact import ExactPartition, exact_partition
from .patterns import bit_pattern_colors
from .slices import slice_model
from .surface import obj_bytes, parse_output, ply_bytes, surface_for

FORMATS = {".json": "json", ".svg": "svg", ".obj": "obj", ".ply": "ply"}
SURFACE_FORMATS = ("obj", "ply")  # the origami surface (surface.py) rather than the partition
DOCUMENT_FORMAT = "polytope-lens-regions/1"


def partition_json(partition: ExactPartition, decimals: int | None = 9) -> dict:
    """Plain-JSON dict: box, widths, and per region polygon, pattern, area, colour and map."""

    def r(a: np.ndarray):
        return (np.round(a, decimals) if decimals is not None else a).tolist()

    return {
        "box": list(partition.box),
        "widths": list(partition.widths),
        "complete": partition.complete,
        "region_count": partition.region_count,
        "polygons": [r(p) for p in partition.polygons()],
        "patterns": partition.pattern_strings(),
        "areas": r(partition.areas()),
        "colors": [_css_color(col) for col in bit_pattern_colors(partition.patterns)],
        "A": r(partition.A),
        "c": r(partition.c),
    }

def partition_svg(partition: ExactPartition, size: int = 1024, colors: Sequence[str] | np.ndarray | None = None,
           stroke: str = "#000000", stroke_width: float = 0.6) -> str:
    """SVG picture: filled regions (colour from a hash of the pattern) with boundaries.

    ``colors`` may give one CSS colour string or RGB triple per region. SVG's y
    axis points down, so y is flipped to keep the box's y axis pointing up.
    """
    x0, x1, y0, y1 = partition.box
    sx, sy = size / (x1 - x0), size / (y1 - y0)
    if colors is None:
        colors = bit_pattern_colors(partition.patterns)
    fills = [_css_color(col) for col in colors]
    px = (partition.vertices[..., 0] - x0) * sx
    py = (y1 - partition.vertices[..., 1]) * sy
    paths = []
    for i, k in enumerate(partition.counts):
        pts = " L".join(f"{px[i, m]:.2f},{py[i, m]:.2f}" for m in range(k))
        paths.append(f'<path d="M{pts}Z" fill="{fills[i]}"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}">'
        f'<g stroke="{stroke}" stroke-width="{stroke_width}" stroke-linejoin="round">'
        + "".join(paths)
        + "</g></svg>"
    )



def _css_color(col) -> str:
    if isinstance(col, str):
        return col
    r, g, b = (int(x) for x in col[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def export_regions(checkpoint_path: str | Path, out_path: str | Path, layers: int | None = None,
                   *, size: int = 1024, max_regions: int | None = None,
                   time_limit_s: float | None = None, t: float | None = None, output: str | None = None) -> dict:
    """Write the exact partition of the checkpoint's network to ``out_path`` (.json or .svg), or
    its origami surface (.obj or .ply: surface.py) of ``output`` (default: the page's default).

    ``layers=k`` exports the partition induced by the first k hidden layers
    (default: all). ``size`` is the SVG's side in pixels. ``max_regions`` and
    ``time_limit_s`` stop the computation with ``PartitionTooLarge``. A clip's (x, y, t) network is
    exported at the moment ``t`` (default 0; geometry/slices.py); a picture's ignores it.

    Returns a summary: ``{"path", "format", "regions", "layers", "hidden_layers",
    "step", "area_sum", "seconds", "bytes"}``. Raises ``ValueError`` for an
    unknown extension, a bad ``layers`` or a file that is not a checkpoint.
    """
    output_format(out_path, output)
    model, config, step = load_checkpoint_model(checkpoint_path)
    classes = _checkpoint_class_colors(checkpoint_path) if config.task == "classify" else None
    moment = None
    if model.in_dim == 3:
        moment = 0.0 if t is None else float(t)
        if not -1.0 <= moment <= 1.0:
            raise ValueError(f"t must be within -1..1 (the clip runs from t = -1 to t = 1), got {t}")
        model = slice_model(model, moment)
    extra = {"step": step, "config": config.model_dump(), **({} if moment is None else {"t": moment})}
    description = (f"{Path(checkpoint_path).name}, step {step}" + ("" if moment is None else f", t = {moment:g}")
                   + f", {config.architecture_label(model.out_dim, in_dim=2 if moment is None else 3)}")
    summary = write_regions(model, out_path, layers, extra=extra, classes=classes, size=size, max_regions=max_regions,
                            time_limit_s=time_limit_s, output=output, description=description)
    return {**summary, "step": step, "t": moment}


def output_format(out_path: str | Path, output: str | None = None) -> str:
    """"json", "svg", "obj" or "ply" by the output file's extension; ValueError for any other, or for
    a surface's ``output`` choice given with a partition format."""
    fmt = FORMATS.get(Path(out_path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{out_path}: the output must end in .json or .svg (the partition), or .obj or .ply "
                         "(its surface)")
    if output is not None and fmt not in SURFACE_FORMATS:
        raise ValueError(f"--output chooses the height of a surface: write FILE.obj or FILE.ply, not "
                         f"{Path(out_path).suffix}")
    return fmt


def write_regions(network: Network, out_path: str | Path, layers: int | None = None, *, extra: dict | None = None,
                  classes: Sequence[str] | None = None, marks: Sequence[Sequence[float]] = (), size: int = 1024,
                  max_regions: int | None = None, time_limit_s: float | None = None, output: str | None = None,
                  description: str = "") -> dict:
    """Write the exact partition of any 2-input ``network`` to ``out_path`` (.json: the document the
    server sends with ``extra``'s fields added; .svg: regions coloured by pattern), a classifier's
    exact decision regions with it when ``classes`` (its colours) are given, and ``marks`` (points
    on the square, e.g. a plane's three points) as rings in the SVG; or its origami surface
    (.obj, .ply) of ``output``, with ``description`` in the file's comments."""
    out = Path(out_path)
    fmt = output_format(out, output)
    L = len(network.widths)
    k = L if layers is None else int(layers)
    if not 1 <= k <= L:
        raise ValueError(f"layers must be 1..{L} (the network has {L} hidden layers), got {layers}")
    start = time.perf_counter()
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    if fmt in SURFACE_FORMATS:
        return _write_surface(network, out, fmt, k, output, description, max_regions, deadline, start)
    part = exact_partition(network, max_layers=k, max_regions=max_regions, deadline=deadline)
    decision = decision_regions(part) if classes and part.complete else None  # a classifier's exact decision regions
    text = regions_text(part, fmt, hidden_layers=L, extra=extra, classes=classes, marks=marks, size=size,
                        decision=decision)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return {
        "path": str(out),
        "format": fmt,
        "regions": part.region_count,
        "layers": k,
        "hidden_layers": L,
        "area_sum": float(part.areas().sum()),
        "seconds": round(time.perf_counter() - start, 3),
        "bytes": len(text.encode()),
        **({"boundary_length": round(decision.boundary_length, 6), "boundary_regions": decision.regions_crossed}
           if decision is not None else {}),
    }


def _write_surface(network: Network, out: Path, fmt: str, k: int, output: str | None, description: str,
                   max_regions: int | None, deadline: float | None, start: float) -> dict:
    """The origami surface of ``network`` (surface.py) as OBJ or PLY; see :func:`write_regions`."""
    L = len(network.widths)
    if k != L:
        raise ValueError("a surface is the network's output: it needs all hidden layers (leave out --layers)")
    chosen = parse_output(output, network.task, network.out_dim)
    part = exact_partition(network, max_regions=max_regions, deadline=deadline)
    mesh = surface_for(part, network.task, chosen)
    comments = [f"Polytope Lens origami surface: z = the output {chosen} over the square [-1, 1]^2",
                *([description] if description else [])]
    data = (obj_bytes if fmt == "obj" else ply_bytes)(mesh, chosen, comments, deadline=deadline)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return {"path": str(out), "format": fmt, "regions": part.region_count, "facets": mesh.facet_count,
            "output": str(chosen), "layers": L, "hidden_layers": L, "area_sum": float(mesh.areas().sum()),
            "seconds": round(time.perf_counter() - start, 3), "bytes": len(data)}


def regions_text(part: ExactPartition, fmt: str, *, hidden_layers: int, extra: dict | None = None,
                 classes: Sequence[str] | None = None, marks: Sequence[Sequence[float]] = (), size: int = 1024,
                 decision=None, max_bytes: int | None = None) -> str:
    """The document :func:`write_regions` writes for a partition already made (``fmt`` "json" or
    "svg"); polytope_lens.partition's ``to_json`` / ``to_svg`` are this too. ``decision``: the
    partition's decision regions when already made (else made here when ``classes`` are given);
    ``max_bytes`` caps the document (DocumentTooLarge past it)."""
    if decision is None and classes and part.complete:
        decision = decision_regions(part)
    k = len(part.widths)
    if fmt == "json":  # the compact document the server sends (documents.py)
        fields = {"format": DOCUMENT_FORMAT, **(extra or {}), "layers": k, "hidden_layers": hidden_layers}
        if decision is not None:
            fields.update(classes=list(classes), decision=decision_json(decision, list(classes)))
        return partition_document(part, fields, max_bytes=max_bytes).decode()
    text = partition_svg_bytes(part, size=size, max_bytes=max_bytes).decode()  # partition_svg's drawing, capped
    if decision is not None:
        text = with_decision_overlay(text, decision_svg(decision, part.box, size, list(classes)))
    if marks:
        text = with_decision_overlay(text, marks_svg(marks, part.box, size))
    return text


def _checkpoint_class_colors(checkpoint_path) -> list[str]:
    """The class colours of a classifier's checkpoint, found again from the picture it keeps."""
    from ..core.classes import find_classes
    from ..core.training import checkpoint_target, read_checkpoint

    return find_classes(checkpoint_target(read_checkpoint(Path(checkpoint_path)))).css_colors()
