"""Pictures: the samples, uploads, and any picture by id."""

from __future__ import annotations

import asyncio
import threading
from typing import Literal

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from ...core.clips import DecodeStopped
from ...core.images import ImageError, UnsupportedImage
from ..memory import trimmed
from ..middleware import too_large
from ..registry import JobsDep, SettingsDep, StoreDep
from ..responses import problems
from ..store import UnknownImage

router = APIRouter(prefix="/api", tags=["pictures"])
UPLOAD_CHUNK = 1 << 20


class Sample(BaseModel):
    id: str
    name: str
    url: str
    frames: int = 1  # a clip's frames (1 for a picture)
    task: Literal["regress", "classify"] = "regress"  # what the picture was made for (core/samples.py)


class UploadResult(BaseModel):
    image_id: str
    width: int
    height: int
    url: str
    frames: int = 1  # 1 for a still picture; a clip's kept frames (core/clips.py)
    duration_s: float = 0.0  # a clip's length in seconds; 0 for a picture
    note: str | None = None  # what decoding had to say (a video cut short keeps the frames that decode)


@router.get("/samples", response_model=list[Sample])
async def samples(store: StoreDep):
    return store.samples()


@router.post("/images", status_code=201, response_model=UploadResult, responses=problems(413, 415, 422))
async def upload_image(request: Request, store: StoreDep, settings: SettingsDep, jobs: JobsDep,
                       file: UploadFile | None = File(None, description="the picture")):
    if file is None:
        raise HTTPException(422, "the upload needs a multipart field named 'file' holding the picture")
    data = await _read_limited(file, settings.max_upload_bytes)
    client_gone = threading.Event()  # decoding a clip stops between frames once this is set
    watcher = asyncio.create_task(_watch_disconnect(request, client_gone))
    try:
        image_id = await jobs.run(trimmed, store.add_upload, data, client_gone.is_set)
    except DecodeStopped as exc:
        raise HTTPException(499, str(exc))
    except UnsupportedImage as exc:
        raise HTTPException(415, str(exc))
    except ImageError as exc:
        raise HTTPException(422, str(exc))
    finally:
        watcher.cancel()
    info = await jobs.run(store.describe, image_id)
    return {"image_id": image_id, "width": 1024, "height": 1024, "url": f"/api/images/{image_id}", **info}


@router.get("/images/{image_id}", responses={200: {"content": {"image/png": {}}}, **problems(404, 422)})
async def image(image_id: str, store: StoreDep, jobs: JobsDep, size: int = Query(1024, ge=16, le=1024),
                frame: int = Query(0, ge=0, description="frame k of a clip (0-based)")):
    try:
        data = await jobs.run(store.png, image_id, size, frame)
    except UnknownImage as exc:
        raise HTTPException(404, str(exc))
    except ValueError as exc:
        raise HTTPException(422, str(exc))
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


async def _watch_disconnect(request: Request, gone: threading.Event, every_s: float = 0.2) -> None:
    """Set ``gone`` when the client closes its connection (checked every ``every_s``)."""
    while not gone.is_set():
        if await request.is_disconnected():
            gone.set()
            return
        await asyncio.sleep(every_s)


async def _read_limited(file: UploadFile, limit: int) -> bytes:
    """Read an upload, refusing with 413 as soon as it passes ``limit`` bytes."""
    if file.size is not None and file.size > limit:
        raise HTTPException(413, too_large(limit, file.size))
    chunks, total = [], 0
    while chunk := await file.read(UPLOAD_CHUNK):
        total += len(chunk)
        if total > limit:
            raise HTTPException(413, too_large(limit))
        chunks.append(chunk)
    return b"".join(chunks)
