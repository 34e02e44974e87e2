"""The smoothing baseline of a session's run (core/smoothing.py): its validation MSE and its picture.

The baseline depends only on the run's target, training points and sigma, so a few are kept
(``CACHE_SIZE``) and a second request, or the picture after the numbers, costs nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from PIL import Image
from pydantic import BaseModel

from ...core.smoothing import DEFAULT_SIGMA_PX, MAX_SIGMA_PX, MIN_SIGMA_PX, Baseline, smoothing_baseline
from ...output.render import png_bytes
from ..registry import JobsDep, SessionDep
from ..responses import problems

router = APIRouter(prefix="/api/sessions/{token}", tags=["baseline"], responses=problems(404, 422))

CACHE_SIZE = 8
_cache: OrderedDict[tuple, tuple[Baseline, object]] = OrderedDict()
_cache_lock = threading.Lock()

Sigma = Annotated[float, Query(ge=MIN_SIGMA_PX, le=MAX_SIGMA_PX,
                               description="kernel width in pixels of the 1024x1024 target")]


class BaselineOut(BaseModel):
    sigma: float
    val_loss: float
    train_loss: float
    step: int
    network_val_loss: float | None


class NotARegression(ValueError):
    """The baseline regresses brightness: a classifier's points are class indices, not values."""


def _baseline(session, sigma: float) -> tuple[Baseline, int, float | None]:
    trainer = session.trainer
    if trainer is None:
        raise LookupError
    if getattr(trainer, "classes", None) is not None:
        raise NotARegression("the smoothing baseline is a regression of brightness; this run classifies "
                             "(task classify), so compare its validation accuracy instead")
    key = (id(trainer.target), id(trainer.sample), round(sigma, 6))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[1] is trainer.target:
            _cache.move_to_end(key)
            baseline = hit[0]
        else:
            baseline = None
    if baseline is None:
        baseline = smoothing_baseline(trainer.target, trainer.sample, sigma)
        with _cache_lock:
            _cache[key] = (baseline, trainer.target)  # the target kept alive: its id cannot be reused meanwhile
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    frame = session._frame
    return baseline, int(trainer.step_count), None if frame is None else float(frame.losses.val)


def _png(session, sigma: float, size: int) -> bytes:
    baseline = _baseline(session, sigma)[0]
    values = np.clip(baseline.values, 0.0, 1.0)
    pixels = np.rint(values * 255).astype(np.uint8)
    img = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    if size != img.width:
        img = img.resize((size, size), Image.BILINEAR)
    return png_bytes(img)


async def _run(jobs, fn, *args):
    try:
        return await jobs.run(fn, *args)
    except LookupError:
        raise HTTPException(404, "no such session, or it has no network yet") from None
    except NotARegression as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/smoothing", response_model=BaselineOut)
async def smoothing(session: SessionDep, jobs: JobsDep, sigma: Sigma = DEFAULT_SIGMA_PX):
    """Gaussian-kernel regression of the run's training points: its MSE on the validation points,
    beside the network's (at the last measured step)."""
    baseline, step, network_val = await _run(jobs, _baseline, session, sigma)
    return BaselineOut(sigma=baseline.sigma_px, val_loss=baseline.val_loss, train_loss=baseline.train_loss,
                       step=step, network_val_loss=network_val)


@router.get("/smoothing.png", responses={200: {"content": {"image/png": {}}}})
async def smoothing_png(session: SessionDep, jobs: JobsDep, sigma: Sigma = DEFAULT_SIGMA_PX,
                        size: Annotated[int, Query(ge=16, le=1024)] = 1024):
    """The baseline's picture (clipped to [0, 1]), ``size`` pixels square."""
    data = await _run(jobs, _png, session, sigma, size)
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})
