"""REST routes for a session's exact geometry (docs/protocol.md, "Exact geometry").

Thin: every route takes a frozen copy of the session's network under the
session's lock (a ``FrozenNetwork``, microseconds). The heavy ones (regions
JSON/SVG, layer counts, neuron lines, inspection of big networks) then run in a
worker process (``web/jobs.GeometryPool``): computing *and* encoding, within a
time budget that starts when the job starts, a cap in regions and one in bytes;
the answer comes back as bytes ready to send. A job that cannot get a worker in
time is answered 503 with ``Retry-After`` (busy, not too large). Long
computations report their progress at ``/exact-progress``. The workers and the
progress table are the app's (``GeometryJobs``, made by app.py), reached through
their dependency.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse, Response

from ...core.network import FrozenNetwork, slope_fields
from ...core.settings import RunConfig
from ...geometry import tasks
from ...geometry.documents import parse_fields
from ...geometry.exact import PartitionTooLarge
from ...geometry.export import DOCUMENT_FORMAT
from ...geometry.decision import region_classes
from ...geometry.inspection import inspect_point
from ...geometry.slices import counts_over_time_job, slice_weights
from ...geometry.surface import parse_output
from ..jobs import Busy, Overrun
from ..registry import GeometryJobs, GeometryJobsDep, RegistryDep
from ..sessions.contract import Session
from ..names import download_name
from ..responses import attachment

REGIONS_BUDGET_S = 8.0  # regions.json / regions.svg / neuron-line: computing and encoding
REGIONS_MAX = 150_000  # polygons in one regions.json / .svg answer
REGIONS_MAX_BYTES = 64 * 1024 * 1024  # bytes of one regions.json / .svg answer (docs/protocol.md: sizes)
COUNTS_BUDGET_S = 8.0
COUNTS_MAX = 1_000_000
INSPECT_IN_PROCESS_MAX = 4096  # hidden neurons up to which /inspect runs on a thread here (<= ~60 ms)
WEIGHTS_JSON_MAX = 250_000  # parameters sent by /weights (about 10 bytes each in JSON)
MAX_BOX = 1000.0  # a view box reaches at most this far from the origin
MIN_BOX_SIDE = 1e-6  # ... and is at least this wide (float64 geometry stays exact far below a pixel)

router = APIRouter(prefix="/api/sessions/{token}", tags=["exact geometry"])

_PROBLEMS = {
    404: {"description": "unknown token, or the session has no network yet"},
    413: {"description": "the exact partition is too large for the time, region or byte budget (detail says which)"},
    422: {"description": "invalid parameters"},
    503: {"description": "busy: every worker is taken and the queue is full or the wait ran out; "
                         "try again after Retry-After seconds"},
}


@dataclass
class _Snapshot:
    weights: FrozenNetwork
    step: int
    widths: list[int]
    box: tuple[float, float, float, float]
    config: RunConfig | None = None  # the session's run: named in downloads, carried by the JSON
    classes: list[str] | None = None  # a classifier's class colours: its documents carry decision regions
    t: float | None = None  # the moment of a clip's network (geometry/slices.py); None for a picture's
    whole: FrozenNetwork | None = None  # a clip's network itself, inputs (x, y, t), before the slice at t


def _take_snapshot(session: Session | None, step: int | None) -> tuple | None:
    return None if session is None else session.weights_snapshot(step)


def _moment_fields(snap: "_Snapshot") -> dict:
    """``t`` in every answer about a clip's network: the moment it describes."""
    return {} if snap.t is None else {"t": snap.t}


async def snapshot(token: str, registry: RegistryDep,
                   step: int | None = Query(None, ge=0, description="a step kept in the session's history "
                                            "(default: the network now)"),
                   box: str | None = Query(None, description="view box x0,x1,y0,y1 (default: -1,1,-1,1)"),
                   t: float | None = Query(None, ge=-1.0, le=1.0, description="a clip's moment, -1..1 (default: "
                                           "the session's view t); pictures ignore it")) -> _Snapshot:
    """The session's network frozen (numpy arrays, for a worker process) now or at a kept
    ``step``, and the view box (taken on a worker thread: it waits for the session's lock). A
    clip's (x, y, t) network is sliced at ``t`` into the 2-D network every tool below reads."""
    area = _parse_box(box)
    session = registry.get(token)
    taken = await asyncio.to_thread(_take_snapshot, session, step)
    if taken is None:
        if session is not None and session.has_network and step is not None:
            raise HTTPException(404, f"step {step} is not kept in this session's history")
        raise HTTPException(404, "no such session, or it has no network yet")
    network, at = taken
    classes = await asyncio.to_thread(session.class_colors)
    moment, whole = None, None
    if network.in_dim == 3:
        moment = float(session.view.t if t is None else t)
        network, whole = slice_weights(network, moment), network
    return _Snapshot(network, at, network.widths, area, session.config(), classes, moment, whole)


SnapshotDep = Annotated[_Snapshot, Depends(snapshot)]


def _parse_box(text: str | None) -> tuple[float, float, float, float]:
    if text is None:
        return (-1.0, 1.0, -1.0, 1.0)
    try:
        x0, x1, y0, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise HTTPException(422, f"box must be four numbers x0,x1,y0,y1, got {text[:60]!r}") from None
    return _checked_box(x0, x1, y0, y1, text)


def _checked_box(x0: float, x1: float, y0: float, y1: float, text: str) -> tuple[float, float, float, float]:
    finite = all(abs(v) <= MAX_BOX for v in (x0, x1, y0, y1))
    if not (finite and x1 > x0 and y1 > y0 and (x1 - x0) >= MIN_BOX_SIDE and (y1 - y0) >= MIN_BOX_SIDE):
        raise HTTPException(422, f"box must have x0 < x1 and y0 < y1, sides of at least {MIN_BOX_SIDE:g}, "
                                 f"within ±{MAX_BOX:g}; got {text[:60]!r}")
    return (x0, x1, y0, y1)


async def _run_heavy(heavy: GeometryJobs, token: str, task: str, fn, *args, budget_s: float, **kwargs):
    """Run ``tasks.fn(*args, progress_path=..., budget_s=..., **kwargs)`` in a worker process,
    publishing its progress for ``/exact-progress``; 503 when no worker is free in time."""
    pool, table = heavy.pool, heavy.progress
    path = pool.progress_file()
    entry = {"task": task, "path": path, "started": time.monotonic(), "queued": True}
    table[token] = entry

    def started() -> None:
        entry["queued"] = False
        entry["started"] = time.monotonic()

    try:
        return await pool.run(fn, *args, limit_s=budget_s, budget_s=budget_s, progress_path=path, on_start=started,
                              **kwargs)
    except Busy as exc:
        raise HTTPException(503, f"busy: {exc}", headers={"Retry-After": str(exc.retry_after)}) from None
    except Overrun as exc:
        raise HTTPException(413, f"{exc}. Try fewer layers (?layers=k) or a smaller network.") from None
    finally:
        if table.get(token) is entry:
            del table[token]
        pool.drop_progress_file(path)


def _too_large(exc: PartitionTooLarge, what: str, budget_s: float, limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"the exact {what} is too large to compute here ({exc}; limits: {budget_s:g} s, "
        f"{limit:,} regions and {REGIONS_MAX_BYTES / 1e6:,.0f} MB). Try fewer layers (?layers=k), fewer "
        "fields (?fields=polygons,colors) or a smaller network.",
    )


def _layers_param(layers: int | None, snap: _Snapshot) -> int:
    L = len(snap.widths)
    if layers is None:
        return L
    if not 1 <= layers <= L:
        raise HTTPException(422, f"layers must be 1..{L} (this network has {L} hidden layers), got {layers}")
    return layers


async def _document(heavy: GeometryJobs, token: str, snap: _Snapshot, layers: int | None, kind: str,
                    fields: str | None = None):
    try:
        chosen = parse_fields(fields)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    k = _layers_param(layers, snap)
    extra = {"step": snap.step, "layers": k, "hidden_layers": len(snap.widths), "all_widths": snap.widths,
             **_moment_fields(snap)}
    if kind == "json" and snap.config is not None:  # the document the command line writes: same keys
        extra = {"format": DOCUMENT_FORMAT, **extra, "config": snap.config.model_dump()}
    if snap.classes:
        extra["classes"] = snap.classes
    try:
        data = await _run_heavy(heavy, token, f"regions of the first {k} layers", tasks.regions_document,
                                snap.weights, k, extra, kind=kind, fields=chosen, max_regions=REGIONS_MAX,
                                max_bytes=REGIONS_MAX_BYTES, budget_s=REGIONS_BUDGET_S, box=snap.box)
    except PartitionTooLarge as exc:  # also documents.DocumentTooLarge
        raise _too_large(exc, "partition", REGIONS_BUDGET_S, REGIONS_MAX) from None
    return data, snap, k


@router.get("/inspect", responses=_PROBLEMS)
async def inspect(heavy: GeometryJobsDep, token: str, snap: SnapshotDep,
                  x: float = Query(..., description="input x, inside the box"),
                  y: float = Query(..., description="input y (up), inside the box")):
    """The region containing (x, y) within the box: pattern per layer, affine map and autograd
    check, polygon, area, edges, and one inequality per hidden neuron with the binding ones marked."""
    headers = {"Cache-Control": "no-store"}
    x0, x1, y0, y1 = snap.box
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        raise HTTPException(422, f"the point ({x:g}, {y:g}) is outside the box [{x0:g}, {x1:g}] x [{y0:g}, {y1:g}]")
    if snap.weights.hidden_count <= INSPECT_IN_PROCESS_MAX:
        data = await asyncio.to_thread(inspect_point, snap.weights, (x, y), snap.box)
        data["step"] = snap.step
        data.update(_moment_fields(snap))
        if snap.classes:
            data["classify"] = region_classes(data, snap.classes)
        return JSONResponse(data, headers=headers)
    body = await _run_heavy(heavy, token, "inspection", tasks.inspect, snap.weights, (x, y),
                            {"step": snap.step, **_moment_fields(snap), **({"classes": snap.classes} if snap.classes else {})},
                            budget_s=REGIONS_BUDGET_S, box=snap.box)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/regions.json", responses=_PROBLEMS)
async def regions_json(heavy: GeometryJobsDep, token: str, snap: SnapshotDep,
                       layers: int | None = Query(None, description="first k hidden layers (default: all)"),
                       fields: str | None = Query(None, description="comma-separated subset of polygons, patterns, "
                                                  "areas, colors, A, c (default: all)")):
    """The exact partition (of the first ``layers`` hidden layers) as compact JSON: polygons,
    patterns, areas, colours, affine maps."""
    data, snap, k = await _document(heavy, token, snap, layers, "json", fields)
    return Response(data, media_type="application/json",
                    headers=attachment(download_name(snap.config, snap.step, f"regions-k{k}", "json")))


@router.get("/regions.svg", responses={200: {"content": {"image/svg+xml": {}}}, **_PROBLEMS})
async def regions_svg(heavy: GeometryJobsDep, token: str, snap: SnapshotDep, layers: int | None = Query(None, description="first k hidden layers (default: all)")):
    """The exact partition as SVG: regions filled by pattern colour, boundaries as lines."""
    svg, snap, k = await _document(heavy, token, snap, layers, "svg")
    return Response(svg, media_type="image/svg+xml",
                    headers=attachment(download_name(snap.config, snap.step, f"regions-k{k}", "svg")))


def _surface_box(snap: _Snapshot, x0, x1, y0, y1) -> tuple[float, float, float, float]:
    """The zoom box of a surface: ``x0``, ``x1``, ``y0``, ``y1`` where given, else ``box=``'s (or the square's)."""
    given = [v if v is not None else d for v, d in zip((x0, x1, y0, y1), snap.box)]
    return _checked_box(*given, text=",".join(f"{v:g}" for v in given))


async def _surface(heavy: GeometryJobs, token: str, snap: _Snapshot, output: str | None, box, kind: str) -> bytes:
    try:
        chosen = parse_output(output, snap.weights.task, snap.weights.out_dim)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    comments = [f"Polytope Lens origami surface: z = the network's output {chosen} over the box "
                f"x {box[0]:g}..{box[1]:g}, y {box[2]:g}..{box[3]:g}",
                f"step {snap.step}" + ("" if snap.t is None else f", t = {snap.t:g}")
                + ("" if snap.config is None else f", {snap.config.architecture_label(snap.weights.out_dim)}")]
    extra = {"step": snap.step}
    if snap.classes:
        extra["classes"] = snap.classes
    try:
        return await _run_heavy(heavy, token, "the origami surface", tasks.surface, snap.weights, str(chosen), extra,
                                kind=kind, max_regions=REGIONS_MAX, max_bytes=REGIONS_MAX_BYTES,
                                budget_s=REGIONS_BUDGET_S, box=box, t=snap.t, comments=comments)
    except PartitionTooLarge as exc:  # also documents.DocumentTooLarge
        raise _too_large(exc, "surface", REGIONS_BUDGET_S, REGIONS_MAX) from None


_OUTPUT_QUERY = Query(None, description="the height: channel:i, luminance, winner or class:i (default: luminance "
                      "for a colour picture, winner for a classifier, else channel:0)")
_X0, _X1 = Query(None, description="zoom box: left x"), Query(None, description="zoom box: right x")
_Y0, _Y1 = Query(None, description="zoom box: bottom y"), Query(None, description="zoom box: top y")


@router.get("/surface", responses={200: {"content": {"application/octet-stream": {}}}, **_PROBLEMS})
async def surface(heavy: GeometryJobsDep, token: str, snap: SnapshotDep, output: str | None = _OUTPUT_QUERY,
                  x0: float | None = _X0, x1: float | None = _X1, y0: float | None = _Y0, y1: float | None = _Y1):
    """The origami surface (docs/protocol.md, "The origami surface") as the binary ``surface``
    message: one facet per linear region (a classifier's: per decision piece), each with every
    output's exact affine map, in the zoom box."""
    box = _surface_box(snap, x0, x1, y0, y1)
    body = await _surface(heavy, token, snap, output, box, "binary")
    return Response(body, media_type="application/octet-stream", headers={"Cache-Control": "no-store"})


@router.get("/surface.obj", responses={200: {"content": {"model/obj": {}}}, **_PROBLEMS})
async def surface_obj(heavy: GeometryJobsDep, token: str, snap: SnapshotDep, output: str | None = _OUTPUT_QUERY,
                      x0: float | None = _X0, x1: float | None = _X1, y0: float | None = _Y0,
                      y1: float | None = _Y1):
    """The origami surface of ``output`` as a Wavefront OBJ download: one group per linear region
    (``g region_K``; a classifier's winning score: per decision piece), float64 vertices."""
    box = _surface_box(snap, x0, x1, y0, y1)
    body = await _surface(heavy, token, snap, output, box, "obj")
    return Response(body, media_type="model/obj",
                    headers=attachment(download_name(snap.config, snap.step, "surface", "obj")))


@router.get("/surface.ply", responses={200: {"content": {"application/octet-stream": {}}}, **_PROBLEMS})
async def surface_ply(heavy: GeometryJobsDep, token: str, snap: SnapshotDep, output: str | None = _OUTPUT_QUERY,
                      x0: float | None = _X0, x1: float | None = _X1, y0: float | None = _Y0,
                      y1: float | None = _Y1):
    """The origami surface of ``output`` as a binary PLY download (triangles with their region)."""
    box = _surface_box(snap, x0, x1, y0, y1)
    body = await _surface(heavy, token, snap, output, box, "ply")
    return Response(body, media_type="application/octet-stream",
                    headers=attachment(download_name(snap.config, snap.step, "surface", "ply")))


@router.get("/layer-counts", responses=_PROBLEMS)
async def layer_counts(heavy: GeometryJobsDep, token: str, snap: SnapshotDep):
    """Exact region counts of the partitions of the first k hidden layers, k = 1..L, in [-1, 1]²
    (the box does not apply: counts compare across views).

    Past the budget (which starts when a worker takes the job, not while it waits),
    ``counts`` holds the layers finished and ``complete`` is false.
    """
    result = await _run_heavy(heavy, token, "region counts per layer", tasks.layer_counts, snap.weights,
                              max_regions=COUNTS_MAX, budget_s=COUNTS_BUDGET_S)
    return JSONResponse({
        "step": snap.step, "widths": snap.widths, "counts": result["counts"], "complete": result["reason"] is None,
        "reason": result["reason"], "seconds": result["seconds"], **_moment_fields(snap),
    }, headers={"Cache-Control": "no-store"})


@router.get("/neuron-line", responses=_PROBLEMS)
async def neuron_line(heavy: GeometryJobsDep, token: str, snap: SnapshotDep,
                      layer: int = Query(..., ge=1, description="hidden layer, 1-based"),
                      neuron: int = Query(..., ge=0, description="neuron in that layer, 0-based")):
    """Segments where the neuron's pre-activation is 0 within the box: a line bent at earlier
    layers' boundaries."""
    if layer > len(snap.widths) or neuron >= snap.widths[layer - 1]:
        raise HTTPException(422, f"no neuron {neuron} in layer {layer}: the hidden widths are {snap.widths}")
    try:
        body = await _run_heavy(heavy, token, f"zero set of layer {layer} neuron {neuron}", tasks.neuron_line,
                                snap.weights, layer, neuron,
                                {"step": snap.step, "layer": layer, "neuron": neuron, **_moment_fields(snap)},
                                max_regions=REGIONS_MAX, budget_s=REGIONS_BUDGET_S, box=snap.box)
    except PartitionTooLarge as exc:
        raise _too_large(exc, f"partition of the first {layer - 1} layers", REGIONS_BUDGET_S, REGIONS_MAX) from None
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get("/weights", responses=_PROBLEMS)
async def weights(snap: SnapshotDep,
                  whole: bool = Query(False, description="a clip's network as it is, inputs (x, y, t): in_dim 3, "
                                      "not sliced at t (what the diagram's editor and Copy weights need)")):
    """The network's weights as JSON, for the page's network diagram where the server draws the
    panels (in client mode every update carries them). A clip's network comes sliced at ``t`` (a
    2-D network like a picture's), or ``whole``. Refused past ``WEIGHTS_JSON_MAX`` parameters
    (megabytes of JSON)."""
    network = snap.whole if whole and snap.whole is not None else snap.weights
    layers = network.affine_layers()
    count = sum(W.size + b.size for W, b in layers)
    if count > WEIGHTS_JSON_MAX:
        raise HTTPException(413, f"this network has {count:,} parameters; the weights are sent as JSON up to "
                                 f"{WEIGHTS_JSON_MAX:,} only (the checkpoint download holds them all)")
    flat = [v for W, b in layers for v in (*W.astype("float32").ravel().tolist(), *b.astype("float32").ravel().tolist())]
    return JSONResponse({
        "step": snap.step, "widths": snap.widths, "in_dim": int(network.in_dim), "out_dim": network.out_dim,
        **slope_fields(network), "weights": flat, **({} if network is snap.whole else _moment_fields(snap)),
    }, headers={"Cache-Control": "no-store"})


@router.get("/counts-over-t", responses=_PROBLEMS)
async def counts_over_t(heavy: GeometryJobsDep, token: str, registry: RegistryDep,
                        step: int | None = Query(None, ge=0, description="a step kept in the session's history "
                                                 "(default: the network now)"),
                        n: int = Query(17, ge=2, le=65, description="moments, evenly from t = -1 to t = 1")):
    """A clip's network: the exact region count of the slice at n moments t from -1 to 1 (the chart
    over t). ``complete`` is false when the budget ran out; ``counts`` then holds the moments done."""
    session = registry.get(token)
    taken = await asyncio.to_thread(_take_snapshot, session, step)
    if taken is None:
        raise HTTPException(404, "no such session, or it has no network yet (or that step is not kept)")
    network, at = taken
    if network.in_dim != 3:
        raise HTTPException(422, "this session's network learns a picture, not a clip: it has no time t")
    times = [-1.0 + 2.0 * i / (n - 1) for i in range(n)]
    result = await _run_heavy(heavy, token, f"region counts at {n} moments", counts_over_time_job, network, times,
                              max_regions=COUNTS_MAX, budget_s=COUNTS_BUDGET_S)
    return JSONResponse({"step": at, "t": result["t"], "counts": result["counts"], "complete": result["reason"] is None,
                         "reason": result["reason"], "seconds": result["seconds"]}, headers={"Cache-Control": "no-store"})


@router.get("/exact-progress", responses=_PROBLEMS)
async def exact_progress(heavy: GeometryJobsDep, token: str, registry: RegistryDep):
    """How far the session's running exact computation got: ``{"active": false}`` when none runs."""
    if registry.get(token) is None:
        raise HTTPException(404, "no such session")
    entry = heavy.progress.get(token)
    if entry is None:
        return {"active": False}
    fraction, regions = (0.0, 0) if entry["queued"] else tasks.read_progress(entry["path"])
    return {"active": True, "task": entry["task"], "queued": entry["queued"], "fraction": round(fraction, 4),
            "regions": regions, "elapsed_s": round(time.monotonic() - entry["started"], 2)}
