"""One run of a sweep, start to end, in whatever process an engine gives it.

It is the ``train`` command's pipeline (Trainer, RunRecorder, train_and_record), plus the
run's weight history for replay. A run folder holds::

    config.json, checkpoint.pt, metrics.jsonl    what ``polytope-lens train`` writes
    frames/, movie.mp4                           only with frames / movie
    weights.bin                                  the network at every recorded step: float32
                                                 little-endian, step after step, each in the
                                                 websocket's flat layout (docs/protocol.md)
    weights.json                                 steps, widths, out_dim, negative_slope, bytes per step
    summary.json                                 written last: the run finished

The task carries the picture's bytes, so a run needs no disk shared with the driver.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..core.images import load_target
from ..core.network import flat_size, flat_weights, shared_slope
from ..core.settings import RunConfig
from ..core.training import Trainer, TrainingDiverged
from ..output.movie import MovieWriter, write_movie
from ..output.recording import RunRecorder, train_and_record

WEIGHTS_BIN, WEIGHTS_INDEX, SUMMARY = "weights.bin", "weights.json", "summary.json"
SUMMARY_FIELDS = ("step", "train_loss", "val_loss", "regions", "exact_regions")


@dataclass(frozen=True)
class RunTask:
    """Everything a run needs, picklable (for a process or a Ray task)."""

    id: str
    config: dict  # RunConfig.model_dump()
    picture: bytes
    steps: int
    frame_every: int
    resolution: int
    frames: bool = False
    movie: bool = False
    device: str = "cpu"


class _HistoryRecorder(RunRecorder):
    """The recorder of ``train``, which also appends the network's weights at every recorded step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weights_file = (self.out_dir / WEIGHTS_BIN).open("wb")
        self.weight_steps: list[int] = []

    def record(self, trainer, elapsed_s):
        future = super().record(trainer, elapsed_s)  # raises TrainingDiverged before anything is kept
        self.weights_file.write(flat_weights(trainer.model))
        self.weight_steps.append(int(trainer.step_count))
        return future

    def close(self) -> None:
        super().close()
        self.weights_file.close()


def execute_run(task: RunTask, run_dir: str | Path) -> dict:
    """Train and record one run into ``run_dir``; returns its index entry's ``status``, ``summary``
    and ``error``. Never raises for a failing run: the failure is the answer."""
    run_dir = Path(run_dir)
    started = time.perf_counter()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / SUMMARY).unlink(missing_ok=True)  # a redone run is unfinished until it ends again
        config = RunConfig.model_validate(task.config)
        trainer = Trainer(config, load_target(task.picture, color=config.target_color), device=task.device)
        (run_dir / "config.json").write_text(config.model_dump_json(indent=2) + "\n")
        movie = MovieWriter(run_dir / "movie.mp4") if task.movie else None  # encoded as the frames are drawn
        recorder = _HistoryRecorder(run_dir, trainer, task.resolution, pictures=task.frames or task.movie, movie=movie)
        last: dict = {}

        def keep_last(_n: int, record: dict | None) -> None:
            if record is not None:
                last.update(record)

        try:
            train_and_record(trainer, recorder, task.steps, task.frame_every, on_progress=keep_last)
        finally:
            recorder.close()
            trainer.save(run_dir / "checkpoint.pt")
            _write_weight_index(run_dir, trainer, recorder.weight_steps)
        if task.movie and recorder.movie_path is None:  # no frame was drawn: write_movie says so
            write_movie(recorder.frame_paths(), run_dir / "movie.mp4")
        summary = {k: last.get(k) for k in SUMMARY_FIELDS}
        summary["train_s"] = last.get("elapsed_s")
        summary["wall_s"] = round(time.perf_counter() - started, 3)
        (run_dir / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
        return {"status": "done", "summary": summary, "error": None}
    except TrainingDiverged as exc:
        return _failed(str(exc), started)
    except Exception as exc:  # a failed run is recorded and the sweep goes on
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return _failed(detail, started)


def _failed(error: str, started: float) -> dict:
    return {"status": "failed", "summary": {"wall_s": round(time.perf_counter() - started, 3)}, "error": error}


def _write_weight_index(run_dir: Path, trainer, steps: list[int]) -> None:
    config = trainer.config
    index = {
        "steps": steps,
        "widths": config.widths,
        "out_dim": trainer.out_dim,  # a classifier's: its picture's class count (config.out_dim is the most)
        "negative_slope": shared_slope(trainer.model),
        "bytes_per_step": flat_size(config.widths, trainer.out_dim),
        # a classifier's class colours: the Compare page draws its scores as a class map
        "classes": trainer.classes.css_colors() if trainer.classes is not None else None,
        "layout": "float32 little-endian; per layer (hidden layers, then output): W (out x in, row-major), then b",
    }
    (run_dir / WEIGHTS_INDEX).write_text(json.dumps(index) + "\n")
