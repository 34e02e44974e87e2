"""The FastAPI app: thin REST routes, the websocket, static files. No numerics here.

Each websocket owns one LiveSession (session.py); this module only moves
messages between the socket and the session's outbox, and enforces the
server's limits (``Settings``, README "Limits"):

- uploads past ``max_upload_bytes`` get 413 before the body is read (by
  Content-Length) or as soon as the count passes it (chunked bodies);
- at most ``max_sessions`` websocket sessions; one more gets a "busy" error;
- a client that does not take a message within ``send_timeout_s`` is dropped,
  and so is one that does not answer pings; either way its training stops;
- websocket messages past ``live_limits.max_message_bytes`` get an ``error``,
  past ``max_ws_message_bytes`` the socket is closed (1009) by uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import anyio.to_thread
import plotly
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.formparsers import MultiPartParser
from pydantic import BaseModel

from .. import __version__
from .routers import geometry as geometry_routes
from ..core.settings import MAX_POINTS, MAX_RESOLUTION, MIN_RESOLUTION, RunConfig
from .routers.geometry import attachment
from ..core.images import MAX_ASPECT_RATIO, MAX_SOURCE_PIXELS, MIN_SIDE, ImageError, UnsupportedImage
from .connections import uvicorn_protocols
from .jobs import IdleThreadPool
from .middleware import MULTIPART_OVERHEAD, HostCheck, SecurityHeaders, UploadLimit, default_allowed_hosts, too_large
from ..core.model import MAX_DEPTH, MAX_PARAMETERS, MAX_WIDTH
from .protocol import MAX_STEP_N, LiveLimits, ProtocolError, parse_command
from .budget import MemoryBudget
from .session import LiveSession, Outbox
from .store import ImageStore, StoreLimits, UnknownImage

log = logging.getLogger("polytope_lens.server")

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"  # package data
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
UPLOAD_CHUNK = 1 << 20
@dataclass
class Settings:
    """Server limits (README "Limits"); `polytope-lens serve --help` sets them.

    host/port, the websocket sizes, ping and connection limits take effect
    through ``uvicorn_config``/``serve`` (uvicorn's own settings); the rest in
    ``create_app``.
    """

    host: str = "127.0.0.1"  # loopback only; "0.0.0.0" exposes the server to the network
    port: int = 8000
    max_sessions: int = 4  # websocket sessions at once (each may train); one more is told "busy"
    max_upload_bytes: int = 20 * 1024 * 1024  # largest picture file; larger uploads get 413
    data_dir: Path | None = None  # keep uploads in data_dir/uploads (across restarts); None: a temp folder
    samples_dir: Path | None = None
    uploads_dir: Path | None = None  # overrides data_dir/uploads
    frontend_dir: Path = FRONTEND_DIR
    store_limits: StoreLimits = field(default_factory=StoreLimits)  # kept uploads: count, bytes
    live_limits: LiveLimits = field(default_factory=LiveLimits)  # message size, cost of a live run
    device: str | None = None
    max_ws_message_bytes: int = 4 * 1024 * 1024  # uvicorn ws_max_size: bigger messages close the socket (1009)
    send_timeout_s: float = 10.0  # a client that takes no message for this long is dropped
    ping_interval_s: float = 10.0  # websocket keep-alive pings ...
    ping_timeout_s: float = 10.0  # ... and how long a pong may take before the connection is dropped
    max_queued_commands: int = 16  # commands waiting per session; more get "slow down"
    max_parallel_jobs: int = 2  # uploads decoded and downloads rendered at once; more wait their turn
    max_connections: int = 256  # uvicorn limit_concurrency: HTTP/websocket connections before 503
    max_connections_per_client: int = 32  # connections from one address at once (web/connections.py)
    header_timeout_s: float = 10.0  # a request's line and headers must arrive within this
    body_timeout_s: float = 15.0  # longest pause inside a request body before the connection is closed
    keep_alive_timeout_s: float = 5.0  # an idle keep-alive connection is closed after this
    max_header_bytes: int = 64 * 1024  # request line and headers; more get 431
    allowed_origins: tuple[str, ...] = ()  # extra browser origins that may open /ws and POST ("*": any)
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides 127.0.0.1, localhost, ::1 and host ("*": any)
    live_memory_bytes: int | None = 2048 * 1024 * 1024  # all live sessions together (web/budget.py estimate)
    max_threads: int = 8  # threads for blocking work (uploads, downloads, closing sessions); idle ones end
    geometry_workers: int = 2  # worker processes for heavy exact geometry (regions, counts, lines)
    geometry_queue: int = 8  # geometry requests that may wait for a worker; more get 503 at once
    geometry_wait_s: float = 10.0  # longest wait for a worker before 503 (Retry-After)

    def resolved_uploads_dir(self) -> Path | None:
        if self.uploads_dir is not None:
            return Path(self.uploads_dir)
        return Path(self.data_dir) / "uploads" if self.data_dir is not None else None


class Health(BaseModel):
    status: str
    sessions: int


class Sample(BaseModel):
    id: str
    name: str
    url: str


class UploadResult(BaseModel):
    image_id: str
    width: int
    height: int
    url: str


class Problem(BaseModel):
    detail: str


def _problems(*codes: int) -> dict:
    words = {
        404: "unknown id or token",
        413: "the file is larger than the upload limit",
        415: "not a picture, or an unsupported kind of file",
        422: "an invalid request, or a picture that cannot be used",
    }
    return {code: {"model": Problem, "description": words[code]} for code in codes}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    store = ImageStore(settings.samples_dir, settings.resolved_uploads_dir(), settings.store_limits)
    sessions: dict[str, LiveSession] = {}
    closing: set[LiveSession] = set()  # closed by their socket, worker thread not yet finished
    jobs = asyncio.Semaphore(max(1, settings.max_parallel_jobs))
    budget = MemoryBudget(settings.live_memory_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # Threads for blocking work end when idle (asyncio.to_thread) or are few (starlette's file
        # responses use anyio's pool, whose idle threads stay): a burst leaves none behind.
        asyncio.get_running_loop().set_default_executor(IdleThreadPool(settings.max_threads, name="polytope-io"))
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.max_threads
        yield
        for session in list(sessions.values()):
            await asyncio.to_thread(session.close)
        await asyncio.to_thread(app.state.geometry_pool.shutdown)
        store.close()

    app = FastAPI(title="Polytope Lens", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.sessions = sessions
    app.add_middleware(UploadLimit, path="/api/images", limit=settings.max_upload_bytes)
    # An upload is read into memory whole anyway: keep its part there too, so that parsing it
    # needs no file writes on (lingering) anyio threads.
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, settings.max_upload_bytes + MULTIPART_OVERHEAD)
    app.add_middleware(HostCheck, allowed_hosts=default_allowed_hosts(settings.host, settings.allowed_hosts),
                       allowed_origins=settings.allowed_origins)  # 403 for other sites (DNS rebinding, POST)
    app.add_middleware(SecurityHeaders)  # outermost: also on 413s and errors

    @app.exception_handler(RequestValidationError)
    async def readable_validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": describe_request_errors(exc.errors())}, status_code=422)

    # -- REST -----------------------------------------------------------------
    @app.get("/api/health", response_model=Health)
    async def health():
        return {"status": "ok", "sessions": len(sessions)}

    @app.get("/api/options")
    async def options():
        live = settings.live_limits
        return {
            "defaults": RunConfig().model_dump(),
            "limits": {
                "max_depth": MAX_DEPTH,
                "max_width": MAX_WIDTH,
                "max_parameters": MAX_PARAMETERS,
                "max_points": MAX_POINTS,
                "min_resolution": MIN_RESOLUTION,
                "max_resolution": MAX_RESOLUTION,
                "max_point_activations": live.max_point_activations,
                "max_frame_cost": live.max_frame_cost,
                "max_step_n": MAX_STEP_N,
                "max_upload_bytes": settings.max_upload_bytes,
                "max_source_pixels": MAX_SOURCE_PIXELS,
                "max_aspect_ratio": MAX_ASPECT_RATIO,
                "min_side": MIN_SIDE,
                "max_uploads": settings.store_limits.max_uploads,
                "max_upload_store_bytes": settings.store_limits.max_upload_store_bytes,
                "max_sessions": settings.max_sessions,
                "max_message_bytes": live.max_message_bytes,
                "max_ws_message_bytes": settings.max_ws_message_bytes,
                "max_live_memory_bytes": settings.live_memory_bytes,
            },
        }

    @app.get("/api/samples", response_model=list[Sample])
    async def samples():
        return store.samples()

    @app.post("/api/images", status_code=201, response_model=UploadResult, responses=_problems(413, 415, 422))
    async def upload_image(file: UploadFile | None = File(None, description="the picture")):
        if file is None:
            raise HTTPException(422, "the upload needs a multipart field named 'file' holding the picture")
        data = await _read_limited(file, settings.max_upload_bytes)
        async with jobs:
            try:
                image_id = await asyncio.to_thread(_trimmed, store.add_upload, data)
            except UnsupportedImage as exc:
                raise HTTPException(415, str(exc))
            except ImageError as exc:
                raise HTTPException(422, str(exc))
        return {"image_id": image_id, "width": 1024, "height": 1024, "url": f"/api/images/{image_id}"}

    @app.get(
        "/api/images/{image_id}",
        responses={200: {"content": {"image/png": {}}}, **_problems(404, 422)},
    )
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

    @app.get(
        "/api/sessions/{token}/frame.png",
        responses={200: {"content": {"image/png": {}}}, **_problems(404, 422)},
    )
    async def session_frame(token: str):
        session = _session(token)
        async with jobs:
            data = await asyncio.to_thread(session.frame_png)
        if data is None:
            raise HTTPException(404, "no frame drawn yet")
        return Response(data, media_type="image/png", headers=attachment("polytope-lens-frame.png"))

    @app.get(
        "/api/sessions/{token}/movie",
        responses={200: {"content": {"video/mp4": {}, "image/gif": {}}}, **_problems(404, 422)},
    )
    async def session_movie(token: str):
        session = _session(token)
        async with jobs:
            movie = await asyncio.to_thread(session.movie_file)
        if movie is None:
            raise HTTPException(404, "no frames recorded yet: train a little first")
        data, mime, ext = movie
        return Response(data, media_type=mime, headers=attachment(f"polytope-lens-run{ext}"))

    @app.get(
        "/api/sessions/{token}/checkpoint",
        responses={200: {"content": {"application/octet-stream": {}}}, **_problems(404, 422)},
    )
    async def session_checkpoint(token: str):
        session = _session(token)
        async with jobs:
            data = await asyncio.to_thread(session.checkpoint_bytes)
        if data is None:
            raise HTTPException(404, "no such session, or it has no network yet")
        return Response(data, media_type="application/octet-stream", headers=attachment("checkpoint.pt"))

    @app.get("/api/sessions/{token}/config", responses=_problems(404, 422))
    async def session_config(token: str):
        config = _session(token).config()
        if config is None:
            raise HTTPException(404, "no such session, or it has no network yet")
        return JSONResponse(config.model_dump(), headers=attachment("config.json"))

    geometry_routes.install(app, settings.max_parallel_jobs)  # inspect, regions.json/.svg, layer-counts, neuron-line

    # -- websocket --------------------------------------------------------------
    @app.websocket("/ws")
    async def websocket(ws: WebSocket):
        if not _origin_allowed(ws, settings.allowed_origins):
            log.info("refused a websocket from the page of %r", ws.headers.get("origin", "")[:100])
            denial = JSONResponse(
                {"detail": "this page's origin may not open a session here (see allowed_origins)"},
                status_code=403,
            )
            try:
                await ws.send_denial_response(denial)
            except RuntimeError:  # a server without the denial-response extension
                await ws.close(code=1008, reason="origin not allowed")
            return
        await ws.accept()
        closing.difference_update([s for s in closing if not s.alive])
        if len(sessions) + len(closing) >= settings.max_sessions:
            with contextlib.suppress(Exception):  # the client may already be gone
                await ws.send_json(
                    {
                        "type": "error",
                        "message": f"the server is busy: {settings.max_sessions} sessions are open "
                        "already (the limit); try again in a minute",
                        "field": "busy",
                    }
                )
                await ws.close(code=1013, reason="busy: too many sessions")
            return
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def notify() -> None:
            with contextlib.suppress(RuntimeError):  # loop closed at shutdown
                loop.call_soon_threadsafe(wake.set)

        outbox = Outbox(notify=notify)
        session = LiveSession(
            lambda image, color: store.target(image, color),
            outbox,
            device=settings.device,
            max_queued=settings.max_queued_commands,
        )
        sessions[session.token] = session
        outbox.put_message(
            {"type": "status", "state": "idle", "step": 0, "token": session.token, "config": None, "image_url": None}
        )
        receiver = asyncio.create_task(_receive_loop(ws, session, outbox, settings.live_limits, budget))
        sender = asyncio.create_task(_send_loop(ws, outbox, wake, settings.send_timeout_s))
        try:
            await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            receiver.cancel()
            sender.cancel()
            await asyncio.gather(receiver, sender, return_exceptions=True)
            sessions.pop(session.token, None)
            budget.release(session.token)
            closing.add(session)
            if await asyncio.to_thread(_close_session, session):
                closing.discard(session)
        if sender.done() and not sender.cancelled() and isinstance(sender.exception(), SlowClient):
            log.warning("dropped a session whose client stopped reading: %s", sender.exception())
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=1008, reason="the client stopped reading"), 0.5)

    # -- static files -------------------------------------------------------------
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)  # HEAD: uptime checks
    async def index():
        page = Path(settings.frontend_dir) / "index.html"
        if not page.is_file():
            raise HTTPException(404, "the frontend is not installed next to this server")
        return FileResponse(page, headers={"Cache-Control": "no-cache"})

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_js():
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=settings.frontend_dir, check_dir=False), name="static")
    return app


# -- websocket plumbing ------------------------------------------------------------
class SlowClient(Exception):
    """The client did not take a message within Settings.send_timeout_s."""


async def _receive_loop(ws: WebSocket, session: LiveSession, outbox: Outbox, limits: LiveLimits,
                        budget: MemoryBudget) -> None:
    """Parse client messages into commands; answer bad ones with an error. Ends at disconnect.

    Every message gets its reply (an error, "slow down", or the command's own effect); while
    the client has not taken ``outbox.high_water`` replies yet, no more messages are read.
    """
    while True:
        while outbox.backlog() >= outbox.high_water:  # replies are never dropped: wait for the sender
            await asyncio.sleep(0.005)
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        try:
            command = parse_command(text if text is not None else (message.get("bytes") or b""), limits)
            reservation = budget.reserve(session.token, command)  # a configure past the memory budget: error
        except ProtocolError as exc:
            error = {"type": "error", "message": str(exc)}
            if exc.field:
                error["field"] = exc.field
            outbox.put_message(error)
            continue
        if not session.submit(command):
            reservation.cancel()
            outbox.put_message(
                {
                    "type": "error",
                    "message": f"'{command.type}' ignored: too many commands are waiting; "
                    "slow down (the session is still working on earlier ones)",
                }
            )


async def _send_loop(ws: WebSocket, outbox: Outbox, wake: asyncio.Event, timeout: float) -> None:
    """Forward the outbox to the socket: messages in order, then the latest frame.

    Returns when the client is gone; raises SlowClient when one send takes longer than
    ``timeout`` (a client that stopped reading, or a stalled network). Memory stays
    bounded meanwhile: the session keeps at most one frame and a short message queue.
    """
    try:
        while True:
            await wake.wait()
            wake.clear()
            messages, frame = outbox.take()
            for message in messages:
                await _timed(ws.send_json(message), timeout)
            if frame is not None:
                await _timed(ws.send_bytes(frame), timeout)
    except (RuntimeError, ConnectionError, OSError):
        return  # disconnected (uvicorn's ClientDisconnected is an OSError); the receive loop sees it too
    except Exception as exc:  # starlette's WebSocketDisconnect and friends
        if isinstance(exc, SlowClient):
            raise
        return


async def _timed(send, timeout: float) -> None:
    try:
        await asyncio.wait_for(send, timeout)
    except asyncio.TimeoutError:
        raise SlowClient(f"a message was not taken within {timeout:g} s") from None


def _trimmed(fn, *args):
    """``fn(*args)`` (a picture decoded: hundreds of MB for a few moments), then the memory handed
    back to the system, whether it succeeded or not (runs off the event loop)."""
    try:
        return fn(*args)
    finally:
        _malloc_trim()


def _close_session(session: LiveSession) -> bool:
    """Stop a session's worker and give its memory back to the system (runs off the event loop)."""
    finished = session.close(timeout=2.0)
    gc.collect()
    _malloc_trim()
    return finished


def _load_libc():
    try:
        name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:  # pragma: no cover - not glibc
        return None


_LIBC = _load_libc()


def _malloc_trim() -> None:
    """glibc keeps freed arenas; hand them back so RSS returns to baseline after a session."""
    if _LIBC is not None:
        with contextlib.suppress(Exception):
            _LIBC.malloc_trim(0)


def _origin_allowed(ws: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Browsers send Origin; only pages served by this server (or allowed_origins) may open a session.
    Clients that are not browsers send no Origin and are let in."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    if "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    host = ws.headers.get("host", "")
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.lower()


# -- HTTP plumbing -------------------------------------------------------------------
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


def describe_request_errors(errors) -> str:
    """FastAPI's validation errors as one sentence per problem, naming the parameter."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body", "header", "cookie")]
        name = ".".join(loc) or "request"
        msg = str(err.get("msg", "invalid"))
        if loc and loc[0] == "file":
            msg = "must be the picture file itself, sent as multipart/form-data"
        parts.append(f"{name}: {msg}")
    return "; ".join(parts)[:500] or "invalid request"


# -- running -----------------------------------------------------------------------
def uvicorn_config(settings: Settings | None = None, app=None, **overrides):
    """The uvicorn.Config for ``settings``: bind address, websocket limits, pings, connection cap.

    ``overrides`` go straight to uvicorn.Config (e.g. ``log_level``).
    """
    import uvicorn

    settings = settings or Settings()
    http, ws, _ = uvicorn_protocols(settings.max_connections_per_client, settings.header_timeout_s,
                                    settings.body_timeout_s, settings.max_header_bytes,
                                    http=overrides.pop("http", "auto"), ws=overrides.pop("ws", "auto"))
    options = dict(
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_ws_message_bytes,
        ws_ping_interval=settings.ping_interval_s,
        ws_ping_timeout=settings.ping_timeout_s,
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        http=http,
        ws=ws or "auto",
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    options.update(overrides)
    return uvicorn.Config(app if app is not None else create_app(settings), **options)


def serve(settings: Settings | None = None, **overrides) -> None:
    """Run the server in the foreground until Ctrl-C (what `polytope-lens serve` calls)."""
    import uvicorn

    uvicorn.Server(uvicorn_config(settings, **overrides)).run()
