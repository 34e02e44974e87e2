"""One live run: a trainer and a frame producer on a worker thread.

Commands come in through ``submit`` (any thread); messages go out through an
``Outbox``: JSON messages in order, and frames latest-wins, so a slow client
gets fewer frames and never a growing queue. Training never runs on the
caller's thread (the server's event loop).

Scheduling: after a frame that took t seconds to draw, the session trains for
at least max(TRAIN_PER_DRAW * t, 1/max_fps - t) before drawing again, so
drawing never takes more time than training (at most ~36% of the time); a
frame is not drawn while the previous one is still waiting for the client
(latest-wins), and a hidden view draws nothing.
"""

from __future__ import annotations

import io
import math
import queue
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from PIL import Image

from ..core.settings import RunConfig
from ..geometry.dynamics import LiveGeometry
from ..geometry.weights import WeightsSnapshot
from ..core.images import Target
from ..output.movie import movie_bytes
from ..geometry.grid import GridPartition, compute_partition
from .protocol import Configure, Pause, ProtocolError, Reset, Set, Start, Step, View, validate_config
from ..output.render import GAP, FrameInfo, png_bytes, render_frame, target_rgb
from ..core.training import Trainer, TrainingDiverged
from .wire import partition_frame

TargetResolver = Callable[[str, bool], Target]

TRAIN_SLICE_S = 0.02  # longest stretch of training between looks at the command queue
# After a frame that took t seconds to draw, train at least TRAIN_PER_DRAW * t before the
# next one: drawing takes at most 1 / (1 + TRAIN_PER_DRAW) of the time (about 36%), so a
# live view keeps well over half of the training speed; max_fps caps the rate on top.
TRAIN_PER_DRAW = 1.75
MOVIE_MAX_FRAMES = 240
MOVIE_PANEL = 256


class Outbox:
    """Thread-safe mailbox: ordered JSON messages plus one latest frame.

    JSON messages are never dropped (each is the reply to a command). The queue is bounded
    by its reader instead: while ``backlog()`` is at ``high_water`` or more, the server stops
    reading commands from the client (app.py), so a flood waits in the socket, not here.
    """

    def __init__(self, notify: Callable[[], None] = lambda: None, max_messages: int = 256):
        self._lock = threading.Lock()
        self._messages: deque[dict] = deque()
        self.high_water = max(1, max_messages)
        self._frame: bytes | None = None
        self._notify = notify

    def backlog(self) -> int:
        """JSON messages waiting to be sent."""
        with self._lock:
            return len(self._messages)

    def put_message(self, message: dict) -> None:
        with self._lock:
            self._messages.append(message)
        self._notify()

    def put_frame(self, frame: bytes) -> None:
        with self._lock:
            self._frame = frame
        self._notify()

    def discard_frame(self) -> None:
        """Forget an unsent frame: after a status that changes the step (pause, reset, configure)
        it would arrive behind that status and show an older state."""
        with self._lock:
            self._frame = None

    def frame_pending(self) -> bool:
        with self._lock:
            return self._frame is not None

    def take(self) -> tuple[list[dict], bytes | None]:
        with self._lock:
            messages, frame = list(self._messages), self._frame
            self._messages.clear()
            self._frame = None
        return messages, frame


@dataclass
class ViewOptions:
    visible: bool = True
    fill_regions: bool = False
    boundaries: bool = True
    max_fps: float = 30.0


def _movie_partition(partition: GridPartition) -> GridPartition:
    """The partition subsampled to about MOVIE_PANEL pixels a side, for the movie's small frames.

    Every k-th pixel of the prediction and the region ids; a boundary pixel wherever
    the k x k block it stands for has one, so no boundary is lost.
    """
    k = partition.resolution // MOVIE_PANEL
    if k <= 1:
        return partition
    n = partition.resolution // k
    m = n * k
    boundary = partition.boundary[:m, :m].reshape(n, k, n, k).any(axis=(1, 3))
    return GridPartition(
        resolution=n,
        hidden=partition.hidden,
        region_ids=partition.region_ids[:m:k, :m:k],
        region_words=partition.region_words,
        boundary=boundary,
        prediction=partition.prediction[:m:k, :m:k],
    )


@dataclass
class MovieRecorder:
    """Keeps at most MOVIE_MAX_FRAMES small frames; when full, every other one is dropped
    and the recording interval doubles, so a long run still fits. A frame is recorded
    at most every ``min_interval_s`` of wall time (a live view draws many more)."""

    interval_steps: int = 10
    frames: list[bytes] = field(default_factory=list)
    last_step: int = -(10**9)
    min_interval_s: float = 0.2
    last_time: float = -math.inf

    def due(self, step: int) -> bool:
        return step - self.last_step >= self.interval_steps and time.monotonic() - self.last_time >= self.min_interval_s

    def add(self, step: int, image: Image.Image) -> None:
        small = image
        if image.height > MOVIE_PANEL + 2 * GAP:  # frames drawn from _movie_partition are small already
            small = image.resize((image.width * MOVIE_PANEL // max(1, image.height), MOVIE_PANEL))
        # JPEG: ~6x faster to encode than PNG here, and the movie itself is lossy (H.264/GIF).
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=92)
        self.frames.append(buf.getvalue())
        self.last_step = step
        self.last_time = time.monotonic()
        if len(self.frames) > MOVIE_MAX_FRAMES:
            self.frames = self.frames[::2]
            self.interval_steps *= 2

    def clear(self) -> None:
        self.frames.clear()
        self.last_step = -(10**9)
        self.last_time = -math.inf
        self.interval_steps = 10


class LiveSession:
    def __init__(
        self, resolve_target: TargetResolver, outbox: Outbox, device: str | None = None, max_queued: int = 16
    ):
        self.token = secrets.token_urlsafe(18)
        self._resolve = resolve_target
        self.outbox = outbox
        self._device = device
        # Bounded: a client flooding commands gets "slow down" errors (server.py), not a growing queue.
        self._commands: queue.Queue = queue.Queue(maxsize=max(1, max_queued))
        self._lock = threading.Lock()  # guards trainer/partition against download requests
        self.trainer: Trainer | None = None
        self.image_id: str | None = None
        self.state = "idle"
        self.view = ViewOptions()
        self.movie = MovieRecorder()
        self.geometry = LiveGeometry()  # exact region count and edge density for frame headers
        self._partition: GridPartition | None = None
        self._target_panel = None
        self._pending_steps = 0
        self._next_frame_at = 0.0
        self._train_time = 0.0
        self._last_losses = None
        self._rate_window: deque[tuple[float, int]] = deque(maxlen=50)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"session-{self.token[:6]}", daemon=True)
        self._thread.start()

    # -- public, any thread ---------------------------------------------------
    def submit(self, command) -> bool:
        """Queue a command; False (and nothing queued) when too many are already waiting."""
        if self._closed.is_set():
            return False
        try:
            self._commands.put_nowait(command)
        except queue.Full:
            return False
        return True

    def close(self, timeout: float = 2.0) -> bool:
        """Stop the worker (it looks at the flag between commands and training slices) and
        drop the network, so its memory goes with it. True when the thread has ended."""
        self._closed.set()
        try:
            self._commands.put_nowait(None)  # wakes an idle worker; a full queue means it is not idle
        except queue.Full:
            pass
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        with self._lock:
            self.trainer = None
            self._partition = None
            self._target_panel = None
            self.movie.clear()
        return True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def frame_png(self) -> bytes | None:
        with self._lock:
            if self.trainer is None or self._partition is None:
                return None
            return png_bytes(self._render(self._partition, full_size=True))

    def checkpoint_bytes(self) -> bytes | None:
        with self._lock:
            return None if self.trainer is None else self.trainer.checkpoint_bytes()

    def movie_file(self) -> tuple[bytes, str, str] | None:
        with self._lock:
            frames = list(self.movie.frames)
        if not frames:
            return None
        return movie_bytes([Image.open(io.BytesIO(f)) for f in frames], fps=12)

    def weights_snapshot(self) -> tuple[WeightsSnapshot, int] | None:
        """A frozen copy of the network's weights and its step (None before configure), for
        exact geometry computed on another thread while training goes on."""
        with self._lock:
            if self.trainer is None:
                return None
            return WeightsSnapshot(self.trainer.model), int(self.trainer.step_count)

    def config(self) -> RunConfig | None:
        trainer = self.trainer
        return None if trainer is None else trainer.config

    # -- worker thread --------------------------------------------------------
    def _run(self) -> None:
        while not self._closed.is_set():
            busy = self.state == "running" or self._pending_steps > 0
            try:
                # Idle sessions sleep on the queue; busy ones only peek between training slices.
                command = self._commands.get_nowait() if busy else self._commands.get()
            except queue.Empty:
                command = None
            else:
                if command is None:
                    break
                self._handle_safely(command)
                continue  # drain all commands before training again
            if busy and self.trainer is not None:
                self._train_and_draw()

    def _handle_safely(self, command) -> None:
        try:
            self._handle(command)
        except ProtocolError as exc:
            self._error(str(exc), exc.field)
        except TrainingDiverged as exc:
            self._diverged(exc)
        except Exception as exc:  # keep the session alive whatever one command does
            self._error(f"internal error: {exc}")

    def _handle(self, command) -> None:
        if isinstance(command, Configure):
            self._configure(command.config)
        elif isinstance(command, View):
            for name in ("visible", "fill_regions", "boundaries", "max_fps"):
                value = getattr(command, name)
                if value is not None:
                    setattr(self.view, name, value)
            if self.view.visible and self.trainer is not None and self.state != "running":
                self._send_frame()
        elif self.trainer is None:
            raise ProtocolError("no network yet: send 'configure' first")
        elif isinstance(command, Start):
            self.state = "running"
            self._next_frame_at = 0.0  # first frame right away
            self._status()
        elif isinstance(command, Pause):
            self._pending_steps = 0
            self.state = "paused"
            self.outbox.discard_frame()
            self._status()
            self._send_frame()
        elif isinstance(command, Step):
            self.state = "paused"
            self._pending_steps += command.n
        elif isinstance(command, Reset):
            with self._lock:
                self.trainer.reset()
            self.state = "paused"
            self._pending_steps = 0
            self._train_time = 0.0
            self.movie.clear()
            self.outbox.discard_frame()
            self._status(message="new initialisation")
            self._send_frame()
        elif isinstance(command, Set):
            with self._lock:
                if command.optimizer is not None and command.optimizer != self.trainer.config.optimizer:
                    self.trainer.set_optimizer(command.optimizer, command.lr)
                elif command.lr is not None:
                    self.trainer.set_lr(command.lr)
            self._status()

    def _configure(self, fields: dict) -> None:
        config = validate_config(fields)
        try:
            target = self._resolve(config.image, config.color)
        except KeyError as exc:
            raise ProtocolError(f"image: {exc}", field="image") from None
        except ValueError as exc:
            raise ProtocolError(f"image: {exc}", field="image") from None
        trainer = Trainer(config, target, device=self._device)
        with self._lock:
            self.trainer = trainer
            self.image_id = config.image
            self._target_panel = None
            self._partition = None
        self.state = "paused"
        self._pending_steps = 0
        self._train_time = 0.0
        self._rate_window.clear()
        self.movie.clear()
        self.outbox.discard_frame()
        self._status(message="new network")
        sample = trainer.sample
        self.outbox.put_message(
            {
                "type": "points",
                "size": target.values.shape[0],
                "train": sample.train_pixels.tolist(),
                "val": sample.val_pixels.tolist(),
            }
        )
        self._send_frame()

    def _train_and_draw(self) -> None:
        trainer = self.trainer
        drawing = self.state == "running" and self.view.visible
        deadline = time.perf_counter() + TRAIN_SLICE_S
        if drawing and not self.outbox.frame_pending():
            deadline = min(deadline, self._next_frame_at)  # draw when due, not up to a slice later
        while True:  # at least one step per slice
            n = 1 if self._pending_steps == 0 else self._pending_steps
            n = min(n, 16)
            t0 = time.perf_counter()
            try:
                with self._lock:
                    trainer.step(n)
            except TrainingDiverged as exc:
                self._diverged(exc)
                return
            self._train_time += time.perf_counter() - t0
            if self._pending_steps:
                self._pending_steps -= n
                if self._pending_steps <= 0:
                    self._pending_steps = 0
                    self._status()
                    self._send_frame()
                    return
            if time.perf_counter() >= deadline:
                break
        self._rate_window.append((time.perf_counter(), trainer.step_count))
        if drawing and time.perf_counter() >= self._next_frame_at:
            if not self.outbox.frame_pending():  # client still busy with the last one: skip drawing
                self._send_frame()

    def _steps_per_s(self) -> float:
        if len(self._rate_window) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self._rate_window[0], self._rate_window[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def _send_frame(self) -> None:
        """Draw the partition and hand the frame to the outbox; schedule the next one."""
        if self.trainer is None or not self.view.visible:
            return
        start = time.perf_counter()
        trainer = self.trainer
        try:
            with self._lock:
                losses = trainer.losses()
                partition = compute_partition(trainer.model, trainer.config.resolution)
                self._partition = partition
        except TrainingDiverged as exc:
            self._diverged(exc)
            return
        header = {
            "step": trainer.step_count,
            "train_loss": losses.train,
            "val_loss": losses.val,
            "steps_per_s": round(self._steps_per_s(), 1),
            "elapsed_s": round(self._train_time, 3),
        }
        header.update(self.geometry.frame_fields(trainer, partition, live=self.state == "running"))
        self.outbox.put_frame(partition_frame(partition, header, fill_regions=self.view.fill_regions))
        self._last_losses = losses
        if self.movie.due(trainer.step_count):
            with self._lock:  # the movie's frames are small: draw them from a subsampled grid
                self.movie.add(trainer.step_count, self._render(_movie_partition(partition)))
        spent = time.perf_counter() - start
        self._next_frame_at = time.perf_counter() + max(TRAIN_PER_DRAW * spent, 1.0 / self.view.max_fps - spent)

    def _render(self, partition: GridPartition, full_size: bool = False) -> Image.Image:
        trainer = self.trainer
        size = partition.resolution
        if self._target_panel is None or self._target_panel.shape[0] != size:
            self._target_panel = target_rgb(trainer.target, trainer.sample, size)
        losses = self._last_losses
        info = FrameInfo(
            step=trainer.step_count,
            train_loss=losses.train if losses else math.nan,
            val_loss=losses.val if losses else math.nan,
            regions=partition.region_count,
            architecture=trainer.config.architecture_label(),
        )
        return render_frame(
            partition,
            self._target_panel,
            info if full_size else None,
            fill_regions=self.view.fill_regions,
            show_boundaries=self.view.boundaries,
        )

    def _diverged(self, exc: TrainingDiverged) -> None:
        self.state = "diverged"
        self._pending_steps = 0
        self._error(str(exc))
        self._status(message=str(exc))
        self._send_frame()

    def _status(self, message: str | None = None) -> None:
        trainer = self.trainer
        msg = {
            "type": "status",
            "state": self.state,
            "step": trainer.step_count if trainer else 0,
            "token": self.token,
            "config": trainer.config.model_dump() if trainer else None,
            "image_url": f"/api/images/{self.image_id}" if self.image_id else None,
        }
        if message:
            msg["message"] = message
        self.outbox.put_message(msg)

    def _error(self, message: str, field: str | None = None) -> None:
        msg = {"type": "error", "message": message}
        if field:
            msg["field"] = field
        self.outbox.put_message(msg)
