"""Export the exact partition of a saved network: ``polytope-lens regions CHECKPOINT --out FILE.json|.svg``.

``export_regions`` does the work (the CLI subcommand is a thin wrapper):
the network is rebuilt from a checkpoint written by ``polytope-lens train``
(or downloaded from a session), its exact partition computed (exact.py), and
written as JSON (polygons, patterns, areas, colours, affine maps; the same
document as ``GET /api/sessions/{token}/regions.json``) or SVG (regions
filled by pattern colour, boundaries as lines).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .config import RunConfig
from .exact import PartitionTooLarge, exact_partition
from .model import build_mlp
from .training import read_checkpoint

FORMATS = {".json": "json", ".svg": "svg"}
DOCUMENT_FORMAT = "polytope-lens-regions/1"


def load_checkpoint_model(checkpoint_path: str | Path):
    """(model, config, step) from a checkpoint file; the model on CPU, in eval mode."""
    ckpt = read_checkpoint(Path(checkpoint_path))
    config = RunConfig.model_validate(ckpt["config"])
    model = build_mlp(config.widths, out_dim=config.out_dim, activation=config.activation,
                      negative_slope=config.negative_slope)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, config, int(ckpt["step"])


def export_regions(checkpoint_path: str | Path, out_path: str | Path, layers: int | None = None,
                   *, size: int = 1024, max_regions: int | None = None,
                   time_limit_s: float | None = None) -> dict:
    """Write the exact partition of the checkpoint's network to ``out_path`` (.json or .svg).

    ``layers=k`` exports the partition induced by the first k hidden layers
    (default: all). ``size`` is the SVG's side in pixels. ``max_regions`` and
    ``time_limit_s`` stop the computation with ``PartitionTooLarge``.

    Returns a summary: ``{"path", "format", "regions", "layers", "hidden_layers",
    "step", "area_sum", "seconds", "bytes"}``. Raises ``ValueError`` for an
    unknown extension, a bad ``layers`` or a file that is not a checkpoint.
    """
    out = Path(out_path)
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out}: the output must end in .json or .svg")
    model, config, step = load_checkpoint_model(checkpoint_path)
    L = len(config.widths)
    k = L if layers is None else int(layers)
    if not 1 <= k <= L:
        raise ValueError(f"layers must be 1..{L} (the network has {L} hidden layers), got {layers}")
    start = time.perf_counter()
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    part = exact_partition(model, max_layers=k, max_regions=max_regions, deadline=deadline)
    if fmt == "json":
        document = {"format": DOCUMENT_FORMAT, "step": step, "config": config.model_dump(),
                    "layers": k, "hidden_layers": L, **part.to_json()}
        text = json.dumps(document, separators=(",", ":"))
    else:
        text = part.to_svg(size=size)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return {
        "path": str(out),
        "format": fmt,
        "regions": part.region_count,
        "layers": k,
        "hidden_layers": L,
        "step": step,
        "area_sum": float(part.areas().sum()),
        "seconds": round(time.perf_counter() - start, 3),
        "bytes": len(text.encode()),
    }


# -- command line ----------------------------------------------------------------------


def add_regions_parser(subparsers) -> None:
    """The ``regions`` subcommand of the console script (added by cli.build_parser)."""
    p = subparsers.add_parser(
        "regions",
        help="export the exact linear regions of a saved network as JSON or SVG",
        description="Compute the exact partition of the [-1, 1]^2 input square into linear regions "
        "for a checkpoint written by 'polytope-lens train', and write it as JSON (polygons, "
        "activation patterns, affine maps) or SVG (regions coloured by pattern).",
    )
    p.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="checkpoint.pt written by 'polytope-lens train'")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="output file: FILE.json or FILE.svg")
    p.add_argument("--layers", type=int, default=None, metavar="K", help="only the partition of the first K hidden layers (default: all)")
    p.add_argument("--size", type=int, default=1024, help="SVG side in pixels (default: 1024)")
    p.add_argument("--time-limit", type=float, default=None, metavar="S", help="give up after S seconds (default: no limit)")
    p.set_defaults(func=cmd_regions)


def cmd_regions(args) -> int:
    if not args.checkpoint.is_file():
        print(f"polytope-lens regions: error: no such checkpoint: {args.checkpoint}", file=sys.stderr)
        return 2
    try:
        summary = export_regions(args.checkpoint, args.out, args.layers, size=args.size, time_limit_s=args.time_limit)
    except (ValueError, PartitionTooLarge) as exc:
        message = str(exc)
        if message.startswith("not a Polytope Lens checkpoint"):
            message = f"{args.checkpoint}: {message.split(' (')[0]}"  # drop torch's unpickling story
        print(f"polytope-lens regions: error: {message}", file=sys.stderr)
        return 2
    print(f"wrote {summary['path']}: {summary['regions']:,} regions "
          f"(first {summary['layers']} of {summary['hidden_layers']} hidden layers, step {summary['step']}, "
          f"{summary['seconds']:.2f} s)")
    return 0
