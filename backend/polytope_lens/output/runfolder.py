"""A run folder: one run's files, what each holds, how a run writes them, and how one resumes.

``polytope-lens train`` (and ``train --resume``) and every run of ``polytope-lens sweep`` fill a
run folder through ``RunFolder.record``; ``polytope-lens plot`` and a sweep's catalog
(sweeps/catalog.py) read it back through the same object. The layout, stated here only::

    config.json                     the run's RunConfig (network and training settings)
    checkpoint.pt                   weights, optimiser and configuration at the last step
                                    (core/training.py): what ``regions`` and ``--resume`` read
    checkpoints/checkpoint_STEP.pt  the same at every multiple of ``--checkpoint-every`` steps
    metrics.jsonl                   one JSON object per recorded step (output/recording.py says
                                    what each field is)
    frames/frame_STEP.png           the three panels and a caption at each recorded step
                                    (STEP: the step, six digits or more)
    view.json                       how the frames are drawn (ViewSettings): a resumed run draws alike
    movie.mp4                       every frame in step order (movie.gif where no MP4 encoder works)
    clip.mp4                        a clip's run: the learnt clip beside the original, one frame per
                                    moment of the clip (clip.gif where no MP4 encoder works)
    clip_counts.json                a clip's run: {"step", "moments": [{"frame", "t", "exact_regions"}]}
    weights.bin                     the network at every recorded step: float32 little-endian, step
                                    after step, each in the websocket's flat layout (docs/protocol.md)
    weights.json                    what weights.bin holds: steps, widths, out_dim, negative_slope, slopes,
                                    bytes per step, a classifier's class colours
    summary.json                    a sweep run's final losses and counts, written last: it finished

``train`` writes config, checkpoint, metrics, frames and view, a movie with ``--movie``, the
checkpoints with ``--checkpoint-every`` and the clip's two files when it learns a clip. A sweep's
run writes config, checkpoint, metrics, the weight history and its summary, frames with
``--frames`` and a movie with ``--movie``.

Resuming: a run resumed from the checkpoint in its own folder continues the folder: metrics.jsonl
and frames/ grow, training time (``elapsed_s``) carries on from the last record, and the movie is
written again from all frames at the end. Recorded anywhere else, a run starts the folder afresh:
the frames and metrics of an earlier run there are removed first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.network import flat_size, flat_weights, slope_fields
from ..core.settings import RunConfig, ViewSettings
from ..core.training import Trainer, TrainingDiverged
from .clipmovie import count_range, write_clip_movie
from .movie import MovieWriter, write_movie
from .recording import RunRecorder, train_and_record

CONFIG, CHECKPOINT, METRICS, VIEW = "config.json", "checkpoint.pt", "metrics.jsonl", "view.json"
FRAMES, CHECKPOINTS = "frames", "checkpoints"
MOVIE, CLIP, CLIP_COUNTS = "movie.mp4", "clip.mp4", "clip_counts.json"
WEIGHTS, WEIGHTS_INDEX, SUMMARY = "weights.bin", "weights.json", "summary.json"
FRAME_NAME, STEP_CHECKPOINT_NAME = "frame_{step:06d}.png", "checkpoint_{step:06d}.pt"
_FRAME_RE = re.compile(r"^frame_(\d+)\.png$")


@dataclass(frozen=True)
class Recording:
    """How a run is recorded: its length and what it writes besides config, checkpoint and metrics."""

    steps: int  # optimiser steps from the trainer's current step
    frame_every: int  # a record (and a frame) at every multiple of this step, at the start and at the end
    view: ViewSettings  # how frames are drawn, and the grid their region count is taken on
    pictures: bool = True  # frame PNGs (a sweep's runs: with --frames or --movie)
    movie: bool = False
    fps: float = 10.0
    checkpoint_every: int | None = None  # also checkpoints/checkpoint_STEP.pt at every multiple
    weight_history: bool = False  # weights.bin and weights.json (a sweep's runs)
    keep_view: bool = True  # view.json, so --resume draws alike (a sweep's runs keep none)
    drawer: str = "thread"  # output/recording.py: "process" draws beside training, not in turn


@dataclass
class RunOutcome:
    """How a recorded run ended and what it wrote."""

    finished: bool  # every step trained (False: stopped, interrupted or diverged)
    diverged: str | None = None  # TrainingDiverged's message: the trainer is back at its last frame
    interrupted: bool = False  # a KeyboardInterrupt cut training short (the files are still written)
    last: dict = field(default_factory=dict)  # the last metric record (over the fields of earlier ones)
    written: list[str] = field(default_factory=list)  # the outputs, as named in the folder ("frames/", ...)
    movie: Path | None = None
    clip: Path | None = None
    clip_regions: tuple[int, int] | None = None  # fewest and most exact regions over the clip's moments


class RunFolder:
    """One run's folder: the path of each of its files, reading and writing them, recording a run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def of_checkpoint(cls, checkpoint: str | Path) -> RunFolder:
        """The folder a checkpoint.pt lies in."""
        return cls(Path(checkpoint).parent)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- where each file is ------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def view_path(self) -> Path:
        return self.path / VIEW

    @property
    def frames_dir(self) -> Path:
        return self.path / FRAMES

    @property
    def movie_path(self) -> Path:
        return self.path / MOVIE

    @property
    def clip_path(self) -> Path:
        return self.path / CLIP

    @property
    def clip_counts_path(self) -> Path:
        return self.path / CLIP_COUNTS

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS

    @property
    def weights_index_path(self) -> Path:
        return self.path / WEIGHTS_INDEX

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY

    def frame_path(self, step: int) -> Path:
        return self.frames_dir / FRAME_NAME.format(step=step)

    def step_checkpoint_path(self, step: int) -> Path:
        return self.path / CHECKPOINTS / STEP_CHECKPOINT_NAME.format(step=step)

    def frame_paths(self) -> list[Path]:
        """All frames in the folder, in step order (names sort wrongly past 999,999 steps)."""
        if not self.frames_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.frames_dir.iterdir() if (m := _FRAME_RE.match(p.name))]
        return [p for _, p in sorted(found)]

    # -- reading -----------------------------------------------------------------------------

    def is_run(self) -> bool:
        """Whether a run was started here (its config.json is written first)."""
        return self.config_path.is_file()

    def finished(self) -> bool:
        """Whether a sweep's run here ended (its summary.json is written last)."""
        return self.summary_path.is_file()

    def holds(self, checkpoint: str | Path) -> bool:
        """Whether ``checkpoint`` lies in this folder: resuming from it continues the folder."""
        return Path(checkpoint).resolve().parent == self.path.resolve()

    def metrics(self) -> list[dict]:
        """metrics.jsonl's records, in step order, less a last line cut short by a killed run."""
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def elapsed_at(self, step: int) -> float:
        """Training time already spent by ``step``, by the metric records (0 when there are none)."""
        elapsed = 0.0
        if self.metrics_path.exists():
            for record in self.metrics():
                if record.get("step", -1) <= step:
                    elapsed = float(record.get("elapsed_s", elapsed))
        return elapsed

    def config(self) -> dict:
        """config.json as written (a dict: the catalog lists it as it is)."""
        return json.loads(self.config_path.read_text())

    def saved_view(self) -> dict | None:
        """view.json's settings, or None where the run kept none."""
        return json.loads(self.view_path.read_text()) if self.view_path.is_file() else None

    def summary(self) -> dict | None:
        return json.loads(self.summary_path.read_text()) if self.summary_path.is_file() else None

    def weights_index(self) -> dict:
        return json.loads(self.weights_index_path.read_text())

    # -- writing -----------------------------------------------------------------------------

    def write_config(self, config: RunConfig) -> None:
        self.config_path.write_text(config.model_dump_json(indent=2) + "\n")

    def write_view(self, view: ViewSettings) -> None:
        self.view_path.write_text(view.model_dump_json(indent=2) + "\n")

    def write_summary(self, summary: dict) -> None:
        self.summary_path.write_text(json.dumps(summary, indent=2) + "\n")

    def forget_summary(self) -> None:
        """A run done again is unfinished until it ends again."""
        self.summary_path.unlink(missing_ok=True)

    def save_checkpoint(self, trainer: Trainer) -> Path:
        return trainer.save(self.checkpoint_path)

    def save_step_checkpoint(self, trainer: Trainer) -> Path:
        return trainer.save(self.step_checkpoint_path(trainer.step_count))

    def write_clip_counts(self, step: int, moments: list[dict]) -> None:
        self.clip_counts_path.write_text(json.dumps({"step": step, "moments": moments}, indent=1) + "\n")

    def write_weights_index(self, trainer: Trainer, steps: list[int]) -> None:
        config = trainer.config
        index = {
            "steps": steps,
            "widths": config.widths,
            "out_dim": trainer.out_dim,  # a classifier's: its picture's class count (config.out_dim is the most)
            **slope_fields(trainer.model),  # "negative_slope", and "slopes": one per hidden layer
            "bytes_per_step": flat_size(config.widths, trainer.out_dim),
            # a classifier's class colours: the Compare page draws its scores as a class map
            "classes": trainer.classes.css_colors() if trainer.classes is not None else None,
            "layout": "float32 little-endian; per layer (hidden layers, then output): W (out x in, row-major), then b",
        }
        self.weights_index_path.write_text(json.dumps(index) + "\n")

    def start(self, fresh: bool, pictures: bool) -> None:
        """Make the folder (and frames/ for pictures); ``fresh``: remove an earlier run's frames and
        metrics (other files are replaced as the run writes them)."""
        (self.frames_dir if pictures else self.path).mkdir(parents=True, exist_ok=True)
        if fresh:
            for old in self.frame_paths():
                old.unlink()
            self.metrics_path.unlink(missing_ok=True)

    # -- recording a run ---------------------------------------------------------------------

    def record(
        self,
        trainer: Trainer,
        recording: Recording,
        resumed_from: str | Path | None = None,
        on_progress: Callable[[int, dict | None], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> RunOutcome:
        """Train ``recording.steps`` more steps and record them here: config (and view), metrics and
        frames as training goes, the checkpoint (also when training stops early, diverges or is
        interrupted), then the movie and a clip's outputs. ``resumed_from``: the checkpoint the
        trainer was rebuilt from; from this folder's own, the run continues it (see the module's
        text). ``on_progress`` and ``should_stop`` are train_and_record's (output/recording.py)."""
        continuing = resumed_from is not None and self.holds(resumed_from)
        self.start(fresh=not continuing, pictures=recording.pictures)
        # A fresh run's movie is encoded frame by frame as the frames are drawn; a continued one also
        # needs the frames already in the folder, so it is written from the PNGs at the end.
        streamed = MovieWriter(self.movie_path, fps=recording.fps) if recording.movie and not continuing else None
        history = _WeightHistory(self) if recording.weight_history else None
        recorder = RunRecorder(self, trainer, recording.view, pictures=recording.pictures, drawer=recording.drawer,
                               movie=streamed, on_record=history.add if history else None)
        self.write_config(trainer.config)
        if recording.keep_view:
            self.write_view(recording.view)
        start = trainer.step_count
        outcome = RunOutcome(finished=False)

        def progress(n: int, record: dict | None) -> None:
            if record is not None:
                outcome.last.update(record)
            if on_progress is not None:
                on_progress(n, record)

        try:
            try:
                outcome.finished = train_and_record(
                    trainer, recorder, recording.steps, recording.frame_every,
                    elapsed_s=self.elapsed_at(start) if continuing else 0.0,
                    record_start=not self.frame_path(start).exists(),
                    on_progress=progress, should_stop=should_stop,
                    checkpoint_every=recording.checkpoint_every, save_checkpoint=self.save_step_checkpoint,
                )  # fmt: skip
            except TrainingDiverged as exc:
                outcome.diverged = str(exc)
            except KeyboardInterrupt:  # e.g. a second Ctrl-C: still keep what was done
                outcome.interrupted = True
            finally:
                recorder.close()
        finally:
            self.save_checkpoint(trainer)
            if history is not None:
                history.close(trainer)
        outcome.written = [FRAMES + "/"] if recording.pictures else []
        outcome.written += [METRICS, CHECKPOINT, CONFIG] + ([VIEW] if recording.keep_view else [])
        if recording.movie:
            frames = self.frame_paths()
            outcome.movie = recorder.movie_path or (write_movie(frames, self.movie_path, fps=recording.fps)
                                                    if frames else None)
        if history is not None:
            outcome.written += [WEIGHTS, WEIGHTS_INDEX]
        if outcome.movie is not None:
            outcome.written.append(outcome.movie.name)
        if trainer.target.frame_count > 1:  # the learnt clip beside the original, the partition over t
            outcome.clip, moments = write_clip_movie(trainer, self.clip_path, recording.view)
            self.write_clip_counts(trainer.step_count, moments)
            outcome.clip_regions = count_range(moments)
            outcome.written += [outcome.clip.name, CLIP_COUNTS]
        return outcome


class _WeightHistory:
    """weights.bin, appended at every recorded step, and weights.json, written when it closes."""

    def __init__(self, folder: RunFolder):
        self.folder = folder
        self.file = folder.weights_path.open("wb")
        self.steps: list[int] = []

    def add(self, trainer: Trainer) -> None:
        self.file.write(flat_weights(trainer.model))
        self.steps.append(int(trainer.step_count))

    def close(self, trainer: Trainer) -> None:
        self.file.close()
        self.folder.write_weights_index(trainer, self.steps)
