"""The live sessions of one app, and the FastAPI dependencies that reach what the app holds.

Routes never touch ``app.state`` themselves: they ask for the registry, the
image store, the settings, the session factory, the geometry workers, the run
catalog or one session (and its downloads) by token through ``Depends``; the
getters below are the only readers of ``app.state``, which app.py fills. They
are ``async`` so FastAPI calls them on the event loop, not a thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection

from ..sweeps.catalog import RunCatalog
from .budget import MemoryBudget
from .config import Settings
from .jobs import GeometryPool
from .sessions.contract import Downloads, Session
from .sessions.factory import SessionFactory
from .networkstore import NetworkStore
from .store import ImageStore


class SessionRegistry:
    """Open sessions by token, and those closed by their socket whose worker has not ended yet
    (they still hold memory, so they count against ``max_sessions``)."""

    def __init__(self, max_sessions: int):
        self.max_sessions = max_sessions
        self.sessions: dict[str, Session] = {}
        self.closing: set[Session] = set()

    def __len__(self) -> int:
        return len(self.sessions)

    def in_use(self) -> int:
        """Sessions holding a place: open ones, and closed ones whose worker has not ended yet."""
        self.closing.difference_update([s for s in self.closing if not s.alive])
        return len(self.sessions) + len(self.closing)

    def full(self) -> bool:
        return self.in_use() >= self.max_sessions

    def add(self, session: Session) -> None:
        self.sessions[session.token] = session

    def get(self, token: str) -> Session | None:
        return self.sessions.get(token)

    async def close(self, session: Session, close) -> None:
        """Forget ``session`` and run ``close(session)`` (blocking: it joins the worker) off the loop."""
        self.sessions.pop(session.token, None)
        self.closing.add(session)
        if await asyncio.to_thread(close, session):
            self.closing.discard(session)

    async def close_all(self) -> None:
        for session in list(self.sessions.values()):
            await asyncio.to_thread(session.close)


@dataclass
class GeometryJobs:
    """The worker processes for heavy exact geometry (routers/geometry.py), and what each session
    runs there now, by token (for ``/exact-progress``)."""

    pool: GeometryPool
    progress: dict[str, dict] = field(default_factory=dict)


class Jobs:
    """At most ``n`` uploads decoded and downloads rendered at once; more wait their turn."""

    def __init__(self, n: int):
        self.semaphore = asyncio.Semaphore(max(1, n))

    async def run(self, fn, *args):
        async with self.semaphore:
            return await asyncio.to_thread(fn, *args)


async def get_settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


async def get_store(conn: HTTPConnection) -> ImageStore:
    return conn.app.state.store


async def get_networks(conn: HTTPConnection) -> NetworkStore:
    return conn.app.state.networks


async def get_registry(conn: HTTPConnection) -> SessionRegistry:
    return conn.app.state.registry


async def get_jobs(conn: HTTPConnection) -> Jobs:
    return conn.app.state.jobs


async def get_budget(conn: HTTPConnection) -> MemoryBudget:
    return conn.app.state.budget


async def get_session_factory(conn: HTTPConnection) -> SessionFactory:
    return conn.app.state.session_factory


async def get_geometry_jobs(conn: HTTPConnection) -> GeometryJobs:
    return conn.app.state.geometry_jobs


async def get_catalog(conn: HTTPConnection) -> RunCatalog:
    """The sweep folder the server shows (``serve --runs DIR``); 404 with the reason without one."""
    catalog = conn.app.state.run_catalog
    if catalog is None:
        raise HTTPException(404, "this server shows no runs: start it with polytope-lens serve --runs DIR")
    return catalog


async def live_session(token: str, registry: Annotated[SessionRegistry, Depends(get_registry)]) -> Session:
    """The session named in the path, once it has a network; 404 otherwise."""
    session = registry.get(token)
    if session is None or not session.has_network:
        raise HTTPException(404, "no such session, or it has no network yet")
    return session


async def session_downloads(session: Annotated[Session, Depends(live_session)]) -> Downloads:
    """The files of the session named in the path (made beside it, wherever it runs)."""
    return session.downloads


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ImageStore, Depends(get_store)]
NetworksDep = Annotated[NetworkStore, Depends(get_networks)]
RegistryDep = Annotated[SessionRegistry, Depends(get_registry)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]
SessionDep = Annotated[Session, Depends(live_session)]
BudgetDep = Annotated[MemoryBudget, Depends(get_budget)]
SessionFactoryDep = Annotated[SessionFactory, Depends(get_session_factory)]
GeometryJobsDep = Annotated[GeometryJobs, Depends(get_geometry_jobs)]
CatalogDep = Annotated[RunCatalog, Depends(get_catalog)]
DownloadsDep = Annotated[Downloads, Depends(session_downloads)]
