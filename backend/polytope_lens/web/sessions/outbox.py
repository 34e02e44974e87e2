"""The server's outbox of one websocket: what its session said, waiting for the send loop
(routers/live.py). A session in the server's process writes to it directly; a handle on a session
elsewhere (remote.py) writes what the session's own outbox passed on."""

from __future__ import annotations

import threading
from collections import deque
from typing import Callable

from pydantic import BaseModel

from ..protocol import BinaryMessage
from .contract import Outbox


class ServerOutbox(Outbox):
    """Thread-safe: ordered JSON messages (protocol models) plus one latest frame.

    JSON messages are never dropped (each is the reply to a command); a binary message among them
    (protocol.BinaryMessage, the origami surface) replaces an unsent one of its kind. The queue is bounded
    by its reader instead: while ``backlog()`` is at ``high_water`` or more, the server stops
    reading commands from the client (routers/live.py), so a flood waits in the socket, not here.
    """

    def __init__(self, notify: Callable[[], None] = lambda: None, max_messages: int = 256):
        self._lock = threading.Lock()
        self._messages: deque[BaseModel] = deque()
        self.high_water = max(1, max_messages)
        self._frame: bytes | None = None
        self._notify = notify
        self._on_frame_taken: Callable[[], None] = lambda: None

    def rebind(self, notify: Callable[[], None]) -> None:
        """Wake ``notify`` from now on: the socket that sends this outbox changed (a session set
        aside while its page reconnects, then resumed: web/registry.py)."""
        self._notify = notify

    def when_frame_taken(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever the reader takes a frame (a session in another process may
        then draw again: process.py)."""
        self._on_frame_taken = callback

    def backlog(self) -> int:
        """JSON messages waiting to be sent."""
        with self._lock:
            return len(self._messages)

    def put_message(self, message: BaseModel) -> None:
        with self._lock:
            if isinstance(message, BinaryMessage):  # latest-wins: an unsent one of its kind is moot now
                stale = [m for m in self._messages if isinstance(m, BinaryMessage) and m.kind == message.kind]
                for old in stale:
                    self._messages.remove(old)
            self._messages.append(message)
        self._notify()

    def put_frame(self, frame: bytes) -> None:
        with self._lock:
            self._frame = frame
        self._notify()

    def discard_frame(self) -> None:
        with self._lock:
            self._frame = None

    def frame_pending(self) -> bool:
        with self._lock:
            return self._frame is not None

    def take(self, with_frame: bool = True) -> tuple[list[BaseModel], bytes | None]:
        """Every waiting message, and the frame (left waiting unless ``with_frame``)."""
        with self._lock:
            messages, frame = list(self._messages), None
            self._messages.clear()
            if with_frame:
                frame, self._frame = self._frame, None
        if frame is not None:
            self._on_frame_taken()
        return messages, frame
