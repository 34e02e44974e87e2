"""Live sessions as Ray actors (Engine.RAY): `polytope-lens serve --engine ray [--address HOST:PORT]`.

Each session's LiveSession runs in a ``SessionActor`` wherever the cluster places it; the web
server keeps a ``RaySession`` (a RemoteSession, remote.py: the Session contract) and only relays.
Once the page draws from weights an update is a few KiB, so one web server can relay for many
machines (docs/scaling.md).

The actor cannot push, so the server pulls: a reader thread long-polls ``take`` (it returns as
soon as the session has said something, or after POLL_S). It asks for a frame only when the
websocket has sent the last one, so latest-wins holds end to end, as in one process; ``take``
also says how many commands the session has taken from its queue, which gives the server's
"slow down" slots back. Commands go one at a time, each call awaited, so they arrive in order.

Ray is an optional extra (``pip install 'polytope-lens[ray]'``); nothing here imports it until a
server is started with the Ray engine. The cluster's Python must have polytope_lens installed.
"""

from __future__ import annotations

import functools
import secrets
import threading

from ...core.history import DEFAULT_HISTORY_BYTES
from ...sweeps.engines import RAY_MISSING  # one sentence for every Ray path
from .contract import Outbox
from .local import TargetResolver
from .outbox import ServerOutbox
from .remote import CALL_TIMEOUT_S, HostOptions, RemoteSession, SessionHost

POLL_S = 0.25  # longest wait of one take; a session that says something answers at once
NAMESPACE = "polytope-lens"  # the server's actors are named "session-<random id>" in it (`ray list actors`)
ACTOR_CONCURRENCY = 4  # take (long-polling), submit, and calls from the routes at the same time


def _ray():
    try:
        import ray
    except ModuleNotFoundError:
        raise RuntimeError(RAY_MISSING) from None
    return ray


class RayCluster:
    """The server's connection to Ray: the cluster at ``address``, or a local Ray started here."""

    def __init__(self, address: str | None = None):
        ray = _ray()
        self.started_here = not ray.is_initialized()
        if self.started_here:
            ray.init(address=address, namespace=NAMESPACE, include_dashboard=False, log_to_driver=False)

    def shutdown(self) -> None:
        if self.started_here:
            _ray().shutdown()


@functools.lru_cache(maxsize=1)
def _actor_class():
    return _ray().remote(max_concurrency=ACTOR_CONCURRENCY)(SessionActor)


class ActorOutbox(Outbox):
    """The actor's outbox: messages and the latest frame wait in a ServerOutbox of its own for the
    server's next ``take``, which also says whether the session discarded a frame meanwhile."""

    def __init__(self):
        self.ready = threading.Event()  # something waits for the server's take
        self._held = ServerOutbox(notify=self.ready.set, max_messages=1 << 30)  # the server's outbox bounds messages
        self._lock = threading.Lock()
        self._discarded = False

    def put_message(self, message) -> None:
        self._held.put_message(message)

    def put_frame(self, frame: bytes) -> None:
        self._held.put_frame(frame)

    def discard_frame(self) -> None:
        with self._lock:
            self._held.discard_frame()
            self._discarded = True  # the server drops the frame it still holds too
        self.ready.set()

    def frame_pending(self) -> bool:
        return self._held.frame_pending()

    def take_for_server(self, with_frame: bool):
        """(frame discarded since the last take?, messages, the frame if ``with_frame``)."""
        with self._lock:
            self.ready.clear()  # before taking: whatever comes after the take sets it again
            discarded, self._discarded = self._discarded, False
            messages, frame = self._held.take(with_frame)
            if self._held.frame_pending():
                self.ready.set()  # a frame still waits for the server
        return discarded, messages, frame


class SessionActor:
    """One live session in a Ray actor (an actor class by _actor_class; RaySession asks for its CPUs)."""

    def __init__(self, options: HostOptions):
        self._outbox = ActorOutbox()
        self._taken = 0
        self._taken_lock = threading.Lock()
        self._host = SessionHost(self._outbox, options, on_command_taken=self._count_taken)

    def _count_taken(self) -> None:
        with self._taken_lock:
            self._taken += 1

    def submit(self, command, target) -> bool:
        return self._host.submit(command, target)

    def take(self, wait_s: float, with_frame: bool):
        """(frame discarded?, messages, frame or None, commands taken since the last take), after at
        most ``wait_s``."""
        self._outbox.ready.wait(wait_s)
        discarded, messages, frame = self._outbox.take_for_server(with_frame)
        with self._taken_lock:
            taken, self._taken = self._taken, 0
        return discarded, messages, frame, taken

    def call(self, method: str, args: tuple):
        return self._host.answer(method, args)

    def close(self) -> bool:
        return self._host.close(timeout=5.0)


class RaySession(RemoteSession):
    """The server's handle on a session in a Ray actor (see the module's notes)."""

    def __init__(self, resolve_target: TargetResolver, outbox: ServerOutbox, device: str | None = None,
                 max_queued: int = 16, history_bytes: int = DEFAULT_HISTORY_BYTES, threads: int = 1,
                 cpus: float = 1.0):
        super().__init__(resolve_target, outbox, max_queued)
        self._ray = _ray()
        options = HostOptions(self.token, device, max(1, max_queued), history_bytes, max(1, int(threads)))
        self._actor = _actor_class().options(num_cpus=cpus, name=f"session-{secrets.token_hex(6)}").remote(options)
        self._gone = threading.Event()
        self._start_threads(self._read)

    @property
    def alive(self) -> bool:
        return not self._gone.is_set()

    def _deliver(self, command, target) -> None:
        if not self._ray.get(self._actor.submit.remote(command, target)):  # cannot happen while slots are counted
            self._slots.release()

    def _call(self, method: str, *args):
        if self._closing.is_set() or self._gone.is_set():
            return None
        try:
            return self._ray.get(self._actor.call.remote(method, args), timeout=CALL_TIMEOUT_S)
        except (self._ray.exceptions.RayActorError, self._ray.exceptions.GetTimeoutError):
            return None  # the actor is gone (or stuck): as for a closed session

    def _stop(self, timeout: float) -> bool:
        try:
            self._ray.get(self._actor.close.remote(), timeout=timeout)
        except Exception:  # noqa: BLE001 - gone already, or stuck: killed below either way
            pass
        self._ray.kill(self._actor)
        self._reader.join(timeout)
        self._gone.set()
        return True

    def _read(self) -> None:
        how = "its actor stopped answering"
        while not self._closing.is_set():
            try:
                discarded, messages, frame, taken = self._ray.get(
                    self._actor.take.remote(POLL_S, not self.outbox.frame_pending()), timeout=POLL_S + CALL_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - RayActorError, a lost node, a timeout
                how = f"{type(exc).__name__}: {exc}".splitlines()[0]
                break
            for _ in range(taken):
                self._slots.release()
            if discarded:
                self._received("discard")
            for message in messages:
                self._received("message", message)
            if frame is not None:
                self._received("frame", frame)
        self._gone.set()
        self._ended(how)
