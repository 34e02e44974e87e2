"""A live session's downloads: the frame on screen, the movie so far, the checkpoint, the settings."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response

from ..names import download_name
from ..registry import JobsDep, SessionDep
from ..responses import attachment, problems

router = APIRouter(prefix="/api/sessions/{token}", tags=["downloads"], responses=problems(404, 422))


def _step(session) -> int | None:
    return session.step_count()


def _download(data: bytes | None, media_type: str, name: str, missing: str) -> Response:
    if data is None:
        raise HTTPException(404, missing)
    return Response(data, media_type=media_type, headers=attachment(name))


@router.get("/frame.png", responses={200: {"content": {"image/png": {}}}})
async def session_frame(session: SessionDep, jobs: JobsDep):
    data = await jobs.run(session.frame_png)
    name = download_name(session.config(), await jobs.run(_step, session), "frame", "png")
    return _download(data, "image/png", name, "no frame drawn yet")


@router.get("/movie", responses={200: {"content": {"video/mp4": {}, "image/gif": {}}}})
async def session_movie(session: SessionDep, jobs: JobsDep):
    movie = await jobs.run(session.movie_file)
    if movie is None:
        raise HTTPException(404, "no frames recorded yet: train a little first")
    data, mime, ext = movie
    first, last = await jobs.run(session.movie_steps)
    steps = f"{first}-{last}" if first is not None and first != last else last
    return _download(data, mime, download_name(session.config(), steps, "movie", ext), "")


@router.get("/clip-movie", responses={200: {"content": {"video/mp4": {}, "image/gif": {}}}})
async def session_clip_movie(session: SessionDep, jobs: JobsDep):
    """A clip's run: the learnt clip beside the original, with the partition of each moment."""
    movie = await jobs.run(session.clip_movie_file)
    if movie is None:
        raise HTTPException(404, "this session's network learns a picture, not a clip (or has no network yet)")
    data, mime, ext = movie
    return _download(data, mime, f"polytope-lens-clip{ext}", "")


@router.get("/checkpoint", responses={200: {"content": {"application/octet-stream": {}}}})
async def session_checkpoint(session: SessionDep, jobs: JobsDep):
    data = await jobs.run(session.checkpoint_bytes)
    name = download_name(session.config(), await jobs.run(_step, session), "checkpoint", "pt")
    return _download(data, "application/octet-stream", name, "no such session, or it has no network yet")


@router.get("/config")
async def session_config(session: SessionDep, jobs: JobsDep):
    config = session.config()
    if config is None:
        raise HTTPException(404, "no such session, or it has no network yet")
    name = download_name(config, await jobs.run(_step, session), "config", "json")
    return JSONResponse(config.model_dump(), headers=attachment(name))
