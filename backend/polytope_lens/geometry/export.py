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

from ..core.training import load_checkpoint_model
from .decision import decision_json, decision_regions, decision_svg, with_decision_overlay
from .documents import partition_document
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
    out = Path(out_path)
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out}: the output must end in .json or .svg (the partition), or .obj or .ply (its surface)")
    if output is not None and fmt not in SURFACE_FORMATS:
        raise ValueError(f"--output chooses the height of a surface: write FILE.obj or FILE.ply, not {out.suffix}")
    model, config, step = load_checkpoint_model(checkpoint_path)
    classes = _checkpoint_class_colors(checkpoint_path) if config.task == "classify" else None
    L = len(config.widths)
    k = L if layers is None else int(layers)
    if not 1 <= k <= L:
        raise ValueError(f"layers must be 1..{L} (the network has {L} hidden layers), got {layers}")
    start = time.perf_counter()
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    moment = None
    if model.in_dim == 3:
        moment = 0.0 if t is None else float(t)
        if not -1.0 <= moment <= 1.0:
            raise ValueError(f"t must be within -1..1 (the clip runs from t = -1 to t = 1), got {t}")
        model = slice_model(model, moment)
    if fmt in SURFACE_FORMATS:
        if k != L:
            raise ValueError("a surface is the network's output: it needs all hidden layers (leave out --layers)")
        chosen = parse_output(output, model.task, model.out_dim)
        part = exact_partition(model, max_regions=max_regions, deadline=deadline)
        mesh = surface_for(part, model.task, chosen)
        comments = [f"Polytope Lens origami surface of {Path(checkpoint_path).name}: z = the output {chosen} "
                    "over the square [-1, 1]^2",
                    f"step {step}" + ("" if moment is None else f", t = {moment:g}")
                    + f", {config.architecture_label(model.out_dim, in_dim=2 if moment is None else 3)}"]
        data = (obj_bytes if fmt == "obj" else ply_bytes)(mesh, chosen, comments, deadline=deadline)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        return {"path": str(out), "format": fmt, "regions": part.region_count, "facets": mesh.facet_count,
                "output": str(chosen), "layers": L, "hidden_layers": L, "step": step, "t": moment,
                "area_sum": float(mesh.areas().sum()), "seconds": round(time.perf_counter() - start, 3),
                "bytes": len(data)}
    part = exact_partition(model, max_layers=k, max_regions=max_regions, deadline=deadline)
    decision = decision_regions(part) if classes and part.complete else None  # a classifier's exact decision regions
    if fmt == "json":  # the compact document the server sends (documents.py), with the run's config
        extra = {"format": DOCUMENT_FORMAT, "step": step, "config": config.model_dump(), "layers": k,
                 "hidden_layers": L, **({} if moment is None else {"t": moment})}
        if decision is not None:
            extra.update(classes=classes, decision=decision_json(decision, classes))
        text = partition_document(part, extra).decode()
    else:
        text = partition_svg(part, size=size)
        if decision is not None:
            text = with_decision_overlay(text, decision_svg(decision, part.box, size, classes))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return {
        "path": str(out),
        "format": fmt,
        "regions": part.region_count,
        "layers": k,
        "hidden_layers": L,
        "step": step,
        "t": moment,
        "area_sum": float(part.areas().sum()),
        "seconds": round(time.perf_counter() - start, 3),
        "bytes": len(text.encode()),
        **({"boundary_length": round(decision.boundary_length, 6), "boundary_regions": decision.regions_crossed}
           if decision is not None else {}),
    }


def _checkpoint_class_colors(checkpoint_path) -> list[str]:
    """The class colours of a classifier's checkpoint, found again from the picture it keeps."""
    from ..core.classes import find_classes
    from ..core.training import checkpoint_target, read_checkpoint

    return find_classes(checkpoint_target(read_checkpoint(Path(checkpoint_path)))).css_colors()
