"""One run of a sweep, start to end, in whatever process an engine gives it.

It records a trainer into the run's folder as ``polytope-lens train`` does (output/runfolder.py's
RunFolder, which also lists the folder's files), plus the weight history for replay and, last, the
summary that marks the run finished. The task carries the picture's bytes, so a run needs no disk
shared with the driver.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..core.images import load_target
from ..core.settings import RunConfig, ViewSettings
from ..core.training import Trainer
from ..output.runfolder import Recording, RunFolder

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


def execute_run(task: RunTask, run_dir: str | Path) -> dict:
    """Train and record one run into ``run_dir``; returns its index entry's ``status``, ``summary``
    and ``error``. Never raises for a failing run: the failure is the answer."""
    folder = RunFolder(run_dir)
    started = time.perf_counter()
    try:
        folder.path.mkdir(parents=True, exist_ok=True)
        folder.forget_summary()  # a redone run is unfinished until it ends again
        config = RunConfig.model_validate(task.config)
        trainer = Trainer(config, load_target(task.picture, color=config.target_color), device=task.device)
        recording = Recording(task.steps, task.frame_every, ViewSettings(resolution=task.resolution),
                              pictures=task.frames or task.movie, movie=task.movie, weight_history=True,
                              keep_view=False)
        outcome = folder.record(trainer, recording)
        if outcome.interrupted:  # Ctrl-C reached this run: the sweep is being stopped, not this run failing
            raise KeyboardInterrupt
        if outcome.diverged:
            return _failed(outcome.diverged, started)
        last = outcome.last
        summary = {k: last.get(k) for k in SUMMARY_FIELDS}
        summary["train_s"] = last.get("elapsed_s")
        summary["wall_s"] = round(time.perf_counter() - started, 3)
        folder.write_summary(summary)
        return {"status": "done", "summary": summary, "error": None}
    except Exception as exc:  # a failed run is recorded and the sweep goes on
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return _failed(detail, started)


def _failed(error: str, started: float) -> dict:
    return {"status": "failed", "summary": {"wall_s": round(time.perf_counter() - started, 3)}, "error": error}
