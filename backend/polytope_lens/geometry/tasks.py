"""Heavy exact-geometry jobs as plain functions, run in a worker process (web/jobs.py).

Each takes the network as a ``core.network.FrozenNetwork`` (numpy arrays: no
torch needed to receive them) and plain limits, and returns what the route sends:
encoded bytes or a small dict. Its clock starts when it starts (time spent
waiting in the queue is not charged to it), and the deadline covers computing
*and* encoding. Progress goes to a small file the server reads for
``/exact-progress`` (two numbers at offset 0: fraction done, regions so far).

Importing this module is cheap (numpy and the numerics of this package only),
so the worker processes start quickly.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import time
from typing import Sequence

from ..core.network import FrozenNetwork
from .decision import decision_json, decision_regions, region_classes, decision_svg, with_decision_overlay
from .documents import FIELDS, DocumentTooLarge, partition_document, partition_svg_bytes
from .exact import DEFAULT_BOX, exact_partition, neuron_zero_set, region_counts_partial
from .surface import (build_surface, obj_bytes, parse_output, ply_bytes, surface_for, surface_message,
                      surface_message_bytes)

PROGRESS_FORMAT = "<dq"  # fraction done (0..1), regions so far
PROGRESS_BYTES = struct.calcsize(PROGRESS_FORMAT)
PROGRESS_EVERY_S = 0.05


def worker_init(niceness: int = 5) -> None:
    """Runs once in each worker process: lower priority than the server (live sessions and
    health checks come first), and Ctrl-C is the server's business, not the workers'."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if niceness:
        try:
            os.nice(niceness)
        except OSError:  # pragma: no cover - not allowed here
            pass


class ProgressFile:
    """Writes ``(fraction, regions)`` into the file at ``path`` at most every PROGRESS_EVERY_S."""

    def __init__(self, path: str | None):
        self.fd = os.open(path, os.O_WRONLY) if path else None
        self.last = 0.0

    def __call__(self, fraction: float, regions: int) -> None:
        if self.fd is None:
            return
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S or fraction >= 1.0:
            self.last = now
            os.pwrite(self.fd, struct.pack(PROGRESS_FORMAT, float(fraction), int(regions)), 0)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def read_progress(path: str) -> tuple[float, int]:
    """What a job last wrote to its progress file: (fraction, regions); (0, 0) before anything."""
    try:
        with open(path, "rb") as f:
            data = f.read(PROGRESS_BYTES)
    except OSError:
        return 0.0, 0
    if len(data) < PROGRESS_BYTES:
        return 0.0, 0
    fraction, regions = struct.unpack(PROGRESS_FORMAT, data)
    return fraction, regions


def regions_document(weights: FrozenNetwork, layers: int, extra: dict, *, kind: str = "json",
                     fields: Sequence[str] = FIELDS, max_regions: int, max_bytes: int, budget_s: float,
                     box: Sequence[float] = DEFAULT_BOX, progress_path: str | None = None) -> bytes:
    """The exact partition of the first ``layers`` hidden layers as compact JSON (with ``extra``
    fields) or SVG. Raises exact.PartitionTooLarge (or documents.DocumentTooLarge) past a limit."""
    deadline = time.monotonic() + budget_s
    progress = ProgressFile(progress_path)
    try:
        part = exact_partition(weights, box=box, max_layers=layers, max_regions=max_regions, deadline=deadline,
                               progress=progress)
        # a classifier's complete partition carries its exact decision regions (decision.py)
        classes = extra.get("classes") if part.complete else None
        decision = decision_regions(part) if classes else None
        if kind == "svg":
            svg = partition_svg_bytes(part, max_bytes=max_bytes, deadline=deadline)
            return svg if decision is None else with_decision_overlay(svg, decision_svg(decision, part.box, 1024, classes))
        if decision is not None:
            extra = {**extra, "decision": decision_json(decision, classes)}
        return partition_document(part, extra, fields=fields, max_bytes=max_bytes, deadline=deadline)
    finally:
        progress.close()


def layer_counts(weights: FrozenNetwork, *, max_regions: int, budget_s: float,
                 progress_path: str | None = None) -> dict:
    """``{"counts", "reason", "seconds"}``: exact region counts of the first k layers, k = 1..L,
    as far as the limits allow (``reason`` says why it stopped early, else None)."""
    started = time.monotonic()
    progress = ProgressFile(progress_path)
    try:
        counts, reason = region_counts_partial(weights, max_regions=max_regions, deadline=started + budget_s,
                                               progress=progress)
    finally:
        progress.close()
    return {"counts": counts, "reason": reason, "seconds": round(time.monotonic() - started, 3)}


def neuron_line(weights: FrozenNetwork, layer: int, neuron: int, extra: dict, *, max_regions: int,
                budget_s: float, box: Sequence[float] = DEFAULT_BOX, progress_path: str | None = None) -> bytes:
    """JSON bytes of ``{**extra, "segments": [...]}``: where the neuron's pre-activation is 0."""
    progress = ProgressFile(progress_path)
    try:
        segments = neuron_zero_set(weights, layer, neuron, box=box, max_regions=max_regions,
                                   deadline=time.monotonic() + budget_s, progress=progress)
    finally:
        progress.close()
    return json.dumps({**extra, "segments": segments.round(9).tolist()}, separators=(",", ":")).encode()


def inspect(weights: FrozenNetwork, point: tuple[float, float], extra: dict, *, budget_s: float | None = None,
            box: Sequence[float] = DEFAULT_BOX, progress_path: str | None = None) -> bytes:
    """JSON bytes of the inspector's answer for the region containing ``point`` (big networks;
    ``budget_s`` is enforced by the pool: the inspector has no deadline of its own)."""
    from .inspection import inspect_point

    data = inspect_point(weights, point, box)
    data.update(extra)
    if extra.get("classes"):
        data["classify"] = region_classes(data, extra["classes"])
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


SURFACE_FORMATS = ("binary", "obj", "ply")


def surface(weights: FrozenNetwork, output: str | None, extra: dict, *, kind: str = "binary", max_regions: int,
            max_bytes: int, budget_s: float, box: Sequence[float] = DEFAULT_BOX, t: float | None = None,
            comments: Sequence[str] = (), progress_path: str | None = None) -> bytes:
    """The origami surface (surface.py) of ``weights`` on ``box``: the binary ``surface`` message
    (``kind`` "binary": every output's map; a classifier's facets are its decision pieces), or an
    OBJ / PLY file of ``output``. Raises exact.PartitionTooLarge (documents.DocumentTooLarge) past
    a limit."""
    deadline = time.monotonic() + budget_s
    progress = ProgressFile(progress_path)
    try:
        chosen = parse_output(output, weights.task, weights.out_dim)
        part = exact_partition(weights, box=box, max_regions=max_regions, deadline=deadline, progress=progress)
        if kind == "binary":
            mesh = build_surface(part, weights.task)
            size = surface_message_bytes(mesh)
            if size > max_bytes:
                raise DocumentTooLarge(f"{mesh.facet_count:,} facets make a surface of {size / 1e6:,.0f} MB, more "
                                       f"than the {max_bytes / 1e6:,.0f} MB limit")
            return surface_message(mesh, extra.get("step", 0), t, chosen,
                                   {k: v for k, v in extra.items() if k != "step"})
        mesh = surface_for(part, weights.task, chosen)
        write = obj_bytes if kind == "obj" else ply_bytes
        return write(mesh, chosen, comments, max_bytes=max_bytes, deadline=deadline)
    finally:
        progress.close()
