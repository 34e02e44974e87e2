"""One factory of live sessions per engine (engine.py), chosen by Settings.session_engine: what
the engine starts with the server, how it opens a session, what it stops with the server."""

from __future__ import annotations

import abc

import torch

from ... import processes
from ...core.training import warm_up
from ..config import Settings
from .contract import Session
from .engine import Engine
from .local import LiveSession, TargetResolver
from .outbox import ServerOutbox
from .process import SessionProcess
from .ray import RayCluster, RaySession

FORK_PRELOAD = "polytope_lens.web.fork_preload"


class SessionFactory(abc.ABC):
    """Opens the live sessions of one engine. ``start`` and ``stop`` block (the app's lifespan
    runs them on a thread); ``open`` too (a session may start a process): off the event loop."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def start(self) -> None:
        """Before the first session: torch's one-time start-up, so that the first configure after
        a start answers as fast as any other."""
        warm_up()

    @abc.abstractmethod
    def open(self, resolve_target: TargetResolver, outbox: ServerOutbox) -> Session:
        """A new session that says what it has to say into ``outbox`` (the websocket's)."""

    def stop(self) -> None:
        """After the last session has closed."""


class ThreadSessions(SessionFactory):
    """Each session a thread of the server's process (one GIL for all)."""

    def open(self, resolve_target: TargetResolver, outbox: ServerOutbox) -> Session:
        s = self.settings
        return LiveSession(resolve_target, outbox, device=s.device, max_queued=s.max_queued_commands)


class ProcessSessions(SessionFactory):
    """Each session in a process of its own: sessions do not share one GIL."""

    def start(self) -> None:
        processes.start([FORK_PRELOAD], False)  # the fork server imports and warms up what each session needs

    def open(self, resolve_target: TargetResolver, outbox: ServerOutbox) -> Session:
        s = self.settings
        return SessionProcess(resolve_target, outbox, device=s.device, max_queued=s.max_queued_commands,
                              threads=torch.get_num_threads())


class RaySessions(SessionFactory):
    """Each session an actor on the Ray cluster; this server only relays."""

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._cluster: RayCluster | None = None

    def start(self) -> None:
        super().start()
        self._cluster = RayCluster(self.settings.ray_address)

    def open(self, resolve_target: TargetResolver, outbox: ServerOutbox) -> Session:
        s = self.settings
        return RaySession(resolve_target, outbox, device=s.device, max_queued=s.max_queued_commands,
                          threads=torch.get_num_threads(), cpus=s.cpus_per_session)

    def stop(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()


FACTORIES: dict[Engine, type[SessionFactory]] = {
    Engine.PROCESS: ProcessSessions,
    Engine.THREAD: ThreadSessions,
    Engine.RAY: RaySessions,
}
if set(FACTORIES) != set(Engine):
    raise TypeError(f"every engine needs its factory: none for {set(Engine) - set(FACTORIES)}")


def session_factory(settings: Settings) -> SessionFactory:
    return FACTORIES[Engine(settings.session_engine)](settings)
