"""Finished runs of a sweep folder (``polytope-lens serve --runs DIR``): the index, and per run its
metrics, region churn, weight history and checkpoint; and the Compare page that plays them.

Reading is done by sweeps/catalog.py (no numerics here); file reads and the churn (a small
numpy pass over the weight history, cached) run on a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel

from ...sweeps.catalog import DamagedRun, MissingFile, OutsideFolder, UnknownRun
from ..registry import CatalogDep, SettingsDep

router = APIRouter(prefix="/api/runs", tags=["runs"])
page_router = APIRouter(include_in_schema=False)


class RunEntry(BaseModel):
    id: str
    config: dict[str, Any]
    length: dict[str, Any] | None = None
    status: str
    summary: dict[str, Any] | None = None
    error: str | None = None


class RunList(BaseModel):
    folder: str  # the sweep folder's name (not its path on the server)
    runs: list[RunEntry]
    problem: str | None = None  # what is wrong with sweep.json, when the runs were listed from their folders


class RunMetrics(BaseModel):
    id: str
    records: list[dict[str, Any]]
    total: int  # records in the file; more than len(records) when it was thinned
    skipped: int = 0  # damaged lines left out
    note: str | None = None  # says so, in words, when records were thinned or skipped


class RunChurn(BaseModel):
    id: str
    steps: list[int]
    churn: list[float | None]
    note: str | None = None  # says so when the series is thinned or partial


class WeightsIndex(BaseModel):
    id: str
    steps: list[int]
    widths: list[int]
    out_dim: int
    negative_slope: float
    bytes_per_step: int
    classes: list[str] | None = None  # a classifier's class colours ("#rrggbb", one per output)


async def _read(call, *args):
    try:
        return await asyncio.to_thread(call, *args)
    except UnknownRun as exc:
        raise HTTPException(404, f"no run {exc.args[0]!r} in this sweep folder") from None
    except MissingFile as exc:
        raise HTTPException(404, str(exc)) from None
    except OutsideFolder as exc:
        raise HTTPException(403, str(exc)) from None
    except DamagedRun as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("", response_model=RunList)
async def list_runs(catalog: CatalogDep):
    """Every run of the sweep folder with its settings, status and summary (sweep.json)."""
    runs = await _read(catalog.runs)
    return {"folder": catalog.root.name, "runs": runs, "problem": catalog.problem}


@router.get("/{run_id}", response_model=RunEntry)
async def run_entry(run_id: str, catalog: CatalogDep):
    return await _read(catalog.run, run_id)


@router.get("/{run_id}/metrics", response_model=RunMetrics)
async def run_metrics(run_id: str, catalog: CatalogDep):
    """metrics.jsonl: one record per recorded step (losses, grid and exact region counts, ...)."""
    return {"id": run_id, **await _read(catalog.metrics, run_id)}


@router.get("/{run_id}/churn", response_model=RunChurn)
async def run_churn(run_id: str, catalog: CatalogDep):
    """The fraction of the square whose linear region changed since the previous recorded step."""
    return {"id": run_id, **await _read(catalog.churn, run_id)}


@router.get("/{run_id}/weights", response_model=WeightsIndex)
async def run_weights_index(run_id: str, catalog: CatalogDep):
    """What weights.bin holds: the recorded steps and the network's shape."""
    return {"id": run_id, **await _read(catalog.weights_index, run_id)}


@router.get("/{run_id}/weights.bin")
async def run_weights(run_id: str, catalog: CatalogDep):
    """The weight history: float32 little-endian, bytes_per_step per recorded step, in step order."""
    path = await _read(catalog.weights_path, run_id)
    return FileResponse(path, media_type="application/octet-stream")


@router.get("/{run_id}/checkpoint.pt")
async def run_checkpoint(run_id: str, catalog: CatalogDep):
    path = await _read(catalog.checkpoint_path, run_id)
    return FileResponse(path, media_type="application/octet-stream", filename=f"{run_id}.pt")


@page_router.get("/compare")
async def compare_page(settings: SettingsDep):
    page = Path(settings.frontend_dir) / "compare.html"
    if not page.is_file():
        raise HTTPException(404, "the frontend is not installed next to this server")
    return FileResponse(page, headers={"Cache-Control": "no-cache"})

