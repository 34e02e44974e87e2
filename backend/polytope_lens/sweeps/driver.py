"""The sweep driver: which runs still need doing, handing them to an engine, keeping sweep.json.

Resuming: a run whose entry says ``done`` with the same settings and whose folder says it
finished (its summary is there: output/runfolder.py) is skipped; every other planned run (pending, failed, changed, or missing
its folder) is run again. Entries of runs no longer in the plan stay in the index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..core.samples import sample_path
from .index import read_index, write_index
from .plan import PlanError, SweepPlan
from ..output.runfolder import RunFolder
from .runner import RunTask


@dataclass
class SweepOutcome:
    done: int = 0
    failed: int = 0
    skipped: int = 0


def picture_bytes(name: str) -> bytes:
    """The picture file's bytes; a name that is no file but a sample id reads the sample."""
    path = Path(name)
    if not path.is_file():
        sample = sample_path(name)
        if sample is None:
            raise PlanError(f"image: no such picture file or sample id: {name}")
        path = Path(sample)
    return path.read_bytes()


def _entry(run, length) -> dict:
    return {"id": run.id, "config": run.config.model_dump(), "length": asdict(length),
            "status": "pending", "summary": None, "error": None}


def _finished(entry: dict | None, wanted: dict, run_dir: Path) -> bool:
    return (entry is not None and entry.get("status") == "done" and entry.get("config") == wanted["config"]
            and entry.get("length") == wanted["length"] and RunFolder(run_dir).finished())


def run_sweep(
    plan: SweepPlan,
    out_dir: str | Path,
    engine,
    device: str = "cpu",
    on_start: Callable[[int, int], None] | None = None,
    on_result: Callable[[str, dict], None] | None = None,
) -> SweepOutcome:
    """Run the plan's unfinished runs on ``engine`` into ``out_dir``, recording each in sweep.json
    as it ends. ``on_start(to_run, skipped)`` is called once, ``on_result(id, result)`` per run."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = {entry.get("id"): entry for entry in read_index(out_dir)}
    planned_ids = {run.id for run in plan.runs}
    entries = {key: value for key, value in previous.items() if key not in planned_ids}  # other plans' runs stay
    to_run, outcome = [], SweepOutcome()
    for run in plan.runs:
        wanted = _entry(run, plan.length)
        if _finished(previous.get(run.id), wanted, out_dir / run.id):
            entries[run.id] = previous[run.id]
            outcome.skipped += 1
        else:
            entries[run.id] = wanted
            to_run.append(run)
    write_index(out_dir, list(entries.values()))
    if on_start:
        on_start(len(to_run), outcome.skipped)

    pictures = {name: picture_bytes(name) for name in sorted({run.config.image for run in to_run})}
    length = plan.length
    tasks = [RunTask(run.id, run.config.model_dump(), pictures[run.config.image], length.steps,
                     length.frame_every, length.resolution, length.frames, length.movie, device) for run in to_run]
    for run_id, result in engine.run(tasks, out_dir):
        entries[run_id].update(status=result["status"], summary=result.get("summary"), error=result.get("error"))
        if result["status"] == "done":
            outcome.done += 1
        else:
            outcome.failed += 1
        write_index(out_dir, list(entries.values()))
        if on_result:
            on_result(run_id, result)
    return outcome
