"""A live session in a process of its own (Engine.PROCESS, the default).

Threads of one process share one GIL, and a live session is mostly Python driving torch:
four sessions as threads of the server trained together hardly faster than one. So each
session's ``LiveSession`` runs in a child process (forked from the fork server, which has
the numerics imported: it starts in milliseconds), and the server keeps a ``SessionProcess``
in its place (a RemoteSession, remote.py): the Session contract, answered over a pipe. The
server process only relays.

Over the pipe, server -> child: ``("command", command, target)`` (a ``configure`` carries
the target the server's image store resolved; others None), ``("call", id, method, args)``,
``("close",)``. Child -> server: ``("message", model)``, ``("frame", bytes)``,
``("discard",)`` (the child's PipeOutbox: the Outbox contract's operations, in order) and
``("reply", id, ok, value)``.

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
import signal
import threading

from ...core.history import DEFAULT_HISTORY_BYTES
from ...processes import context, plain_main
from .contract import Outbox
from .local import TargetResolver
from .outbox import ServerOutbox
from .remote import CALL_TIMEOUT_S, HostOptions, RemoteSession, SessionHost

log = logging.getLogger("polytope_lens.web")


class SessionProcess(RemoteSession):
    """A session in a child process of this machine (see the module's notes)."""

    def __init__(self, resolve_target: TargetResolver, outbox: ServerOutbox, device: str | None = None,
                 max_queued: int = 16, history_bytes: int = DEFAULT_HISTORY_BYTES, threads: int = 1):
        super().__init__(resolve_target, outbox, max_queued)
        ctx = context()
        self._frame_in_flight = ctx.Event()
        self._slots = ctx.BoundedSemaphore(max(1, max_queued))  # the child gives slots back itself
        outbox.when_frame_taken(self._frame_in_flight.clear)
        self._conn, child_conn = ctx.Pipe()
        options = HostOptions(self.token, device, max(1, max_queued), history_bytes, max(1, int(threads)))
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
class ChildPipe:
    """The child's end of the pipe: whole messages, in order, from any of its threads."""

    def __init__(self, conn):
        self._conn, self._lock = conn, threading.Lock()

    def send(self, message) -> None:
        with self._lock:
            with contextlib.suppress(OSError, ValueError):  # the server is gone: the child ends soon
                self._conn.send(message)


class PipeOutbox(Outbox):
    """The child's outbox: each operation goes straight to the server's outbox, in order."""

    def __init__(self, pipe: ChildPipe, frame_in_flight):
        self._pipe, self._in_flight = pipe, frame_in_flight

    def put_message(self, message) -> None:
        self._pipe.send(("message", message))

    def put_frame(self, frame: bytes) -> None:
        self._in_flight.set()
        self._pipe.send(("frame", frame))

    def discard_frame(self) -> None:
        self._in_flight.clear()
        self._pipe.send(("discard",))

    def frame_pending(self) -> bool:
        return self._in_flight.is_set()


def child_main(conn, slots, frame_in_flight, options: HostOptions) -> None:
    """The session's process: a LiveSession fed from the pipe until the server says close or goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's; it closes us
    pipe = ChildPipe(conn)
    host = SessionHost(PipeOutbox(pipe, frame_in_flight), options, on_command_taken=slots.release)
    calls = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="calls")

    def answer(call_id: int, method: str, args: tuple) -> None:
        try:
            reply = ("reply", call_id, True, host.answer(method, args))
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            reply = ("reply", call_id, False, exc)
        pipe.send(reply)

    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break  # the server is gone
            kind = message[0]
            if kind == "command":
                _, command, target = message
                if not host.submit(command, target):  # cannot happen while the server counts slots
                    slots.release()
            elif kind == "call":
                calls.submit(answer, *message[1:])
            elif kind == "close":
                break
    finally:
        host.close(timeout=5.0)
        calls.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError):
            conn.close()
