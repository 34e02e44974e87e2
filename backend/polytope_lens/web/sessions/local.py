"""One live run: a trainer and a frame producer on a worker thread.

Commands come in through ``submit`` (any thread); messages go out through an
``Outbox`` (contract.py): JSON messages in order, and frames latest-wins, so a slow client
gets fewer frames and never a growing queue. Training never runs on the
caller's thread (the server's event loop).

Scheduling: after a frame that took t seconds to draw, the session trains for
at least max(TRAIN_PER_DRAW * t, 1/max_fps - t) before drawing again, so
drawing never takes more time than training (at most ~36% of the time); a
frame is not drawn while the previous one is still waiting for the client
(latest-wins), and a hidden view draws nothing. When the page draws (view.render
"client"), an update is only the weights, paced by max_fps alone, and while
running the measurements it carries (losses, grid count, geometry, movie frames)
are taken every MEASURE_INTERVAL_S from a frozen copy on a measuring thread. When
the server draws, a running update is the picture of its own step's grid partition
(the live grid: output/frames.py live_resolution), and every MEASURE_INTERVAL_S that
very partition is measured on the measuring thread: drawing is then only the partition, so a
very wide network (one layer of 1,024) still updates several times a second.

This class is the session itself, wherever it runs: as a thread of the server's process
(Engine.THREAD, and tests), in a process of its own (process.py, the default) or in a Ray actor
(ray.py). Its files are made beside it (downloads.py) from what it hands out.
"""

from __future__ import annotations

import logging
import math
import queue
import secrets
import threading
import time
from collections import deque
from typing import Callable

from PIL import Image

from ...core.images import Target
from ...core.settings import RunConfig, SettingError, ViewSettings
from ...core.smoothing import Baseline, NotARegression, smoothing_baseline
from ...core.training import Trainer, TrainingDiverged, trainer_for_network
from ...core.history import DEFAULT_HISTORY_BYTES, WeightHistory
from ...geometry.dynamics import LiveGeometry
from ...core.network import FrozenNetwork
from ...output.clipmovie import frozen_copy
from ...geometry.grid import compute_partition
from ...output.frames import Frame, FrameProducer, live_resolution
from ...output.frozen import FrozenRun
from ...output.movie import MovieRecorder, movie_partition
from ...core.handedits import EditRefused
from ...geometry.surface import build_surface, surface_message
from ..protocol import (
    BinaryMessage, Configure, Edit, EditedMessage, ErrorMessage, Pause, PointsMessage, points_classes, ProtocolError,
    Reset, Set, Start, StatusMessage, Step, View, changes,
)
from ..wire import class_frame, partition_frame, weights_frame
from .contract import Downloads, Outbox, Session
from .downloads import SessionDownloads
from .measuring import Measurer

TargetResolver = Callable[[str, bool], Target]

TRAIN_SLICE_S = 0.02  # longest stretch of training between looks at the command queue
# After a frame that took t seconds to draw, train at least TRAIN_PER_DRAW * t before the
# next one: drawing takes at most 1 / (1 + TRAIN_PER_DRAW) of the time (about 36%), so a
# live view keeps well over half of the training speed; max_fps caps the rate on top.
TRAIN_PER_DRAW = 1.75
DEFAULT_MAX_FPS = 60.0
# With the page drawing (view.render == "client") an update is the weights, cheap enough to send at
# the display rate; losses, the grid count and the geometry fields are measured this often while
# running (always when paused), and each update says which step they belong to. A little under
# 0.5 s: the page's counts refresh at least twice a second; each measurement (~20 ms for a 14x6 at
# 512^2) shares the session's GIL with training, so not more often than that.
MEASURE_INTERVAL_S = 0.45
BASELINES_KEPT = 4  # smoothing baselines kept per session (one per sigma asked for)
# Paused, the exact count of the network on screen is always computed: past the live budget on a
# thread of its own, with progress, for up to this long; the next command that changes the
# network or its step cancels it.
PAUSE_COUNT_BUDGET_S = 20.0
PAUSE_COUNT_MAX_REGIONS = 1_000_000

log = logging.getLogger("polytope_lens.web")


class _GeometryReady:
    """Internal command: a paused exact count progressed or finished; send its fields."""


MOVIE_AFTER_FRAME_WAIT_S = 0.1  # an edit's movie frame waits at most this long for the edit's update to leave
EDIT_WAIT_S = 30.0  # the longest ``edit`` waits for the worker (it drains commands between ~20 ms slices)


class _EditCall:
    """Internal command: ``edit`` called from another thread; the worker writes it in order and says
    how it went."""

    def __init__(self, edit: Edit):
        self.edit = edit
        self.refusal: ErrorMessage | None = None
        self.done = threading.Event()


class LiveSession(Session):
    """The session itself (see the module's notes): the Session contract, answered here."""

    def __init__(
        self, resolve_target: TargetResolver, outbox: Outbox, device: str | None = None, max_queued: int = 16,
        history_bytes: int = DEFAULT_HISTORY_BYTES, token: str | None = None,
        on_command_taken: Callable[[], None] = lambda: None,
    ):
        self.token = token or secrets.token_urlsafe(18)
        self._on_command_taken = on_command_taken  # a client's command left the queue (remote.py counts them)
        self._resolve = resolve_target
        self.outbox = outbox
        self._device = device
        # Bounded: a client flooding commands gets "slow down" errors (routers/live.py), not a growing queue.
        self._commands: queue.Queue = queue.Queue(maxsize=max(1, max_queued))
        self._lock = threading.Lock()  # guards trainer and frame against the routes' requests
        self.trainer: Trainer | None = None
        self.image_id: str | None = None
        self.state = "idle"
        self.view = ViewSettings()
        self.visible = True  # false while the page's tab is hidden: nothing is drawn
        self.max_fps = DEFAULT_MAX_FPS
        self.movie = MovieRecorder()
        self.frames = self._frame_producer()
        self._frame: Frame | None = None  # the last measured state: losses, grid partition, geometry
        self._next_measure_at = 0.0
        self._surface_sent: tuple | None = None  # which exact partition the last surface message was of
        self._edit_unseen = False  # edits written, their update not yet drawn (the last of a run draws it)
        self._waiting_answers_edit = False  # the frame last put is the update of an edit (see _draw_edited)
        self.history = WeightHistory(history_bytes)  # the network at every step sent, for replay and geometry
        self._baselines: dict[float, Baseline] = {}  # smoothing baselines of this network's points by sigma
        self._network = 0  # bumped when the network is replaced or re-initialised: older measurements are moot
        self._pending_steps = 0
        self._next_frame_at = 0.0
        self._train_time = 0.0
        self._rate_window: deque[tuple[float, int]] = deque(maxlen=50)
        self._closed = threading.Event()
        self._downloads = SessionDownloads(self)
        # running with the page drawing, measured from a frozen copy beside training (measuring.py)
        self._measurer = Measurer(f"measure-{self.token[:6]}", self.movie.due, self._measured)
        self._status()  # the client learns its token and the idle state at once
        self._thread = threading.Thread(target=self._run, name=f"session-{self.token[:6]}", daemon=True)
        self._thread.start()

    # -- the Session contract (contract.py), any thread -------------------------
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
        self._measurer.close()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        with self._lock:
            self.trainer = None
            self._frame = None
            self.movie.clear()
        return self._measurer.join(timeout)  # at most one measurement of a frozen copy to finish

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() or self._measurer.alive

    @property
    def has_network(self) -> bool:
        return self.trainer is not None

    def edit(self, edit: Edit) -> ErrorMessage | None:
        """Write an edit by hand in order with the queued commands (the worker writes it); None when
        written, else the refusal in words."""
        if threading.current_thread() is self._thread:
            return self._edit_or_refusal(edit)
        call = _EditCall(edit)
        if self._closed.is_set():
            return ErrorMessage(message="the session is closed", field="session")
        try:
            self._commands.put(call, timeout=EDIT_WAIT_S)
        except queue.Full:
            return ErrorMessage(message="edit ignored: too many commands are waiting; slow down")
        if not call.done.wait(EDIT_WAIT_S):
            return ErrorMessage(message=f"the session did not take the edit within {EDIT_WAIT_S:g} s")
        return call.refusal

    def step_count(self) -> int | None:
        trainer = self.trainer
        return None if trainer is None else int(trainer.step_count)

    def class_colors(self) -> list[str] | None:
        """A classifier's class colours (CSS), None for a regression or before configure."""
        trainer = self.trainer
        return None if trainer is None or trainer.classes is None else trainer.classes.css_colors()

    def smoothing_baseline(self, sigma: float) -> tuple[Baseline, int, float | None] | None:
        """The Gaussian-kernel regression of this run's training points (kept per sigma), the step,
        and the network's validation loss at its last measured step; None before configure."""
        with self._lock:
            trainer, frame = self.trainer, self._frame
        if trainer is None:
            return None
        if trainer.classes is not None:
            raise NotARegression("the smoothing baseline is a regression of brightness; this run classifies "
                                 "(task classify), so compare its validation accuracy instead")
        key = round(sigma, 6)
        baseline = self._baselines.get(key)
        if baseline is None:
            baseline = smoothing_baseline(trainer.target, trainer.sample, sigma)
            with self._lock:
                if self.trainer is trainer:  # not configured anew meanwhile
                    while len(self._baselines) >= BASELINES_KEPT:
                        self._baselines.pop(next(iter(self._baselines)))
                    self._baselines[key] = baseline
        return baseline, int(trainer.step_count), None if frame is None else float(frame.losses.val)

    def weights_snapshot(self, step: int | None = None) -> tuple[FrozenNetwork, int] | None:
        with self._lock:
            trainer = self.trainer
            if trainer is None:
                return None
            now = int(trainer.step_count)
            network = trainer.model.freeze() if step is None or step == now else self.history.get(step)
        if network is None:
            return None
        return network, now if step is None else step

    def config(self) -> RunConfig | None:
        trainer = self.trainer
        return None if trainer is None else trainer.config

    @property
    def downloads(self) -> Downloads:
        return self._downloads

    # -- what the downloads are made from (downloads.SessionData) ---------------
    def frame_picture(self) -> Image.Image | None:
        with self._lock:
            if self.trainer is None or self._frame is None:
                return None
            with self._measurer.lock:
                return self.frames.picture(self.trainer, self._frame, self.view)

    def checkpoint_bytes(self) -> bytes | None:
        with self._lock:
            return None if self.trainer is None else self.trainer.checkpoint_bytes()

    def movie_frames(self) -> tuple[list[bytes], int | None, int]:
        with self._lock:
            return list(self.movie.frames), self.movie.first_step(), self.movie.last_step

    def clip_run(self) -> tuple[object, object, ViewSettings] | None:
        """A clip's run frozen now (drawn from while training goes on), its losses and the view."""
        with self._lock:
            trainer = self.trainer
            if trainer is None or trainer.target.frame_count < 2:
                return None
            return frozen_copy(trainer), trainer.losses(), self.view

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
                if not isinstance(command, (_GeometryReady, _EditCall)):  # the client's commands only
                    self._on_command_taken()
                self._handle_safely(command)
                continue  # drain all commands before training again
            if busy and self.trainer is not None:
                try:
                    self._train_and_draw()
                except Exception as exc:  # noqa: BLE001 - an escaped error would end this thread: the
                    self._training_failed(exc)  # session would never answer again and keep its place

    def _frame_producer(self) -> FrameProducer:
        return FrameProducer(LiveGeometry(pause_budget_s=PAUSE_COUNT_BUDGET_S, pause_max_regions=PAUSE_COUNT_MAX_REGIONS,
                                          on_update=self._geometry_ready))

    def _geometry_ready(self) -> None:
        """From the counting thread: wake the worker to send the new exact fields."""
        try:
            self._commands.put_nowait(_GeometryReady())
        except queue.Full:
            pass  # commands are waiting: a frame follows them anyway

    def _send_geometry(self) -> None:
        """While paused: the last frame again with the paused count's new fields (no redrawing)."""
        if self.state == "running" or self._pending_steps or self._frame is None or self.trainer is None:
            return
        if not self._commands.empty():
            return  # a command is waiting: its own frame (or status) comes next; this one would come behind it
        with self._lock:
            if self._frame.step != self.trainer.step_count:
                return
            self._frame.geometry.update(self.frames.geometry.exact_fields(self.trainer.classes is not None))
        self._send_frame(remeasure=False, answers_edit=self._waiting_answers_edit)

    def _handle_safely(self, command) -> None:
        if isinstance(command, _GeometryReady):
            self._send_geometry()
            return
        if isinstance(command, _EditCall):
            try:
                command.refusal = self._edit_or_refusal(command.edit)
                self._draw_edited_safely()
            finally:
                command.done.set()
            return
        if isinstance(command, (Configure, Start, Step, Reset, Edit)):
            self.frames.geometry.cancel()  # a paused count of the network on screen is moot now
        try:
            self._handle(command)
        except ProtocolError as exc:
            self._error(str(exc), exc.field)
        except TrainingDiverged as exc:
            self._diverged(exc)
        except Exception as exc:  # keep the session alive whatever one command does
            self._error(f"internal error: {exc}")
        self._draw_edited_safely()

    def _draw_edited_safely(self) -> None:
        try:
            self._draw_edited()
        except TrainingDiverged as exc:
            self._diverged(exc)
        except Exception as exc:  # noqa: BLE001 - as for any command
            self._error(f"internal error: {exc}")

    def _handle(self, command) -> None:
        if isinstance(command, Configure):
            self._configure(command.config, command.opened)
        elif isinstance(command, View):
            self._change_view(command)
        elif self.trainer is None:
            raise ProtocolError("no network yet: send 'configure' first")
        elif isinstance(command, (Start, Step)) and self.trainer.untrainable:
            self._error(f"Train: this network is shown, not trained: {self.trainer.untrainable}", field="network")
            self._status()  # still paused: a page that took its Train for granted hears so
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
                self._network += 1
            self.history.clear()
            self.state = "paused"
            self._pending_steps = 0
            self._train_time = 0.0
            self.movie.clear()
            self.outbox.discard_frame()
            self._status(message="new initialisation")
            self._send_frame()
        elif isinstance(command, Set):
            fields = changes(command)
            with self._lock:
                self.trainer.apply_training(**fields)
            self._status()
        elif isinstance(command, Edit):
            self._edit(command)

    def _edit_or_refusal(self, edit: Edit) -> ErrorMessage | None:
        try:
            if self.trainer is None:
                raise ProtocolError("no network yet: send 'configure' first")
            self._edit(edit)
        except ProtocolError as exc:
            return ErrorMessage(message=str(exc), field=exc.field)
        return None

    def _edit(self, edit: Edit) -> None:
        """Write an edit by hand (worker thread): the network changes in place at its step, so what
        was measured of it is moot; the page hears ``edited`` at once and the update of the edited
        network follows (_draw_edited); the history marks the step. Training, if running, goes on from it."""
        written = edit.to_edit()
        self.frames.geometry.cancel()
        with self._lock:
            trainer = self.trainer
            try:
                trainer.edit(written)
            except EditRefused as exc:
                raise ProtocolError(str(exc), field=exc.field) from None
            self._network += 1  # a measurement of the weights before it is dropped (_measured)
            self.frames.geometry.network_changed()
            step = int(trainer.step_count)
            note = written.describe(len(trainer.model.widths))
        self.history.mark(step, note)
        # an unsent update is of the network before the edit: after "edited" it would show that one
        # as the edited network (the next update carries the edit, docs/protocol.md)
        self.outbox.discard_frame()
        self.outbox.put_message(EditedMessage(step=step, layer=edit.layer, kind=edit.kind, row=edit.row, col=edit.col,
                                              value=edit.value, values=edit.values, note=note))
        self._edit_unseen = True

    def _edit_next(self) -> bool:
        """Whether the next command waiting is another edit by hand."""
        with self._commands.mutex:  # (queue.Queue's own lock and deque: a look, nothing taken)
            waiting = self._commands.queue[0] if self._commands.queue else None
        return isinstance(waiting, (Edit, _EditCall))

    def _draw_edited(self) -> None:
        """The update of the network as edited (after any command): drawn once for a run of edits
        that waited in the queue together (a slider dragged faster than frames are drawn: only its
        latest value is drawn), so the frames keep up. Paused, the exact count of the edited network
        is not waited for: the frame says "pending" and a second update of the same step brings the
        count (LiveGeometry, ``defer_exact``).

        A waiting frame of training shows the network before the edit: dropped. The update of the
        edit before this run is kept (it is on its way to a client that sent this edit on hearing
        ``edited``, before that update arrived): dropping it would leave a dragged slider without a
        single frame until it stops."""
        if not self._edit_unseen or self.trainer is None or self._edit_next():
            return
        self._edit_unseen = False
        if not self._waiting_answers_edit:
            self.outbox.discard_frame()
        step = int(self.trainer.step_count)
        recorded = len(self.movie.frames)
        self._send_frame(remeasure=True, measure_now=True, answers_edit=True)
        # not due: recorded anyway, at most every min_interval_s, and not while the next edit waits
        # (a dragged slider: its last value is recorded); once the frame has left, so that drawing
        # the movie's picture does not take the CPU the frame's way to the page needs
        if len(self.movie.frames) == recorded and time.monotonic() - self.movie.last_time >= self.movie.min_interval_s:
            until = time.monotonic() + MOVIE_AFTER_FRAME_WAIT_S
            while self.outbox.frame_pending() and self._commands.empty() and time.monotonic() < until:
                time.sleep(0.002)
            if not self._edit_next():
                self._record_edit(step)

    def _record_edit(self, step: int) -> None:
        """The movie shows every edit, due or not: a frame of the edited network at its step."""
        frame = self._frame
        if frame is None or frame.step != step or not self.visible:
            return
        with self._lock, self._measurer.lock:
            small = movie_partition(frame.partition)
            self.movie.add(step, self.frames.picture(self.trainer, frame, self.view, partition=small))

    def _change_view(self, command: View) -> None:
        """Drawing settings: the network and its step stay as they are."""
        fields = changes(command)
        self.visible = fields.pop("visible", self.visible)
        self.max_fps = fields.pop("max_fps", self.max_fps)
        view = self.view.model_copy(update=fields)  # its cost was checked when it came in (routers/live.py)
        changed = view != self.view
        self.view = view
        if changed:
            self._status()
        if self.visible and self.trainer is not None and (changed or self.state != "running"):
            self.outbox.discard_frame()
            self._send_frame()

    def _configure(self, config: RunConfig, opened=None) -> None:
        """A new network: a fresh one of ``config``, or the network ``opened`` from a file
        (sources.OpenedNetwork; its config already says what it is, protocol.Configure.opening)."""
        try:
            target = self._resolve(config.image, config.target_color)
        except (KeyError, ValueError) as exc:
            raise ProtocolError(f"image: {exc}", field="image") from None
        try:
            if opened is None:
                trainer = Trainer(config, target, device=self._device)
            else:
                trainer = trainer_for_network(config, target, opened.shown, device=self._device,
                                              cannot_train=opened.cannot_train)
        except SettingError as exc:  # e.g. classify: too few classes; a clip with task classify
            raise ProtocolError(f"{exc.field}: {exc}", field=exc.field) from None
        self._replace_network(trainer, config.image)
        if opened is None:
            message = "new network"
        elif trainer.untrainable:
            message = f"opened {opened.name}: shown, not trained ({trainer.untrainable})"
        else:
            message = f"opened {opened.name}: Train continues from its weights"
        self._status(message=message)
        sample = trainer.sample
        clip = {} if sample.train_frames is None else {
            "train_frames": sample.train_frames.tolist(), "val_frames": sample.val_frames.tolist()}
        self.outbox.put_message(
            PointsMessage(size=target.values.shape[0], train=sample.train_pixels.tolist(), val=sample.val_pixels.tolist(),
                          **points_classes(trainer), **clip)
        )
        try:
            self._send_frame()
        except Exception as exc:  # noqa: BLE001 - a network that cannot even be drawn is not kept
            self._drop_network()
            raise ProtocolError(f"internal error: the new network could not be drawn ({exc}); it was dropped, "
                                "so change a setting and configure again") from None

    def _replace_network(self, trainer: Trainer | None, image_id: str | None) -> None:
        """Put ``trainer`` (None: no network) in place of the network, with nothing of the old one
        kept: its frame, measurements, baselines, history, movie and rate."""
        with self._lock:
            self.trainer = trainer
            self.image_id = image_id
            self._frame = None
            self.frames = self._frame_producer()
            self._baselines = {}
            self._network += 1
        self.history.clear()
        self.state = "paused" if trainer is not None else "idle"
        self._pending_steps = 0
        self._train_time = 0.0
        self._rate_window.clear()
        self.movie.clear()
        self.outbox.discard_frame()

    def _drop_network(self) -> None:
        """Forget the network (after an internal error it cannot recover from): the session goes on,
        empty, as before its first configure."""
        self._replace_network(None, None)
        self._status(message="no network")

    def _training_failed(self, exc: Exception) -> None:
        """An internal error while training or drawing: said in words, training paused; the network
        stays for the person to look at, change or configure anew (a Start tries again)."""
        log.exception("session %s: internal error while training", self.token[:6])
        self.state = "paused"
        self._pending_steps = 0
        self._error(f"internal error while training ({exc}); training paused")
        self._status(message="paused after an internal error")

    def _train_and_draw(self) -> None:
        trainer = self.trainer
        drawing = self.state == "running" and self.visible
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

    def _send_frame(self, remeasure: bool = True, measure_now: bool = False, answers_edit: bool = False) -> None:
        """Send the network's state to the page (pictures, or the weights for the page to draw),
        keep it in the history and the movie; schedule the next one. ``measure_now``: measured on
        this thread even while running (the network just changed by hand: its count is wanted now).
        ``answers_edit``: the update of an edit by hand (paused: its exact count follows, not waited for)."""
        if self.trainer is None or not self.visible:
            return
        start = time.perf_counter()
        trainer = self.trainer
        client = self.view.render == "client"
        live = self.state == "running"
        drawn = None  # a server-drawn live update's own grid partition (its measured fields may be older)
        try:
            with self._lock:
                network = trainer.model.freeze()
                step = int(trainer.step_count)
                moved = self._frame is not None and self._frame.t != self.view.t and trainer.target.frame_count > 1
                beside = (remeasure and live and self._frame is not None and not moved and not measure_now
                          and (client or trainer.target.frame_count == 1))
                if beside:  # measured beside training
                    if not client:  # the picture is of this step; a clip's slice needs the frame producer
                        drawn = compute_partition(trainer.model, live_resolution(self.view.resolution, trainer.model.widths))
                    if start >= self._next_measure_at:
                        self._measurer.hand(self._network, self.frames, FrozenRun.of(trainer), self.view, partition=drawn)
                        # due every interval on the clock, not after it: updates arrive every ~20 ms
                        # and waiting for the next one after an interval would stretch each by that
                        self._next_measure_at = max(self._next_measure_at + MEASURE_INTERVAL_S, start)
                elif remeasure:  # paused, the first frame, an edit, or a clip's moment moved
                    with self._measurer.lock:
                        self._frame = self.frames.frame(trainer, self.view.resolution, live=live, t=self.view.t,
                                                        defer_exact=answers_edit and not live)
                    self._next_measure_at = start + MEASURE_INTERVAL_S
                frame = self._frame
        except TrainingDiverged as exc:
            self._diverged(exc)
            return
        self.history.add(step, network)
        header = {
            "step": step,
            "measured_step": frame.step,
            "train_loss": _measured(frame.losses.train),  # None: not measured (a network only shown)
            "val_loss": _measured(frame.losses.val),
            "regions": frame.partition.region_count,
            "steps_per_s": round(self._steps_per_s(), 1),
            "elapsed_s": round(self._train_time, 3),
            **frame.geometry,
        }
        if frame.losses.train_accuracy is not None:
            header["train_accuracy"] = frame.losses.train_accuracy
            header["val_accuracy"] = frame.losses.val_accuracy
        if trainer.classes is not None:  # a classifier: the page draws its scores in these colours
            header["classes"] = trainer.classes.css_colors()
        if trainer.target.frame_count > 1:  # a clip: the moment the measured fields describe
            header.update(t=frame.t, frames=trainer.target.frame_count)
        picture = drawn if drawn is not None else frame.partition
        if client:
            update = weights_frame(header, network)
        elif trainer.classes is not None:
            update = class_frame(picture, trainer.classes.colors, header, fill_regions=self.view.fill_regions)
        else:
            update = partition_frame(picture, header, fill_regions=self.view.fill_regions)
        self.outbox.put_frame(update)
        self._waiting_answers_edit = answers_edit
        # an edited network's exact count, once its picture has left (taken by the websocket)
        self.frames.geometry.start_deferred(sent=lambda outbox=self.outbox: not outbox.frame_pending())
        self._send_surface()
        if frame.step == step and self.movie.due(step):
            with self._lock:
                # the movie's frames are small: drawn from a subsampled grid. Not while a measurement
                # holds the frame producer (a wide net's takes a second): the frame stays due, and
                # the next update draws it, so training never waits for the measuring thread.
                if self._measurer.lock.acquire(blocking=False):
                    try:
                        small = movie_partition(frame.partition)
                        self.movie.add(step, self.frames.picture(trainer, frame, self.view, partition=small))
                    finally:
                        self._measurer.lock.release()
        spent = time.perf_counter() - start
        self._next_frame_at = time.perf_counter() + max(TRAIN_PER_DRAW * spent, 1.0 / self.max_fps - spent)

    def _send_surface(self) -> None:
        """While the view asks for it: the origami surface (docs/protocol.md) of the live exact
        partition, once per partition, as soon as there is a new one (the exact count's, which keeps
        its polygons: nothing is computed twice). Past the live budget there is none, and nothing is
        sent (the frame's exact_status says why)."""
        if not self.view.surface:
            self._surface_sent = None  # switched on again: the current partition is sent again
            return
        found = self.frames.geometry.exact_surface()
        if found is None:
            return
        generation, step, t, partition, decision = found
        key = (self._network, id(self.frames), generation, step)
        if key == self._surface_sent:
            return
        self._surface_sent = key
        task = "classify" if self.trainer.classes is not None else "regress"
        mesh = build_surface(partition, task, decision=decision)
        extra = {"classes": self.trainer.classes.css_colors()} if self.trainer.classes is not None else None
        self.outbox.put_message(BinaryMessage(kind="surface", step=step, data=surface_message(mesh, step, t, extra=extra)))

    def _measured(self, network: int, frame: Frame, picture: Image.Image | None) -> None:
        """From the measuring thread: a frozen run's measurements, unless they are moot now."""
        with self._lock:
            if network != self._network or (self._frame is not None and self._frame.step > frame.step):
                return  # a new network, or measured on the training thread meanwhile (paused)
            self._frame = frame
            if picture is not None:
                self.movie.add(frame.step, picture)

    def _diverged(self, exc: TrainingDiverged) -> None:
        self.state = "diverged"
        self._pending_steps = 0
        self._error(str(exc))
        self._status(message=str(exc))
        self._send_frame()

    def _status(self, message: str | None = None) -> None:
        trainer = self.trainer
        self.outbox.put_message(StatusMessage(
            state=self.state,
            step=trainer.step_count if trainer else 0,
            token=self.token,
            config=trainer.config if trainer else None,
            view=self.view,
            image_url=f"/api/images/{self.image_id}" if self.image_id else None,
            message=message,
            frames=trainer.target.frame_count if trainer else 1,
            duration_s=trainer.target.duration_s if trainer else 0.0,
        ))

    def _error(self, message: str, field: str | None = None) -> None:
        self.outbox.put_message(ErrorMessage(message=message, field=field))


def _measured(value: float) -> float | None:
    """A loss for the frame's header: None where it was not measured (NaN: JSON has no NaN)."""
    return value if math.isfinite(value) else None
