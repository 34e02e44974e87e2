"""A session that runs elsewhere: the server's handle on it, and the host beside it.

``RemoteSession`` is the server's side (process.py: a child process; ray.py: a Ray actor). Its
``@remote`` members, and those of its downloads, are forwarded to the session: derived from the
contract (contract.py), never listed here. It answers the rest itself: its token, the command
slots ("slow down" at once, in the server), resolving a configure's target off the event loop
(the session's side has no image store), and what the session last said of itself.

``SessionHost`` is the session's side: a LiveSession fed the server's commands with their
targets, answering the server's calls from the same derived list.
"""

from __future__ import annotations

import abc
import logging
import queue
import secrets
import threading
from dataclasses import dataclass
from typing import Callable

from ...core.settings import RunConfig, ViewSettings
from ..protocol import Configure, ErrorMessage, StatusMessage
from .contract import Downloads, Outbox, Session, Wire, remote_members
from .local import LiveSession, TargetResolver
from .outbox import ServerOutbox

log = logging.getLogger("polytope_lens.web")

CALL_TIMEOUT_S = 120.0  # the longest a call may take where the session runs (a long movie)
CRASHED = ("this session's training process ended unexpectedly; its network is lost. "
           "Reload the page to start a new session")


@dataclass(frozen=True)
class RemoteCall:
    """A member the server may call where the session runs: the session's own or its downloads'."""

    on_downloads: bool
    wire: Wire


def _remote_calls() -> dict[str, RemoteCall]:
    calls = {name: RemoteCall(False, wire) for name, wire in remote_members(Session).items()}
    for name, wire in remote_members(Downloads).items():
        if name in calls:
            raise TypeError(f"{name!r} is both a Session and a Downloads member: a call could not say which")
        calls[name] = RemoteCall(True, wire)
    return calls


REMOTE_CALLS = _remote_calls()  # what the server may call where the session runs, by name


def _forwarder(name: str, wire: Wire, doc: str | None):
    def forward(self, *args):
        return wire.receive(self._call(name, *args))

    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = doc
    return forward


def forwarding(contract: type):
    """Class decorator: each ``@remote`` member of ``contract`` becomes a call through
    ``self._call(name, *args)`` (None once the session is gone)."""
    def decorate(cls):
        for name, wire in remote_members(contract).items():
            setattr(cls, name, _forwarder(name, wire, getattr(contract, name).__doc__))
        abc.update_abstractmethods(cls)
        return cls

    return decorate


@forwarding(Downloads)
class RemoteDownloads(Downloads):
    """A remote session's files, made beside it and sent whole."""

    def __init__(self, call: Callable):
        self._call = call


@forwarding(Session)
class RemoteSession(Session):
    """The server's handle on a session that runs elsewhere.

    A subclass moves things: ``_deliver`` a command (with a configure's target), ``_call`` a member,
    ``_stop``, and says whether the session is ``alive``; it feeds what the session's outbox does to
    ``_received``. This class keeps the rest.
    """

    def __init__(self, resolve_target: TargetResolver, outbox: ServerOutbox, max_queued: int):
        self.token = secrets.token_urlsafe(18)
        self.outbox = outbox
        self._resolve = resolve_target
        # What the session last said about itself (its status messages), for routes that must not wait.
        self.view = ViewSettings()
        self._config: RunConfig | None = None
        self._closing = threading.Event()
        # Commands wait here for the sender thread: resolving a configure's target may decode a picture,
        # which must happen neither on the event loop (submit's caller) nor where the session runs (no store).
        self._outgoing: queue.SimpleQueue = queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(max(1, max_queued))  # a subclass may share its own
        self._downloads = RemoteDownloads(self._call)

    def _start_threads(self, reader) -> None:
        self._reader = threading.Thread(target=reader, name=f"session-{self.token[:6]}-in", daemon=True)
        self._sender = threading.Thread(target=self._send_commands, name=f"session-{self.token[:6]}-out", daemon=True)
        self._reader.start()
        self._sender.start()

    # -- the Session members answered here -----------------------------------------
    def submit(self, command) -> bool:
        if self._closing.is_set() or not self.alive:
            return False
        if not self._slots.acquire(False):
            return False
        self._outgoing.put(command)
        return True

    def close(self, timeout: float = 2.0) -> bool:
        self._closing.set()
        self._outgoing.put(None)
        return self._stop(timeout)

    @property
    def has_network(self) -> bool:
        return self._config is not None

    def config(self) -> RunConfig | None:
        return self._config

    @property
    def downloads(self) -> Downloads:
        return self._downloads

    # -- for subclasses -------------------------------------------------------------
    @property
    @abc.abstractmethod
    def alive(self) -> bool: ...

    @abc.abstractmethod
    def _deliver(self, command, target) -> None:
        """Hand one command (and a configure's target, else None) to the session, in order."""

    @abc.abstractmethod
    def _call(self, method: str, *args):
        """The session's answer to ``method`` (a name of REMOTE_CALLS), as sent (its wire's
        ``send``); None once the session is gone. What it raised there is raised here."""

    @abc.abstractmethod
    def _stop(self, timeout: float) -> bool: ...

    def _send_commands(self) -> None:
        while True:
            command = self._outgoing.get()
            if command is None or self._closing.is_set():
                return
            target = None
            if isinstance(command, Configure):
                try:
                    target = self._resolve(command.config.image, command.config.target_color)
                except (KeyError, ValueError) as exc:  # as the session itself answers it
                    self._slots.release()
                    self.outbox.put_message(ErrorMessage(message=f"image: {exc}", field="image"))
                    continue
            try:
                self._deliver(command, target)
            except Exception:  # noqa: BLE001 - the session is gone; the reader says so
                return

    def _received(self, kind: str, value=None) -> None:
        """One thing the session's outbox did: a message, a frame, or discarding its frame."""
        if kind == "message":
            if isinstance(value, StatusMessage):
                self.view = value.view
                if value.config is not None:
                    self._config = value.config
            self.outbox.put_message(value)
        elif kind == "frame":
            self.outbox.put_frame(value)
        elif kind == "discard":
            self.outbox.discard_frame()

    def _ended(self, how: str) -> None:
        """The session stopped answering: said in words unless the server closed it."""
        if not self._closing.is_set():
            log.error("session %s ended unexpectedly: %s", self.token[:6], how)
            self.outbox.put_message(ErrorMessage(message=CRASHED, field="session"))


# -- where the session runs ----------------------------------------------------------------
@dataclass(frozen=True)
class HostOptions:
    token: str
    device: str | None
    max_queued: int
    history_bytes: int
    threads: int


class Targets:
    """Targets that came with configure commands, until the session has taken them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, bool], list] = {}

    def add(self, config: RunConfig, target) -> None:
        with self._lock:
            self._waiting.setdefault((config.image, config.target_color), []).append(target)

    def resolve(self, image: str, color: bool):
        with self._lock:
            waiting = self._waiting.get((image, color))
            if not waiting:
                raise KeyError(f"no picture {image!r} came with this configure")
            target = waiting.pop(0)
            if not waiting:
                del self._waiting[(image, color)]
            return target


class SessionHost:
    """A LiveSession where it runs for a remote handle: commands arrive with their targets, calls
    are answered from REMOTE_CALLS."""

    def __init__(self, outbox: Outbox, options: HostOptions, on_command_taken: Callable[[], None]):
        import torch

        torch.set_num_threads(options.threads)
        self._targets = Targets()
        self.session = LiveSession(self._targets.resolve, outbox, device=options.device,
                                   # the server's slots bound the commands; this queue only needs room for them
                                   max_queued=options.max_queued + 8, history_bytes=options.history_bytes,
                                   token=options.token, on_command_taken=on_command_taken)

    def submit(self, command, target) -> bool:
        if target is not None:
            self._targets.add(command.config, target)
        return self.session.submit(command)

    def answer(self, method: str, args: tuple):
        call = REMOTE_CALLS.get(method)
        if call is None:
            raise AttributeError(f"a session has no method {method!r} to call")
        owner = self.session.downloads if call.on_downloads else self.session
        return call.wire.send(getattr(owner, method)(*args))

    def close(self, timeout: float) -> bool:
        return self.session.close(timeout=timeout)
