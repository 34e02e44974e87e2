"""A run folder (output/runfolder.py): the files a run writes there, reading them back, resuming."""

from __future__ import annotations

import json

import av
import pytest

from polytope_lens.core.clips import load_clip_or_picture
from polytope_lens.core.samples import sample_path
from polytope_lens.core.settings import RunConfig, ViewSettings
from polytope_lens.core.training import Trainer, read_checkpoint, trainer_from_checkpoint
from polytope_lens.core.network import flat_size, flat_weights
from polytope_lens.output.runfolder import Recording, RunFolder

SMALL = {"layers": "6x2", "train_points": 300, "val_points": 60, "batch_size": 300}
VIEW = ViewSettings(resolution=32)


def movie_frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def names(folder: RunFolder) -> set[str]:
    return {p.name for p in folder.path.iterdir()}


def steps(folder: RunFolder) -> list[int]:
    return [r["step"] for r in folder.metrics()]


@pytest.fixture
def trainer(ring_target):
    return Trainer(RunConfig(**SMALL), ring_target)


def test_a_train_run_writes_its_layout(tmp_path, trainer):
    folder = RunFolder(tmp_path / "run")
    outcome = folder.record(trainer, Recording(40, 20, VIEW, movie=True, checkpoint_every=30))
    assert outcome.finished and not outcome.diverged and not outcome.interrupted
    assert names(folder) == {"config.json", "checkpoint.pt", "checkpoints", "metrics.jsonl", "frames", "view.json",
                             "movie.mp4"}
    assert outcome.written == ["frames/", "metrics.jsonl", "checkpoint.pt", "config.json", "view.json", "movie.mp4"]
    assert [p.name for p in folder.frame_paths()] == ["frame_000000.png", "frame_000020.png", "frame_000040.png"]
    assert folder.frame_path(20) == folder.path / "frames" / "frame_000020.png"
    assert steps(folder) == [0, 20, 40] and outcome.last == folder.metrics()[-1]
    assert [r["frame"] for r in folder.metrics()] == [p.name for p in folder.frame_paths()]
    assert RunConfig.model_validate(folder.config()) == trainer.config
    assert ViewSettings.model_validate(folder.saved_view()) == VIEW
    assert read_checkpoint(folder.checkpoint_path)["step"] == 40
    assert [p.name for p in (folder.path / "checkpoints").iterdir()] == ["checkpoint_000030.pt"]
    assert folder.step_checkpoint_path(30).is_file()
    assert outcome.movie == folder.movie_path and movie_frames(folder.movie_path) == 3
    assert folder.is_run() and not folder.finished()  # a train run writes no summary


def test_a_sweep_run_keeps_its_weight_history_and_no_pictures(tmp_path, trainer):
    folder = RunFolder(tmp_path / "run")
    outcome = folder.record(trainer, Recording(40, 20, VIEW, pictures=False, weight_history=True, keep_view=False))
    assert names(folder) == {"config.json", "checkpoint.pt", "metrics.jsonl", "weights.bin", "weights.json"}
    assert outcome.written == ["metrics.jsonl", "checkpoint.pt", "config.json", "weights.bin", "weights.json"]
    index = folder.weights_index()
    assert index["steps"] == [0, 20, 40] and index["widths"] == [6, 6] and index["classes"] is None
    history = folder.weights_path.read_bytes()
    assert index["bytes_per_step"] == flat_size([6, 6], 1) and len(history) == 3 * index["bytes_per_step"]
    assert history[-index["bytes_per_step"]:] == flat_weights(trainer.model)
    assert all(r["frame"] is None for r in folder.metrics())
    folder.write_summary({"step": 40})
    assert folder.finished() and folder.summary() == {"step": 40}
    folder.forget_summary()
    assert not folder.finished() and folder.summary() is None


def test_resuming_in_its_own_folder_continues_metrics_frames_and_movie(tmp_path, trainer):
    folder = RunFolder(tmp_path / "run")
    folder.record(trainer, Recording(40, 20, VIEW, movie=True))
    elapsed = folder.metrics()[-1]["elapsed_s"]
    assert folder.holds(folder.checkpoint_path) and RunFolder.of_checkpoint(folder.checkpoint_path).path == folder.path

    resumed = trainer_from_checkpoint(folder.checkpoint_path, overrides={"lr": 1e-4})
    outcome = folder.record(resumed, Recording(30, 20, VIEW, movie=True), resumed_from=folder.checkpoint_path)
    assert outcome.finished
    assert steps(folder) == [0, 20, 40, 60, 70]  # the start (40) is drawn already: not again
    assert [p.name for p in folder.frame_paths()][-2:] == ["frame_000060.png", "frame_000070.png"]
    assert folder.metrics()[3]["elapsed_s"] >= elapsed  # training time carries on
    assert folder.elapsed_at(40) == elapsed
    assert movie_frames(folder.movie_path) == 5  # written again from every frame
    ckpt = read_checkpoint(folder.checkpoint_path)
    assert ckpt["step"] == 70 and ckpt["config"]["lr"] == 1e-4


def test_resuming_elsewhere_or_recording_again_starts_afresh(tmp_path, trainer):
    first = RunFolder(tmp_path / "first")
    first.record(trainer, Recording(40, 20, VIEW))
    other = RunFolder(tmp_path / "other")
    resumed = trainer_from_checkpoint(first.checkpoint_path)
    other.record(resumed, Recording(20, 20, VIEW), resumed_from=first.checkpoint_path)
    assert not other.holds(first.checkpoint_path)
    assert steps(other) == [40, 60] and other.metrics()[0]["elapsed_s"] == 0
    assert steps(first) == [0, 20, 40]  # the run it came from is untouched

    again = Trainer(RunConfig(**SMALL), trainer.target)  # a new run into a used folder replaces its records
    first.record(again, Recording(10, 10, VIEW))
    assert steps(first) == [0, 10] and [p.name for p in first.frame_paths()] == ["frame_000000.png", "frame_000010.png"]


def test_metrics_skip_a_line_cut_short(tmp_path):
    folder = RunFolder(tmp_path)
    folder.metrics_path.write_text('{"step": 0, "elapsed_s": 0.0}\n{"step": 10, "elapsed_s": 1.5}\n{"step": 2')
    assert steps(folder) == [0, 10]
    assert folder.elapsed_at(5) == 0.0 and folder.elapsed_at(10) == 1.5
    assert RunFolder(tmp_path / "none").elapsed_at(10) == 0.0 and not RunFolder(tmp_path / "none").is_run()


def test_a_clip_run_writes_the_clip_and_its_counts(tmp_path):
    target = load_clip_or_picture(sample_path("moving-disk"))
    trainer = Trainer(RunConfig(**SMALL), target)
    folder = RunFolder(tmp_path / "clip")
    outcome = folder.record(trainer, Recording(10, 10, VIEW))
    assert outcome.clip is not None and outcome.clip.stem == "clip" and outcome.clip.is_file()
    assert outcome.written[-2:] == [outcome.clip.name, "clip_counts.json"]
    counts = json.loads(folder.clip_counts_path.read_text())
    assert counts["step"] == 10 and len(counts["moments"]) == target.frame_count
    exact = [m["exact_regions"] for m in counts["moments"]]
    assert outcome.clip_regions == (min(exact), max(exact))
    assert movie_frames(outcome.clip) == target.frame_count
