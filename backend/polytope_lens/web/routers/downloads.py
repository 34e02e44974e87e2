"""A live session's downloads: the frame on screen, the movie so far, the learnt clip, the checkpoint,
the settings. The files are made beside the session (sessions/downloads.py); these routes send them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response

from ..names import download_name
from ..registry import DownloadsDep, JobsDep, SessionDep
from ..responses import attachment, problems
from ..sessions.contract import Download

router = APIRouter(prefix="/api/sessions/{token}", tags=["downloads"], responses=problems(404, 422))


def _send(download: Download | None, missing: str) -> Response:
    if download is None:
        raise HTTPException(404, missing)
    return Response(download.data, media_type=download.media_type, headers=attachment(download.name))


@router.get("/frame.png", responses={200: {"content": {"image/png": {}}}})
async def session_frame(downloads: DownloadsDep, jobs: JobsDep):
    return _send(await jobs.run(downloads.frame_png), "no frame drawn yet")


@router.get("/movie", responses={200: {"content": {"video/mp4": {}, "image/gif": {}}}})
async def session_movie(downloads: DownloadsDep, jobs: JobsDep):
    return _send(await jobs.run(downloads.movie), "no frames recorded yet: train a little first")


@router.get("/clip-movie", responses={200: {"content": {"video/mp4": {}, "image/gif": {}}}})
async def session_clip_movie(downloads: DownloadsDep, jobs: JobsDep):
    """A clip's run: the learnt clip beside the original, with the partition of each moment."""
    return _send(await jobs.run(downloads.clip_movie),
                 "this session's network learns a picture, not a clip (or has no network yet)")


@router.get("/checkpoint", responses={200: {"content": {"application/octet-stream": {}}}})
async def session_checkpoint(downloads: DownloadsDep, jobs: JobsDep):
    return _send(await jobs.run(downloads.checkpoint), "no such session, or it has no network yet")


@router.get("/config")
async def session_config(session: SessionDep, jobs: JobsDep):
    config = session.config()
    if config is None:
        raise HTTPException(404, "no such session, or it has no network yet")
    name = download_name(config, await jobs.run(session.step_count), "config", "json")
    return JSONResponse(config.model_dump(), headers=attachment(name))
