"""A server-wide memory budget for live sessions (issue 11, problem 7).

Each ``configure`` is estimated from its config before it is queued
(:func:`estimate_session_bytes`, measured against real sessions: it is an upper
bound of their peak RSS growth); the server refuses one that would take the
live sessions together past ``Settings.live_memory_bytes``, with an error that
names the field to lower. The estimate of a session's last accepted configure
stays reserved until the session ends or is configured again.

The estimate, in bytes (C = colour channels, H = hidden neurons, P = parameters,
R = resolution, N = the largest of batch_size, train_points, val_points):

    48 MiB + 4 MiB·C                          the session's process, trainer, target
  + 100 · (train_points + val_points)         sampled points and the points message
  + 9 · N · H                                 activations of a training step / of the losses
  + R² · (8·⌈H/64⌉ + 24 + 28·C)               grid partition and frame
  + 16 · P                                    weights, gradients, optimiser state

Measured peaks (RSS growth of one session: configure, 3 steps, a frame; 2-core
dev machine): default 14x6 at 512² 20 MiB (estimate 57); 14x6 at 1024² in
colour 149 MiB (estimate 172); 256x4 with 100,000-point batches at 400² 714 MiB
(estimate 957); 64x2 with 900,000-point batches 976 MiB (estimate 1,120); 1024x2
with 60,000-point batches at 180² 1,001 MiB (estimate 1,122). Since each session trains in a
process of its own (sessions/process.py) the base is 16 MiB more: a further default session adds
about 72 MiB to the proportional set size of the server's processes (benchmarks row 4; estimate 73).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..core.model import count_parameters
from ..core.settings import RunConfig
from .protocol import ProtocolError

MIB = 1024 * 1024


def estimate_parts(config: RunConfig, resolution: int) -> dict[str, int]:
    """The estimate by what it depends on: {"base", "points", "activations", "grid", "parameters"}."""
    widths = config.widths
    hidden = sum(widths)
    channels = config.out_dim
    points = max(config.effective_batch_size, config.train_points, config.val_points)
    words = -(-hidden // 64)
    return {
        "base": 48 * MIB + 4 * MIB * channels,
        "points": 100 * (config.train_points + config.val_points),
        "activations": 9 * points * hidden,
        "grid": resolution**2 * (8 * words + 24 + 28 * channels),
        "parameters": 16 * count_parameters(widths, out_dim=channels),
    }


def estimate_session_bytes(config: RunConfig, resolution: int) -> int:
    """Upper estimate of the memory one live session with ``config``, drawn at ``resolution``, takes at its peak."""
    return sum(estimate_parts(config, resolution).values())


def field_to_lower(config: RunConfig, resolution: int) -> str:
    """The setting whose reduction saves the most of the estimate."""
    parts = estimate_parts(config, resolution)
    largest = max(("points", "activations", "grid", "parameters"), key=parts.get)
    if largest == "grid":
        return "resolution"
    if largest == "parameters":
        return "layers"
    if largest == "points":
        return "train_points"
    points = max(config.effective_batch_size, config.train_points, config.val_points)
    if config.effective_batch_size == points:
        return "batch_size"
    return "val_points" if config.val_points == points and config.train_points < points else "train_points"


@dataclass
class Reservation:
    budget: "MemoryBudget | None"
    token: str
    previous: int | None

    def cancel(self) -> None:
        """Undo the reservation (the command was not queued after all)."""
        if self.budget is not None:
            self.budget._restore(self.token, self.previous)


class MemoryBudget:
    """Memory reserved by live sessions, by session token; thread-safe."""

    def __init__(self, limit_bytes: int | None):
        self.limit = limit_bytes
        self._reserved: dict[str, int] = {}
        self._lock = threading.Lock()

    def in_use(self) -> int:
        with self._lock:
            return sum(self._reserved.values())

    def reserve(self, token: str, config: RunConfig | None, resolution: int) -> Reservation:
        """Reserve the memory of session ``token`` running ``config`` drawn at ``resolution`` (a
        ``configure``, or a ``view`` that changes the resolution); ProtocolError (naming the field
        to lower) when the live sessions together would pass the limit. No config: nothing reserved."""
        if config is None:
            return Reservation(None, token, None)
        need = estimate_session_bytes(config, resolution)
        with self._lock:
            others = sum(v for k, v in self._reserved.items() if k != token)
            if self.limit is not None and others + need > self.limit:
                field = field_to_lower(config, resolution)
                free = max(0, self.limit - others)
                raise ProtocolError(
                    f"{field}: this run would need about {need / MIB:,.0f} MiB of memory, but only "
                    f"{free / MIB:,.0f} of the server's {self.limit / MIB:,.0f} MiB for live sessions are "
                    f"free ({others / MIB:,.0f} MiB are taken by other sessions); lower {field} "
                    "or try again when other sessions have ended",
                    field=field,
                )
            previous = self._reserved.get(token)
            self._reserved[token] = need
        return Reservation(self, token, previous)

    def _restore(self, token: str, previous: int | None) -> None:
        with self._lock:
            if previous is None:
                self._reserved.pop(token, None)
            else:
                self._reserved[token] = previous

    def release(self, token: str) -> None:
        """The session ended: its memory is free again."""
        with self._lock:
            self._reserved.pop(token, None)
