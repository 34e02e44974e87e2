"""The written contracts of a live session, whichever engine runs it (engine.py).

- ``Session``: what the routes and the registry may ask of a live run. local.py's ``LiveSession``
  is the session itself; remote.py's ``RemoteSession`` (process.py, ray.py) is the server's handle
  on one that runs elsewhere.
- ``Downloads``: a run's files, made by a service beside the session (downloads.py), where it runs.
- ``Outbox``: where a session puts what it says (outbox.py in the server, a pipe, a Ray actor).

Members marked ``@remote`` are answered by the session itself, where it runs. That mark is the one
list of what a handle may call: remote.py derives the handle's methods and what the host answers
from it. A member without it a handle answers itself (its token, what the last status said).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

from ...core.settings import RunConfig, ViewSettings
from ...core.smoothing import Baseline
from ...core.network import FrozenNetwork
from .networks import network_from_wire, network_to_wire

REMOTE_MARK = "__answered_where_the_session_runs__"


def _as_is(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Wire:
    """How an answer crosses from where the session runs to the server: ``send`` there,
    ``receive`` here (pickled as it is unless a member says otherwise)."""

    send: Callable[[Any], Any] = _as_is
    receive: Callable[[Any], Any] = _as_is


NETWORK_WIRE = Wire(send=network_to_wire, receive=network_from_wire)


def remote(method: Callable | None = None, *, wire: Wire = Wire()):
    """Mark a contract member as answered by the session where it runs; ``wire`` says how its
    answer crosses to the server (plain pickling unless said otherwise)."""
    def mark(fn: Callable) -> Callable:
        setattr(fn, REMOTE_MARK, wire)
        return fn

    return mark(method) if method is not None else mark


def remote_members(contract: type) -> dict[str, Wire]:
    """The ``@remote`` members of a contract class, by name, with their wires."""
    return {name: getattr(member, REMOTE_MARK) for name, member in vars(contract).items()
            if hasattr(member, REMOTE_MARK)}


def contract_members(contract: type) -> set[str]:
    """Every member a form of ``contract`` must implement (abstract methods and properties)."""
    return set(contract.__abstractmethods__)


class Outbox(abc.ABC):
    """Where a session puts what it says: JSON messages in order (each the reply to a command, never
    dropped; among them binary ones, protocol.BinaryMessage, latest-wins by kind), and frames
    latest-wins (one waits at most), so a slow client gets fewer frames, never a growing queue."""

    @abc.abstractmethod
    def put_message(self, message: BaseModel) -> None: ...

    @abc.abstractmethod
    def put_frame(self, frame: bytes) -> None: ...

    @abc.abstractmethod
    def discard_frame(self) -> None:
        """Forget an unsent frame: after a status that changes the step (pause, reset, configure)
        it would arrive behind that status and show an older state."""

    @abc.abstractmethod
    def frame_pending(self) -> bool:
        """A frame is still on its way to the page: the session draws no new one (latest-wins)."""


@dataclass(frozen=True)
class Download:
    """A file for the browser: its bytes, MIME type and the name it is saved under."""

    data: bytes
    media_type: str
    name: str


class Downloads(abc.ABC):
    """A live run's files (routers/downloads.py, routers/baseline.py). Each is None while the run
    has nothing to make it from (no network yet, no frame drawn, a picture's run asked for a clip)."""

    @remote
    @abc.abstractmethod
    def frame_png(self) -> Download | None:
        """The three panels on screen, with a caption, as PNG."""

    @remote
    @abc.abstractmethod
    def checkpoint(self) -> Download | None:
        """The run's checkpoint (``polytope-lens train --resume``, ``regions``)."""

    @remote
    @abc.abstractmethod
    def movie(self) -> Download | None:
        """The run so far as a movie (MP4, or GIF without an MP4 encoder)."""

    @remote
    @abc.abstractmethod
    def clip_movie(self) -> Download | None:
        """A clip's run: the learnt clip beside the original, with the partition of each moment."""

    @remote
    @abc.abstractmethod
    def smoothing_png(self, sigma: float, size: int) -> bytes | None:
        """The smoothing baseline's picture (clipped to [0, 1]), ``size`` pixels square."""


class Session(abc.ABC):
    """What the routes and the registry may ask of a live run, whichever engine runs it.

    Every form also has ``token`` (the unguessable name the page downloads with) and ``view``
    (the view settings of its last status).
    """

    token: str
    view: ViewSettings

    @abc.abstractmethod
    def submit(self, command: Any) -> bool:
        """Queue a command (protocol.py); False, and nothing queued, when too many are waiting or
        the session is gone ("slow down")."""

    @abc.abstractmethod
    def close(self, timeout: float = 2.0) -> bool:
        """Stop the session and let its network go; True when its worker has ended."""

    @property
    @abc.abstractmethod
    def alive(self) -> bool:
        """Its worker still runs (a closed session holds its memory until then)."""

    @property
    @abc.abstractmethod
    def has_network(self) -> bool:
        """A ``configure`` has made a network (the download and geometry routes need one)."""

    @abc.abstractmethod
    def config(self) -> RunConfig | None:
        """The run's settings; None before configure."""

    @property
    @abc.abstractmethod
    def downloads(self) -> Downloads:
        """The run's files, made beside the session."""

    @remote
    @abc.abstractmethod
    def step_count(self) -> int | None:
        """The network's step now; None before configure."""

    @remote
    @abc.abstractmethod
    def class_colors(self) -> list[str] | None:
        """A classifier's class colours (CSS); None for a regression or before configure."""

    @remote
    @abc.abstractmethod
    def smoothing_baseline(self, sigma: float) -> tuple[Baseline, int, float | None] | None:
        """The Gaussian-kernel regression of the run's training points, the step, and the
        network's validation loss at its last measured step; None before configure. Raises
        NotARegression for a classifier's run."""

    @remote(wire=NETWORK_WIRE)
    @abc.abstractmethod
    def weights_snapshot(self, step: int | None = None) -> tuple[FrozenNetwork, int] | None:
        """A frozen copy of the network and its step, for exact geometry computed while training
        goes on: now, or at a kept ``step`` of the history. None before configure or for a step
        that is not kept."""
