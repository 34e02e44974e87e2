"""A live session in a process of its own.

Threads of one process share one GIL, and a live session is mostly Python driving torch:
four sessions as threads of the server trained together hardly faster than one. So each
session's ``LiveSession`` runs in a child process (forked from the fork server, which has
the numerics imported: it starts in milliseconds), and the server keeps a ``SessionProcess``
in its place: the same methods, answered over a pipe. The server process only relays.
``RemoteSession`` is what such handles share; session_ray.py runs sessions as Ray actors.

Over the pipe, server -> child: ``("command", command, target)`` (a ``configure`` carries
the target the server's image store resolved; others None), ``("call", id, method, args)``,
``("close",)``. Child -> server: ``("message", model)``, ``("frame", bytes)``,
``("discard",)`` (the outbox's own three operations, in order) and ``("reply", id, ok, value)``.

Two things are shared instead of sent, so that both stay as cheap as in one process:
- ``frame_in_flight`` (an Event): set when the child sends a frame, cleared when the
  websocket takes it. The child draws no new frame while it is set: latest-wins, end to end.
- ``slots`` (a semaphore of ``max_queued``): a command takes one when submitted and gives it
  back when the session takes it from its queue, so "slow down" happens at once, in the server.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import logging
import queue
import secrets
import signal
import threading
from dataclasses import dataclass

from ..core.history import DEFAULT_HISTORY_BYTES
from ..core.network import FrozenNetwork
from ..core.settings import RunConfig, ViewSettings
from ..processes import context, plain_main
from .protocol import Configure, ErrorMessage, StatusMessage
from .session import LiveSession, Outbox, TargetResolver, snapshot_from_flat

log = logging.getLogger("polytope_lens.web")

CALL_TIMEOUT_S = 120.0  # the longest a download may take in the session's process (a long movie)
CRASHED = ("this session's training process ended unexpectedly; its network is lost. "
           "Reload the page to start a new session")


@dataclass(frozen=True)
class ChildOptions:
    token: str
    device: str | None
    max_queued: int
    history_bytes: int
    threads: int


class RemoteSession:
    """The server's handle on a session that runs elsewhere (a child process here, a Ray actor in
    session_ray.py): the LiveSession methods the routes use, each answered by the session itself.

    A subclass moves things: ``_deliver`` a command (with a configure's target), ``_call`` a method,
    ``_stop``; and feeds what the session says to ``_received``. This class keeps the rest: the
    command slots, resolving targets off the event loop, what the session last said of itself.
    """

    def __init__(self, resolve_target: TargetResolver, outbox: Outbox, max_queued: int):
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

    def _start_threads(self, reader) -> None:
        self._reader = threading.Thread(target=reader, name=f"session-{self.token[:6]}-in", daemon=True)
        self._sender = threading.Thread(target=self._send_commands, name=f"session-{self.token[:6]}-out", daemon=True)
        self._reader.start()
        self._sender.start()

    # -- the LiveSession interface --------------------------------------------
    def submit(self, command) -> bool:
        """Queue a command; False (nothing queued) when too many are waiting or the session is gone."""
        if self._closing.is_set() or not self.alive:
            return False
        if not self._slots.acquire(False):
            return False
        self._outgoing.put(command)
        return True

    def close(self, timeout: float = 2.0) -> bool:
        """Stop the session (a closed session's network is gone) and wait for it; True when it has ended."""
        self._closing.set()
        self._outgoing.put(None)
        return self._stop(timeout)

    @property
    def alive(self) -> bool:
        raise NotImplementedError

    @property
    def has_network(self) -> bool:
        return self._config is not None

    def config(self) -> RunConfig | None:
        return self._config

    def step_count(self) -> int | None:
        return self._call("step_count")

    def class_colors(self) -> list[str] | None:
        return self._call("class_colors")

    def frame_png(self) -> bytes | None:
        return self._call("frame_png")

    def checkpoint_bytes(self) -> bytes | None:
        return self._call("checkpoint_bytes")

    def movie_file(self):
        return self._call("movie_file")

    def movie_steps(self) -> tuple[int | None, int]:
        return self._call("movie_steps") or (None, -1)

    def clip_movie_file(self):
        return self._call("clip_movie_file")

    def smoothing_baseline(self, sigma: float):
        return self._call("smoothing_baseline", sigma)

    def smoothing_png(self, sigma: float, size: int) -> bytes | None:
        return self._call("smoothing_png", sigma, size)

    def weights_snapshot(self, step: int | None = None) -> tuple[FrozenNetwork, int] | None:
        return snapshot_from_flat(self._call("weights_flat", step))

    # -- for subclasses -------------------------------------------------------
    def _deliver(self, command, target) -> None:
        """Hand one command (and a configure's target, else None) to the session, in order."""
        raise NotImplementedError

    def _call(self, method: str, *args):
        """The answer of the session's ``method`` (one of CALLABLE); None once the session is gone."""
        raise NotImplementedError

    def _stop(self, timeout: float) -> bool:
        raise NotImplementedError

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


class SessionProcess(RemoteSession):
    """A session in a child process of this machine (see the module's notes)."""

    def __init__(self, resolve_target: TargetResolver, outbox: Outbox, device: str | None = None,
                 max_queued: int = 16, history_bytes: int = DEFAULT_HISTORY_BYTES, threads: int = 1):
        super().__init__(resolve_target, outbox, max_queued)
        ctx = context()
        self._frame_in_flight = ctx.Event()
        self._slots = ctx.BoundedSemaphore(max(1, max_queued))  # the child gives slots back itself
        outbox.on_frame_taken = self._frame_in_flight.clear
        self._conn, child_conn = ctx.Pipe()
        options = ChildOptions(self.token, device, max(1, max_queued), history_bytes, max(1, int(threads)))
        self._process = ctx.Process(target=child_main, args=(child_conn, self._slots, self._frame_in_flight, options),
                                    name=f"session-{self.token[:6]}", daemon=True)
        with plain_main():
            self._process.start()
        child_conn.close()
        self._send_lock = threading.Lock()
        self._calls: dict[int, concurrent.futures.Future] = {}
        self._call_ids = itertools.count()
        self._calls_lock = threading.Lock()
        self._start_threads(self._read)

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def _stop(self, timeout: float) -> bool:
        with contextlib.suppress(OSError, ValueError):
            self._send(("close",))
        self._process.join(timeout)
        if self._process.is_alive():
            log.warning("session %s did not stop within %.1f s: killed", self.token[:6], timeout)
            self._process.kill()
            self._process.join(1.0)
        self._fail_calls()
        with contextlib.suppress(OSError):
            self._conn.close()
        return not self._process.is_alive()

    def _send(self, message) -> None:
        with self._send_lock:
            self._conn.send(message)

    def _deliver(self, command, target) -> None:
        self._send(("command", command, target))

    def _call(self, method: str, *args):
        if self._closing.is_set():
            return None
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._calls_lock:
            call_id = next(self._call_ids)
            self._calls[call_id] = future
        try:
            try:
                self._send(("call", call_id, method, args))
            except (OSError, ValueError):
                return None  # the child is gone: as for a closed session
            try:
                return future.result(CALL_TIMEOUT_S)  # what the method raised in the child is raised here
            except concurrent.futures.CancelledError:
                return None  # the child ended before it answered
        finally:
            with self._calls_lock:
                self._calls.pop(call_id, None)

    def _fail_calls(self) -> None:
        with self._calls_lock:
            calls, self._calls = list(self._calls.values()), {}
        for future in calls:
            future.cancel()

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "reply":
                _, call_id, ok, value = message
                with self._calls_lock:
                    future = self._calls.get(call_id)
                if future is not None and not future.done():
                    future.set_result(value) if ok else future.set_exception(value)
            else:
                self._received(*message)
        self._fail_calls()
        self._ended(f"its process exited with code {self._process.exitcode}")


# -- the child process ------------------------------------------------------------------------
class _PipeOutbox:
    """The child's outbox: each operation goes straight to the server's Outbox, in order."""

    high_water = 1 << 30  # the server's Outbox bounds the messages; this one keeps none

    def __init__(self, conn, lock: threading.Lock, frame_in_flight):
        self._conn, self._lock, self._in_flight = conn, lock, frame_in_flight

    def send(self, message) -> None:
        """Any message to the server (replies too), whole and in order."""
        with self._lock:
            with contextlib.suppress(OSError, ValueError):  # the server is gone: the child ends soon
                self._conn.send(message)

    def backlog(self) -> int:
        return 0

    def put_message(self, message) -> None:
        self.send(("message", message))

    def put_frame(self, frame: bytes) -> None:
        self._in_flight.set()
        self.send(("frame", frame))

    def discard_frame(self) -> None:
        self._in_flight.clear()
        self.send(("discard",))

    def frame_pending(self) -> bool:
        return self._in_flight.is_set()


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


# What the server may call in the child: the LiveSession methods of the interface above.
CALLABLE = frozenset({"step_count", "class_colors", "frame_png", "checkpoint_bytes", "movie_file", "movie_steps",
                      "clip_movie_file", "smoothing_baseline", "smoothing_png", "weights_flat"})


def child_main(conn, slots, frame_in_flight, options: ChildOptions) -> None:
    """The session's process: a LiveSession fed from the pipe until the server says close or goes."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's; it closes us
    torch.set_num_threads(options.threads)
    targets = Targets()
    outbox = _PipeOutbox(conn, threading.Lock(), frame_in_flight)
    session = LiveSession(targets.resolve, outbox, device=options.device,
                          # the server's semaphore bounds the commands; this queue only needs room for them
                          max_queued=options.max_queued + 8, history_bytes=options.history_bytes,
                          token=options.token, on_command_taken=slots.release)
    calls = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="calls")

    def answer(call_id: int, method: str, args: tuple) -> None:
        try:
            if method not in CALLABLE:
                raise AttributeError(f"a session has no method {method!r} to call")
            reply = ("reply", call_id, True, getattr(session, method)(*args))
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            reply = ("reply", call_id, False, exc)
        outbox.send(reply)

    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break  # the server is gone
            kind = message[0]
            if kind == "command":
                _, command, target = message
                if target is not None:
                    targets.add(command.config, target)
                if not session.submit(command):  # cannot happen while the server counts slots
                    slots.release()
            elif kind == "call":
                calls.submit(answer, *message[1:])
            elif kind == "close":
                break
    finally:
        session.close(timeout=5.0)
        calls.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError):
            conn.close()
