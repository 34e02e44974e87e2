"""The FastAPI app: thin REST routes, the websocket, static files. No numerics here.

Each websocket owns one LiveSession (session.py); this module only moves
messages between the socket and the session's outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import plotly
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from . import __version__
from .config import MAX_POINTS, MAX_RESOLUTION, MIN_RESOLUTION, RunConfig
from .images import ImageError
from .model import MAX_DEPTH, MAX_PARAMETERS, MAX_WIDTH
from .protocol import MAX_MESSAGE_BYTES, ProtocolError, parse_command
from .session import LiveSession, Outbox
from .store import ImageStore, StoreLimits, UnknownImage

log = logging.getLogger("polytope_lens.server")

FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
UPLOAD_CHUNK = 1 << 20

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "script-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}


@dataclass
class Settings:
    """Server limits (README "Limits"); `polytope-lens serve --help` sets them."""

    max_sessions: int = 4
    max_upload_bytes: int = 20 * 1024 * 1024
    samples_dir: Path | None = None
    uploads_dir: Path | None = None
    frontend_dir: Path = FRONTEND_DIR
    store_limits: StoreLimits = field(default_factory=StoreLimits)
    device: str | None = None


class Health(BaseModel):
    status: str


class Sample(BaseModel):
    id: str
    name: str
    url: str


class UploadResult(BaseModel):
    image_id: str
    width: int
    height: int
    url: str


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    store = ImageStore(settings.samples_dir, settings.uploads_dir, settings.store_limits)
    sessions: dict[str, LiveSession] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        for session in list(sessions.values()):
            session.close()
        store.close()

    app = FastAPI(title="Polytope Lens", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.sessions = sessions

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    # -- REST -----------------------------------------------------------------
    @app.get("/api/health", response_model=Health)
    async def health():
        return {"status": "ok"}

    @app.get("/api/options")
    async def options():
        return {
            "defaults": RunConfig().model_dump(),
            "limits": {
                "max_depth": MAX_DEPTH,
                "max_width": MAX_WIDTH,
                "max_parameters": MAX_PARAMETERS,
                "max_points": MAX_POINTS,
                "min_resolution": MIN_RESOLUTION,
                "max_resolution": MAX_RESOLUTION,
                "max_upload_bytes": settings.max_upload_bytes,
                "max_sessions": settings.max_sessions,
                "max_message_bytes": MAX_MESSAGE_BYTES,
            },
        }

    @app.get("/api/samples", response_model=list[Sample])
    async def samples():
        return store.samples()

    @app.post("/api/images", status_code=201, response_model=UploadResult)
    async def upload_image(request: Request, file: UploadFile | None = File(None)):
        if file is None:
            raise HTTPException(422, "the upload needs a multipart field named 'file' holding the picture")
        data = await _read_limited(file, settings.max_upload_bytes)
        try:
            image_id = await asyncio.to_thread(store.add_upload, data)
        except ImageError as exc:
            raise HTTPException(415 if "not a picture" in str(exc) or "not supported" in str(exc) else 422, str(exc))
        return {"image_id": image_id, "width": 1024, "height": 1024, "url": f"/api/images/{image_id}"}

    @app.get("/api/images/{image_id}", responses={200: {"content": {"image/png": {}}}})
    async def image(image_id: str, size: int = Query(1024, ge=16, le=1024)):
        try:
            data = await asyncio.to_thread(store.png, image_id, size)
        except UnknownImage as exc:
            raise HTTPException(404, str(exc))
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    def _session(token: str) -> LiveSession:
        session = sessions.get(token)
        if session is None or session.trainer is None:
            raise HTTPException(404, "no such session, or it has no network yet")
        return session

    @app.get("/api/sessions/{token}/frame.png", responses={200: {"content": {"image/png": {}}}})
    async def session_frame(token: str):
        data = await asyncio.to_thread(_session(token).frame_png)
        if data is None:
            raise HTTPException(404, "no frame drawn yet")
        return Response(data, media_type="image/png", headers=_attachment("polytope-lens-frame.png"))

    @app.get("/api/sessions/{token}/movie", responses={200: {"content": {"video/mp4": {}, "image/gif": {}}}})
    async def session_movie(token: str):
        movie = await asyncio.to_thread(_session(token).movie_file)
        if movie is None:
            raise HTTPException(404, "no frames recorded yet: train a little first")
        data, mime, ext = movie
        return Response(data, media_type=mime, headers=_attachment(f"polytope-lens-run{ext}"))

    @app.get("/api/sessions/{token}/checkpoint", responses={200: {"content": {"application/octet-stream": {}}}})
    async def session_checkpoint(token: str):
        data = await asyncio.to_thread(_session(token).checkpoint_bytes)
        return Response(data, media_type="application/octet-stream", headers=_attachment("checkpoint.pt"))

    @app.get("/api/sessions/{token}/config")
    async def session_config(token: str):
        config = _session(token).config()
        return JSONResponse(config.model_dump(), headers=_attachment("config.json"))

    # -- websocket --------------------------------------------------------------
    @app.websocket("/ws")
    async def websocket(ws: WebSocket):
        await ws.accept()
        live = [s for s in sessions.values() if s.alive]
        if len(live) >= settings.max_sessions:
            await ws.send_json(
                {
                    "type": "error",
                    "message": f"the server is busy: {settings.max_sessions} sessions are training "
                    "already; try again in a minute",
                    "field": "busy",
                }
            )
            await ws.close(code=1013)
            return
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        outbox = Outbox(notify=lambda: loop.call_soon_threadsafe(wake.set))
        session = LiveSession(lambda image, color: store.target(image, color), outbox, device=settings.device)
        sessions[session.token] = session
        outbox.put_message({"type": "status", "state": "idle", "step": 0, "token": session.token, "config": None, "image_url": None})
        sender = asyncio.create_task(_send_loop(ws, outbox, wake))
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                try:
                    command = parse_command(text if text is not None else message.get("bytes") or b"")
                except ProtocolError as exc:
                    outbox.put_message({"type": "error", "message": str(exc), **({"field": exc.field} if exc.field else {})})
                    continue
                session.submit(command)
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            sessions.pop(session.token, None)
            await asyncio.to_thread(session.close)

    # -- static files -------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(settings.frontend_dir / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_js():
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=settings.frontend_dir), name="static")
    return app


async def _send_loop(ws: WebSocket, outbox: Outbox, wake: asyncio.Event) -> None:
    """Forward the outbox to the socket: messages in order, then the latest frame."""
    try:
        while True:
            await wake.wait()
            wake.clear()
            messages, frame = outbox.take()
            for message in messages:
                await ws.send_json(message)
            if frame is not None:
                await ws.send_bytes(frame)
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass  # the receive loop notices the disconnect and cleans up


async def _read_limited(file: UploadFile, limit: int) -> bytes:
    """Read an upload, refusing with 413 as soon as it passes ``limit`` bytes."""
    if file.size is not None and file.size > limit:
        raise HTTPException(413, f"the file is {file.size:,} bytes; the limit is {limit:,} bytes")
    chunks, total = [], 0
    while chunk := await file.read(UPLOAD_CHUNK):
        total += len(chunk)
        if total > limit:
            raise HTTPException(413, f"the file is larger than the {limit:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
