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
from typing import Annotated, Awaitable, Callable

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection

from ..sweeps.catalog import RunCatalog
from .budget import MemoryBudget
from .config import Settings
from .jobs import GeometryPool
from .sessions.contract import Downloads, Session
from .sessions.factory import SessionFactory
from .sessions.outbox import ServerOutbox
from .networkstore import NetworkStore
from .store import ImageStore


@dataclass
class _Away:
    """A session whose socket dropped: it goes on (training, if it was) until its page comes back
    for it or ``timer`` ends it."""

    session: Session
    outbox: ServerOutbox
    end: Callable[[Session], Awaitable[None]]
    timer: asyncio.TimerHandle | None = None


class SessionRegistry:
    """Open sessions by token, and those closed by their socket whose worker has not ended yet
    (they still hold memory, so they count against ``max_sessions``).

    An open session is either on a socket (``attached``: the event that asks that socket to let it
    go) or away: its socket dropped and it waits ``resume_grace_s`` for its page to reconnect with
    its token (``/ws?resume=TOKEN``, routers/live.py) before it is ended. A stalled page or a network
    blip then costs no run.
    """

    def __init__(self, max_sessions: int, resume_grace_s: float = 0.0):
        self.max_sessions = max_sessions
        self.resume_grace_s = resume_grace_s
        self.sessions: dict[str, Session] = {}
        self.closing: set[Session] = set()
        self.attached: dict[str, asyncio.Event] = {}
        self.away: dict[str, _Away] = {}
        self._endings: set[asyncio.Task] = set()

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

    def attach(self, session: Session) -> asyncio.Event:
        """``session`` is on a socket now; the event returned is set when another socket takes it."""
        let_go = asyncio.Event()
        self.attached[session.token] = let_go
        return let_go

    def set_aside(self, session: Session, outbox: ServerOutbox, end: Callable[[Session], Awaitable[None]]) -> bool:
        """Its socket dropped: keep ``session`` (and what it says, in ``outbox``) for
        ``resume_grace_s``, then ``end`` it unless its page came back. False (nothing kept) when the
        registry keeps none or the session has ended."""
        self.attached.pop(session.token, None)
        if self.resume_grace_s <= 0 or not session.alive or self.sessions.get(session.token) is not session:
            return False
        outbox.rebind(lambda: None)  # no socket to wake; messages wait, frames stay latest-wins

        away = self.away[session.token] = _Away(session, outbox, end)
        away.timer = asyncio.get_running_loop().call_later(self.resume_grace_s, self._end_away, session.token)
        return True

    def _leave(self, token: str) -> _Away | None:
        """The session away named ``token``, no longer away (its timer stopped); None when none is."""
        away = self.away.pop(token, None)
        if away is not None:
            away.timer.cancel()
        return away

    def _end_away(self, token: str) -> None:
        away = self._leave(token)
        if away is None:
            return
        task = asyncio.ensure_future(away.end(away.session))
        self._endings.add(task)  # held until done (the loop keeps only weak references to tasks)
        task.add_done_callback(self._endings.discard)

    async def make_room(self) -> bool:
        """When every place is taken, end sessions away (the longest away first: its page is the
        likeliest gone) until one is free: a page that is here comes before one that may come back.
        True when there is room now."""
        while self.full() and self.away:
            away = self._leave(next(iter(self.away)))
            await away.end(away.session)
        return not self.full()

    async def take_back(self, token: str, wait_s: float = 5.0) -> tuple[Session, ServerOutbox] | None:
        """The session named ``token`` and its outbox, for a socket that resumes it; None when there
        is none to resume (never existed, ended, or its grace ran out). A session still on another
        socket (the page saw its connection drop before the server did) is asked to let go first."""
        let_go = self.attached.get(token)
        if let_go is not None:
            let_go.set()
            deadline = asyncio.get_running_loop().time() + wait_s
            while token not in self.away and token in self.attached:
                if asyncio.get_running_loop().time() > deadline:
                    return None
                await asyncio.sleep(0.01)
        away = self.away.get(token)
        if away is None:
            return None
        if not away.session.alive:  # its worker ended while away: nothing to resume, end it now
            self._end_away(token)
            return None
        self._leave(token)
        return away.session, away.outbox

    async def close(self, session: Session, close) -> None:
        """Forget ``session`` and run ``close(session)`` (blocking: it joins the worker) off the loop."""
        self.sessions.pop(session.token, None)
        self.attached.pop(session.token, None)
        self.closing.add(session)
        if await asyncio.to_thread(close, session):
            self.closing.discard(session)

    async def close_all(self) -> None:
        for away in self.away.values():
            away.timer.cancel()
        self.away.clear()
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
