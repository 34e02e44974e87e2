"""REST routes for a session's exact geometry (docs/protocol.md, "Exact geometry").

Thin: every route takes a frozen copy of the session's weights under the
session's lock (``WeightsSnapshot``, microseconds), then runs the numerics of
exact.py on a worker thread, so neither the event loop nor the session's
training waits for them. Long computations have a time budget and report
their progress at ``/exact-progress``. Mounted by server.py with
:func:`install`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from ...geometry.exact import PartitionTooLarge, exact_partition, neuron_zero_set, region_counts_partial
from ...geometry.export import partition_json, partition_svg
from ...geometry.inspection import inspect_point
from ...geometry.weights import WeightsSnapshot
from ..responses import attachment

REGIONS_BUDGET_S = 8.0  # regions.json / regions.svg / neuron-line
REGIONS_MAX = 150_000  # polygons in one regions.json / .svg answer (~500 bytes each in JSON)
COUNTS_BUDGET_S = 8.0
COUNTS_MAX = 1_000_000

router = APIRouter(prefix="/api/sessions/{token}", tags=["exact geometry"])

_PROBLEMS = {
    404: {"description": "unknown token, or the session has no network yet"},
    413: {"description": "the exact partition is too large for the time or size budget (detail says which)"},
    422: {"description": "invalid parameters"},
}


@dataclass
class _Snapshot:
    weights: WeightsSnapshot
    step: int
    widths: list[int]


def _take_snapshot(request: Request, token: str) -> _Snapshot:
    """Frozen weights and step of the session's network (runs on a worker thread: it waits for the lock)."""
    session = request.app.state.registry.get(token)
    taken = None if session is None else session.weights_snapshot()
    if taken is None:
        raise HTTPException(404, "no such session, or it has no network yet")
    weights, step = taken
    return _Snapshot(weights, step, weights.widths)


async def _snapshot(request: Request, token: str) -> _Snapshot:
    return await asyncio.to_thread(_take_snapshot, request, token)


async def _run_heavy(request: Request, token: str, task: str, fn, *args, **kwargs):
    """Run ``fn(*args, progress=..., **kwargs)`` on a worker thread, one of at most
    ``max_parallel_jobs`` at once, publishing its progress for ``/exact-progress``."""
    table = request.app.state.geometry_progress
    entry = {"task": task, "fraction": 0.0, "regions": 0, "started": time.monotonic(), "queued": True}
    table[token] = entry

    def progress(fraction: float, regions: int) -> None:
        entry["fraction"] = round(float(fraction), 4)
        entry["regions"] = int(regions)

    try:
        async with request.app.state.geometry_jobs:
            entry["queued"] = False
            return await asyncio.to_thread(fn, *args, progress=progress, **kwargs)
    finally:
        if table.get(token) is entry:
            del table[token]


def _too_large(exc: PartitionTooLarge, what: str, budget_s: float, limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"the exact {what} is too large to compute here ({exc}; limits: {budget_s:g} s and "
        f"{limit:,} regions). Try fewer layers (?layers=k) or a smaller network.",
    )


def _layers_param(layers: int | None, snap: _Snapshot) -> int:
    L = len(snap.widths)
    if layers is None:
        return L
    if not 1 <= layers <= L:
        raise HTTPException(422, f"layers must be 1..{L} (this network has {L} hidden layers), got {layers}")
    return layers


async def _partition(request: Request, token: str, layers: int | None):
    snap = await _snapshot(request, token)
    k = _layers_param(layers, snap)
    try:
        part = await _run_heavy(request, token, f"regions of the first {k} layers", exact_partition,
                                snap.weights, max_layers=k, max_regions=REGIONS_MAX,
                                deadline=time.monotonic() + REGIONS_BUDGET_S)
    except PartitionTooLarge as exc:
        raise _too_large(exc, "partition", REGIONS_BUDGET_S, REGIONS_MAX) from None
    return part, snap, k


def install(app, max_parallel_jobs: int) -> None:
    """Mount the routes on ``app`` with their own job limit (exports may take seconds; uploads
    and downloads do not wait behind them) and progress table."""
    app.state.geometry_jobs = asyncio.Semaphore(max(1, max_parallel_jobs))
    app.state.geometry_progress = {}
    app.include_router(router)


@router.get("/inspect", responses=_PROBLEMS)
async def inspect(request: Request, token: str, x: float = Query(..., ge=-1.0, le=1.0, description="input x in [-1, 1]"),
                  y: float = Query(..., ge=-1.0, le=1.0, description="input y in [-1, 1] (up)")):
    """The region containing (x, y): pattern per layer, affine map and autograd check, polygon,
    area, edges, and one inequality per hidden neuron with the binding ones marked."""
    snap = await _snapshot(request, token)
    data = await asyncio.to_thread(inspect_point, snap.weights, (x, y))
    data["step"] = snap.step
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@router.get("/regions.json", responses=_PROBLEMS)
async def regions_json(request: Request, token: str, layers: int | None = Query(None, description="first k hidden layers (default: all)")):
    """The exact partition (of the first ``layers`` hidden layers) as JSON: polygons, patterns,
    areas, colours, affine maps."""
    part, snap, k = await _partition(request, token, layers)
    data = await asyncio.to_thread(partition_json, part)
    data.update(step=snap.step, layers=k, hidden_layers=len(snap.widths), all_widths=snap.widths)
    return JSONResponse(data, headers=attachment(f"polytope-lens-regions-step{snap.step}-k{k}.json"))


@router.get("/regions.svg", responses={200: {"content": {"image/svg+xml": {}}}, **_PROBLEMS})
async def regions_svg(request: Request, token: str, layers: int | None = Query(None, description="first k hidden layers (default: all)")):
    """The exact partition as SVG: regions filled by pattern colour, boundaries as lines."""
    part, snap, k = await _partition(request, token, layers)
    svg = await asyncio.to_thread(partition_svg, part)
    return Response(svg, media_type="image/svg+xml",
                    headers=attachment(f"polytope-lens-regions-step{snap.step}-k{k}.svg"))


@router.get("/layer-counts", responses=_PROBLEMS)
async def layer_counts(request: Request, token: str):
    """Exact region counts of the partitions of the first k hidden layers, k = 1..L.

    Past the budget, ``counts`` holds the layers finished and ``complete`` is false.
    """
    snap = await _snapshot(request, token)
    started = time.perf_counter()
    counts, reason = await _run_heavy(request, token, "region counts per layer", region_counts_partial,
                                      snap.weights, max_regions=COUNTS_MAX,
                                      deadline=time.monotonic() + COUNTS_BUDGET_S)
    return JSONResponse({
        "step": snap.step, "widths": snap.widths, "counts": counts, "complete": reason is None,
        "reason": reason, "seconds": round(time.perf_counter() - started, 3),
    }, headers={"Cache-Control": "no-store"})


@router.get("/neuron-line", responses=_PROBLEMS)
async def neuron_line(request: Request, token: str, layer: int = Query(..., ge=1, description="hidden layer, 1-based"),
                      neuron: int = Query(..., ge=0, description="neuron in that layer, 0-based")):
    """Segments where the neuron's pre-activation is 0: a line bent at earlier layers' boundaries."""
    snap = await _snapshot(request, token)
    if layer > len(snap.widths) or neuron >= snap.widths[layer - 1]:
        raise HTTPException(422, f"no neuron {neuron} in layer {layer}: the hidden widths are {snap.widths}")
    try:
        segments = await _run_heavy(request, token, f"zero set of layer {layer} neuron {neuron}", neuron_zero_set,
                                    snap.weights, layer, neuron, max_regions=REGIONS_MAX,
                                    deadline=time.monotonic() + REGIONS_BUDGET_S)
    except PartitionTooLarge as exc:
        raise _too_large(exc, f"partition of the first {layer - 1} layers", REGIONS_BUDGET_S, REGIONS_MAX) from None
    return JSONResponse({"step": snap.step, "layer": layer, "neuron": neuron,
                         "segments": segments.round(9).tolist()}, headers={"Cache-Control": "no-store"})


@router.get("/exact-progress", responses=_PROBLEMS)
async def exact_progress(request: Request, token: str):
    """How far the session's running exact computation got: ``{"active": false}`` when none runs."""
    if request.app.state.registry.get(token) is None:
        raise HTTPException(404, "no such session")
    entry = request.app.state.geometry_progress.get(token)
    if entry is None:
        return {"active": False}
    return {"active": True, "task": entry["task"], "queued": entry["queued"], "fraction": entry["fraction"],
            "regions": entry["regions"], "elapsed_s": round(time.monotonic() - entry["started"], 2)}
