"""The FastAPI app: settings, shared objects, middleware and routers. No numerics here.

Each area's routes live in routers/: meta (health, options), images, presets, live
(the websocket), downloads, baseline, geometry (exact geometry), runs (a sweep folder and the
Compare page) and pages. The shared objects made here (session registry and factory, image
store, jobs, memory budget, geometry workers, run catalog) sit on ``app.state``; routes reach
them only through the dependencies of registry.py, never through globals.
"""

from __future__ import annotations

import asyncio
import contextlib

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.formparsers import MultiPartParser

from .. import __version__
from ..core.settings import RunConfig
from ..sweeps.catalog import RunCatalog
from .budget import MemoryBudget
from .config import Settings
from .connections import uvicorn_protocols
from .jobs import GeometryPool, IdleThreadPool
from .middleware import MULTIPART_OVERHEAD, HostCheck, SecurityHeaders, UploadLimit, default_allowed_hosts
from .registry import GeometryJobs, Jobs, SessionRegistry
from .responses import describe_request_errors
from .networkstore import NetworkStore
from .routers import baseline, downloads, geometry, images, live, meta, networks, pages, presets, runs
from .sessions.factory import session_factory
from .store import ImageStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # Threads for blocking work end when idle (asyncio.to_thread) or are few (starlette's file
        # responses use anyio's pool, whose idle threads stay): a burst leaves none behind.
        asyncio.get_running_loop().set_default_executor(IdleThreadPool(settings.max_threads, name="polytope-io"))
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.max_threads
        # before the first request: the engine's start-up (torch's, the fork server, Ray) and the
        # default sample decoded, so the first configure after a start answers as fast as any other
        await asyncio.to_thread(app.state.session_factory.start)
        with contextlib.suppress(KeyError, ValueError):
            await asyncio.to_thread(app.state.store.target, RunConfig().image, False)
        yield
        await app.state.registry.close_all()
        await asyncio.to_thread(app.state.session_factory.stop)
        await asyncio.to_thread(app.state.geometry_jobs.pool.shutdown)
        app.state.store.close()

    app = FastAPI(title="Polytope Lens", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = ImageStore(settings.samples_dir, settings.resolved_uploads_dir(), settings.store_limits)
    app.state.networks = NetworkStore(settings.network_limits)
    app.state.registry = SessionRegistry(settings.max_sessions, settings.resume_grace_s)
    app.state.jobs = Jobs(settings.max_parallel_jobs)
    app.state.budget = MemoryBudget(settings.live_memory_bytes)
    app.state.session_factory = session_factory(settings)
    # heavy exact geometry in worker processes of its own: exports may take seconds, and uploads
    # and downloads do not wait behind them
    app.state.geometry_jobs = GeometryJobs(GeometryPool(workers=settings.geometry_workers or settings.max_parallel_jobs,
                                                        max_waiting=settings.geometry_queue,
                                                        max_wait_s=settings.geometry_wait_s))
    app.state.run_catalog = RunCatalog(settings.runs_dir) if settings.runs_dir is not None else None
    app.add_middleware(UploadLimit, path="/api/images", limit=settings.max_upload_bytes)
    # a model file and a points file, each up to max_network_bytes
    app.add_middleware(UploadLimit, path="/api/networks", limit=2 * settings.max_network_bytes)
    # An upload is read into memory whole anyway: keep its part there too, so that parsing it
    # needs no file writes on (lingering) anyio threads.
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, settings.max_upload_bytes + MULTIPART_OVERHEAD,
                                         settings.max_network_bytes + MULTIPART_OVERHEAD)
    app.add_middleware(HostCheck, allowed_hosts=default_allowed_hosts(settings.host, settings.allowed_hosts),
                       allowed_origins=settings.allowed_origins)  # 403 for other sites (DNS rebinding, POST)
    app.add_middleware(SecurityHeaders)  # outermost: also on 413s and errors
    app.add_exception_handler(RequestValidationError, _readable_validation_error)
    for area in (meta, images, networks, downloads, live, pages, presets, baseline, geometry, runs):
        app.include_router(area.router)
    app.include_router(runs.page_router)  # the Compare page
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
