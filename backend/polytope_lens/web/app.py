"""The FastAPI app: settings, shared objects, middleware and routers. No numerics here.

Each area's routes live in routers/ (meta, images, downloads, geometry, live
websocket, pages); they reach the session registry, the image store and the
settings through dependencies (registry.py), never through globals.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..core.settings import RunConfig
from ..core.training import warm_up
from .config import Settings
from .middleware import SecurityHeaders, UploadLimit
from .registry import Jobs, SessionRegistry
from .responses import describe_request_errors
from .routers import downloads, geometry, images, live, meta, pages
from .store import ImageStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # before the first request: torch's one-time start-up and the default sample decoded, so the
        # first configure after a start answers as fast as any other
        await asyncio.to_thread(warm_up)
        with contextlib.suppress(KeyError, ValueError):
            await asyncio.to_thread(app.state.store.target, RunConfig().image, False)
        yield
        await app.state.registry.close_all()
        app.state.store.close()

    app = FastAPI(title="Polytope Lens", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = ImageStore(settings.samples_dir, settings.resolved_uploads_dir(), settings.store_limits)
    app.state.registry = SessionRegistry(settings.max_sessions)
    app.state.jobs = Jobs(settings.max_parallel_jobs)
    app.add_middleware(UploadLimit, path="/api/images", limit=settings.max_upload_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: also on 413s and errors
    app.add_exception_handler(RequestValidationError, _readable_validation_error)
    for area in (meta, images, downloads, live, pages):
        app.include_router(area.router)
    geometry.install(app, settings.max_parallel_jobs)  # inspect, regions.json/.svg, layer-counts, neuron-line
    app.mount("/static", StaticFiles(directory=settings.frontend_dir, check_dir=False), name="static")
    return app


async def _readable_validation_error(request: Request, exc: RequestValidationError):
    return JSONResponse({"detail": describe_request_errors(exc.errors())}, status_code=422)


def uvicorn_config(settings: Settings | None = None, app=None, **overrides):
    """The uvicorn.Config for ``settings``: bind address, websocket limits, pings, connection cap.

    ``overrides`` go straight to uvicorn.Config (e.g. ``log_level``).
    """
    import uvicorn

    settings = settings or Settings()
    options = dict(
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_ws_message_bytes,
        ws_ping_interval=settings.ping_interval_s,
        ws_ping_timeout=settings.ping_timeout_s,
        limit_concurrency=settings.max_connections,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    options.update(overrides)
    return uvicorn.Config(app if app is not None else create_app(settings), **options)


def serve(settings: Settings | None = None, **overrides) -> None:
    """Run the server in the foreground until Ctrl-C (what `polytope-lens serve` calls)."""
    import uvicorn

    uvicorn.Server(uvicorn_config(settings, **overrides)).run()
