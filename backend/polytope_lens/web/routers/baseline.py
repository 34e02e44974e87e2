"""The smoothing baseline of a session's run (core/smoothing.py): its validation MSE and its picture.

The baseline depends only on the run's target, training points and sigma; the session keeps the
few asked for (sessions/local.py), so a second request, or the picture after the numbers (made
beside the session: sessions/downloads.py), costs nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel

from ...core.smoothing import DEFAULT_SIGMA_PX, MAX_SIGMA_PX, MIN_SIGMA_PX, NotARegression
from ..registry import DownloadsDep, JobsDep, SessionDep
from ..responses import problems

router = APIRouter(prefix="/api/sessions/{token}", tags=["baseline"], responses=problems(404, 422))

Sigma = Annotated[float, Query(ge=MIN_SIGMA_PX, le=MAX_SIGMA_PX,
                               description="kernel width in pixels of the 1024x1024 target")]
NO_NETWORK = "no such session, or it has no network yet"


class BaselineOut(BaseModel):
    sigma: float
    val_loss: float
    train_loss: float
    step: int
    network_val_loss: float | None


async def _run(jobs, fn, *args):
    try:
        return await jobs.run(fn, *args)
    except NotARegression as exc:  # a classifier's run (raised in the session's process, re-raised here)
        raise HTTPException(422, str(exc)) from None


@router.get("/smoothing", response_model=BaselineOut)
async def smoothing(session: SessionDep, jobs: JobsDep, sigma: Sigma = DEFAULT_SIGMA_PX):
    """Gaussian-kernel regression of the run's training points: its MSE on the validation points,
    beside the network's (at the last measured step)."""
    found = await _run(jobs, session.smoothing_baseline, sigma)
    if found is None:
        raise HTTPException(404, NO_NETWORK)
    baseline, step, network_val = found
    return BaselineOut(sigma=baseline.sigma_px, val_loss=baseline.val_loss, train_loss=baseline.train_loss,
                       step=step, network_val_loss=network_val)


@router.get("/smoothing.png", responses={200: {"content": {"image/png": {}}}})
async def smoothing_png(downloads: DownloadsDep, jobs: JobsDep, sigma: Sigma = DEFAULT_SIGMA_PX,
                        size: Annotated[int, Query(ge=16, le=1024)] = 1024):
    """The baseline's picture (clipped to [0, 1]), ``size`` pixels square."""
    data = await _run(jobs, downloads.smoothing_png, sigma, size)
    if data is None:
        raise HTTPException(404, NO_NETWORK)
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})
