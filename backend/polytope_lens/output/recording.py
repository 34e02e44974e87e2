"""Headless recording of a run: its frames and metric records, and the train-and-record loop.

A ``RunRecorder`` writes where a ``RecordingFiles`` says (a run folder: output/runfolder.py, which
names the files and runs the whole pipeline): one three-panel frame PNG per recorded step, and
one JSON object per recorded step appended to the metrics file, in step order: ``step``,
``train_loss``, ``val_loss`` (a classifier's also ``train_accuracy``, ``val_accuracy``),
``regions``, ``elapsed_s``, ``frame_s``, ``frame`` (the PNG's name, null without pictures), the
geometry fields below, a clip's ``t`` and, for a picture's regression, ``smoothing_val_loss`` (the
Gaussian-kernel baseline, core/smoothing.py).

``elapsed_s`` in the metrics is training time only (optimiser steps), so it
compares between runs whatever the frame resolution; ``frame_s`` is what the
partition, geometry and drawing of that frame cost. Frames are drawn from a
frozen copy of the network while training goes on (at most
``MAX_PENDING_FRAMES`` waiting) by a ``FrameWriter`` in a worker process of
its own (``drawer="process"``, the CLI's default: training and drawing then
share no GIL, so on two cores a run takes about as long as the larger of the
two, not their sum) or on a thread (``drawer="thread"``: no process to start,
for short runs, sweeps whose workers fill the cores already, and clips, whose
frames are too big to hand over).

``regions`` counts the regions the frame's grid shows (what the picture
draws); ``exact_regions`` (with ``exact_layer_counts``, ``exact_ms``) is the
exact count over the whole square (exact.py), which also finds regions smaller
than a pixel, and ``edge_density_near``/``_far`` the regions per unit area
near the target's edges and away from them: the live view's geometry fields
(dynamics.LiveGeometry). ``exact_regions`` is null once the network's partition
takes longer than ``EXACT_BUDGET_S`` (``exact_status`` says so; the run then
stops trying, so big networks do not slow down).
"""

from __future__ import annotations

import json
import signal
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import torch

from ..core.network import FrozenNetwork
from ..core.settings import ViewSettings
from ..core.smoothing import DEFAULT_SIGMA_PX, smoothing_baseline
from ..core.training import Losses, Trainer
from ..geometry.dynamics import LiveGeometry
from ..processes import context, plain_main
from .frames import FrameProducer
from .frozen import FrozenRun
from .movie import MovieWriter
from .render import png_bytes

# Steps per trainer.step() call between checks for Ctrl-C and progress updates.
STEP_CHUNK = 50
EXACT_BUDGET_S = 2.0  # per frame; a 14x6 net takes ~0.02-0.1 s, a 64x4 ~0.2-1 s
EXACT_MAX_REGIONS = 500_000
MAX_PENDING_FRAMES = 3  # frames waiting for the drawing thread before training waits for it


class RecordingFiles(Protocol):
    """Where a recorder writes: a frame's picture by step, and the file metric records go to
    (output/runfolder.py's RunFolder; it must pickle, to reach the drawing process)."""

    @property
    def metrics_path(self) -> Path: ...

    def frame_path(self, step: int) -> Path: ...


class _NetworkToken:
    """Stands for the trainer's network in the drawing process (its dynamics are tracked by identity)."""


class FrameWriter:
    """Draws one run's frames and appends its metric records, in step order: on the drawing
    thread, or pickled into the drawing process (it holds the target, the points and the view,
    never the trainer)."""

    def __init__(self, files: RecordingFiles, view: ViewSettings, pictures: bool, trainer: Trainer,
                 movie: MovieWriter | None = None):
        self.files, self.pictures = files, pictures
        self.movie = movie if pictures else None  # each picture is also encoded into it as it is drawn
        self.resolution, self.view = view.resolution, view
        self.config, self.target, self.sample = trainer.config, trainer.target, trainer.sample
        self.classes, self.out_dim = trainer.classes, trainer.out_dim
        self._frames: FrameProducer | None = None
        self._baseline_val: float | None = None  # the smoothing baseline's validation MSE, once per run
        self._network_token = _NetworkToken()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_frames=None, _network_token=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._network_token = _NetworkToken()

    def draw_network(self, network: FrozenNetwork, step: int, losses: Losses, elapsed_s: float) -> dict:
        """Draw the network sent by the training process (numpy arrays: plain bytes to pickle)."""
        run = FrozenRun(network, self._network_token, step, self.config, self.target, self.sample, losses,
                        self.classes, self.out_dim)
        return self.draw(run, elapsed_s)

    def draw(self, run: FrozenRun, elapsed_s: float) -> dict:
        if self._frames is None:
            self._frames = FrameProducer(LiveGeometry(budget_s=EXACT_BUDGET_S, max_regions=EXACT_MAX_REGIONS))
        t0 = time.perf_counter()
        frame = self._frames.frame(run, self.resolution, live=False, t=self.view.t)
        path = None
        if self.pictures:
            path = self.files.frame_path(run.step_count)
            img = self._frames.picture(run, frame, self.view)
            path.write_bytes(png_bytes(img))  # fast rather than small; the movie is the compact output
            if self.movie is not None:
                self.movie.add(img)
        record = {
            "step": run.step_count,
            "train_loss": frame.losses.train,
            "val_loss": frame.losses.val,
            **({"train_accuracy": frame.losses.train_accuracy, "val_accuracy": frame.losses.val_accuracy}
               if frame.losses.val_accuracy is not None else {}),
            "regions": frame.partition.region_count,
            "elapsed_s": round(elapsed_s, 4),
            "frame_s": round(time.perf_counter() - t0, 4),
            "frame": path.name if path else None,
        }
        record.update(frame.geometry)
        if run.target.frame_count > 1:
            record["t"] = frame.t  # a clip: the moment the grid and exact counts describe
        # a spatial regression baseline: it says nothing about a clip's time, nor of a classifier's classes
        if run.target.frame_count == 1 and getattr(run, "classes", None) is None:
            if self._baseline_val is None:
                self._baseline_val = smoothing_baseline(run.target, run.sample, DEFAULT_SIGMA_PX).val_loss
            record["smoothing_val_loss"] = self._baseline_val
        with self.files.metrics_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        return record


# The drawing process's writer (one run per process: RunRecorder starts a process per run).
_WRITER: FrameWriter | None = None


def _install_writer(writer: FrameWriter) -> None:
    global _WRITER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the training process's business
    torch.set_num_threads(1)
    _WRITER = writer


def _draw_in_process(network: FrozenNetwork, step: int, losses: Losses, elapsed_s: float) -> dict:
    return _WRITER.draw_network(network, step, losses, elapsed_s)


def _close_movie(writer: FrameWriter | None = None) -> Path | None:
    """Finish the writer's movie (the drawing process's own writer when none is given)."""
    writer = writer or _WRITER
    if writer.movie is None or writer.movie.count == 0:
        return None
    return writer.movie.close()


class RunRecorder:
    """Writes frames and metric records of one trainer's run where ``files`` says (its folders exist).

    ``view``: how frames are drawn and the grid their region count is taken on (``t``: the moment
    of a clip's network they show, output/moments.py). ``pictures=False``: metrics only, no frame
    PNGs (a sweep's default). ``movie``: every frame drawn is also encoded into it, as it is drawn
    (close() finishes it). ``on_record(trainer)``: called at every step recorded, once its frame is
    queued (a sweep keeps the weights then)."""

    def __init__(
        self,
        files: RecordingFiles,
        trainer: Trainer,
        view: ViewSettings,
        pictures: bool = True,
        drawer: str = "thread",
        movie: MovieWriter | None = None,
        on_record: Callable[[Trainer], None] | None = None,
    ):
        self.files, self.pictures, self.view = files, pictures, view
        self._on_record = on_record
        self._writer = FrameWriter(files, view, pictures, trainer, movie)
        self.movie_path: Path | None = None  # the movie's file once close() has written it
        if drawer not in ("thread", "process"):
            raise ValueError(f"drawer must be 'thread' or 'process', not {drawer!r}")
        # A clip's frames (up to ~100 MB) are not worth handing to another process.
        self.drawer = "thread" if trainer.target.frame_count > 1 else drawer
        if self.drawer == "process":  # one process: records stay in order
            self._drawer = ProcessPoolExecutor(1, mp_context=context(), initializer=_install_writer,
                                               initargs=(self._writer,))
        else:
            self._drawer = ThreadPoolExecutor(1, thread_name_prefix="frames")
        self._pending: deque[Future] = deque()

    def record(self, trainer: Trainer, elapsed_s: float) -> Future:
        """Queue the frame of the trainer's current state; the future gives its metrics record
        (appended to the metrics file in step order). Raises TrainingDiverged (from trainer.losses)
        here, at once, when the network is no longer finite."""
        while len(self._pending) >= MAX_PENDING_FRAMES:
            self._pending.popleft().result()  # drawing is behind: let it catch up
        if self.drawer == "process":
            losses, step = trainer.losses(), int(trainer.step_count)
            with plain_main():  # the first submit starts the process: it must not re-run our __main__
                future = self._drawer.submit(_draw_in_process, trainer.model.freeze(), step, losses, elapsed_s)
        else:
            future = self._drawer.submit(self._writer.draw, FrozenRun.of(trainer), elapsed_s)
        self._pending.append(future)
        if self._on_record is not None:
            self._on_record(trainer)
        return future

    def finish(self) -> None:
        """Wait for every queued frame (errors of drawing are raised here)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Finish the movie (if any frame went into it) after the frames queued, and stop drawing."""
        try:
            if self._writer.movie is not None:
                if self.drawer == "process":
                    with plain_main():
                        self.movie_path = self._drawer.submit(_close_movie).result()
                else:
                    self.movie_path = self._drawer.submit(_close_movie, self._writer).result()
        finally:
            self._drawer.shutdown(wait=True)


def train_and_record(
    trainer: Trainer,
    recorder: RunRecorder,
    steps: int,
    frame_every: int,
    elapsed_s: float = 0.0,
    record_start: bool = True,
    on_progress: Callable[[int, dict | None], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    checkpoint_every: int | None = None,
    save_checkpoint: Callable[[Trainer], None] | None = None,
) -> bool:
    """Train ``steps`` more steps with a frame at the start, at every multiple of ``frame_every`` and at the end.

    ``on_progress(steps_done, record_or_None)`` is called after every chunk of
    steps and for every frame drawn (in step order). Returns False if
    ``should_stop()`` ended it early (the state is then between frames, not
    recorded). ``save_checkpoint(trainer)`` is called at every multiple of
    ``checkpoint_every`` steps passed on the way. TrainingDiverged propagates with the trainer put back to its last
    recorded frame. Frames queued before an early end or a divergence are still
    drawn and written.
    """
    progress = on_progress or (lambda n, rec: None)
    queued: deque[Future] = deque()

    def report(wait: bool = False) -> None:
        while queued and (wait or queued[0].done()):
            progress(0, queued.popleft().result())

    try:
        end = trainer.step_count + steps
        if record_start:
            queued.append(recorder.record(trainer, elapsed_s))
        while trainer.step_count < end:
            next_frame = min(end, (trainer.step_count // frame_every + 1) * frame_every)
            while trainer.step_count < next_frame:
                if should_stop():
                    return False
                n = min(STEP_CHUNK, next_frame - trainer.step_count)
                if checkpoint_every:
                    n = min(n, (trainer.step_count // checkpoint_every + 1) * checkpoint_every - trainer.step_count)
                t0 = time.perf_counter()
                trainer.step(n)
                elapsed_s += time.perf_counter() - t0
                if checkpoint_every and save_checkpoint and trainer.step_count % checkpoint_every == 0:
                    save_checkpoint(trainer)
                progress(n, None)
                report()
            queued.append(recorder.record(trainer, elapsed_s))
        return True
    finally:
        report(wait=True)
