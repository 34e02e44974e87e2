"""polytope-lens sweep with the local engine: the grid, run folders, sweep.json, failures, resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from polytope_lens.cli import main
from polytope_lens.core.settings import RunConfig
from polytope_lens.core.training import load_checkpoint_model
from polytope_lens.core.network import flat_weights
from polytope_lens.sweeps.plan import PlanError, build_plan, read_toml

SCRIPT = Path(sys.executable).with_name("polytope-lens")
# The mini sweep of the issue: 2 architectures x 2 seeds x 200 steps (small grid, few points).
MINI = ["ring", "--layers", "4x2", "6x3", "--seeds", "0", "1", "--steps", "200", "--frame-every", "100",
        "--resolution", "32", "--train-points", "800", "--val-points", "200"]
MINI_IDS = {"4x2_seed0", "4x2_seed1", "6x3_seed0", "6x3_seed1"}
ENTRY_KEYS = {"id", "config", "length", "status", "summary", "error"}
SUMMARY_KEYS = {"step", "train_loss", "val_loss", "regions", "exact_regions", "train_s", "wall_s"}


def index(out: Path) -> dict:
    return json.loads((out / "sweep.json").read_text())


def test_plan_grid_ids_and_errors(tmp_path):
    plan = build_plan({"image": ["ring"], "layers": ["14x6", "10x10,2,10x3"], "seed": [0, 1], "lr": [1e-3, 3e-3]})
    assert len(plan.runs) == 8
    assert plan.runs[0].id == "14x6_seed0_lr0.001"
    assert "10x10-2-10x3_seed1_lr0.003" in {r.id for r in plan.runs}
    assert plan.runs[-1].config == RunConfig(image="ring", layers="10x10,2,10x3", seed=1, lr=3e-3)
    with pytest.raises(PlanError, match="lr"):
        build_plan({"image": "ring", "lr": [0.001, -1.0]})
    with pytest.raises(PlanError, match="picture"):
        build_plan({"layers": ["4x2"]})
    with pytest.raises(PlanError, match="steps: one value"):
        build_plan({"image": "ring", "steps": [100, 200]})

    toml = tmp_path / "sweep.toml"
    toml.write_text('pictures = ["ring", "disk"]\nlayers = ["14x6", "20x40"]\nseed = [0, 1, 2]\nsteps = 300\n')
    plan = build_plan(read_toml(toml))
    assert len(plan.runs) == 12 and plan.length.steps == 300
    assert plan.runs[0].id == "ring_14x6_seed0"
    toml.write_text('pictures = "ring"\nlearning_rate = 0.1\n')
    with pytest.raises(PlanError, match="unknown setting.*learning_rate"):
        read_toml(toml)


def test_mini_sweep_writes_runs_and_index(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", *MINI, "--out", str(out), "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "4 runs" in printed and "4 done, 0 failed, 0 skipped" in printed

    data = index(out)
    assert data["format"] == "polytope-lens-sweep/1"
    assert {r["id"] for r in data["runs"]} == MINI_IDS
    for run in data["runs"]:
        assert set(run) == ENTRY_KEYS and run["status"] == "done" and run["error"] is None
        assert set(run["summary"]) == SUMMARY_KEYS and run["summary"]["step"] == 200
        assert run["summary"]["exact_regions"] >= run["summary"]["regions"] > 1
        assert run["length"]["steps"] == 200
        folder = out / run["id"]
        assert RunConfig.model_validate(run["config"]) == RunConfig.model_validate_json((folder / "config.json").read_text())
        records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in records] == [0, 100, 200]
        assert records[-1]["val_loss"] == run["summary"]["val_loss"]
        assert not (folder / "frames").exists()  # frames are optional
        # The weight history: one flat network per recorded step; the last one is the checkpoint's.
        meta = json.loads((folder / "weights.json").read_text())
        assert meta["steps"] == [0, 100, 200]
        history = (folder / "weights.bin").read_bytes()
        assert len(history) == 3 * meta["bytes_per_step"]
        model, _, step = load_checkpoint_model(folder / "checkpoint.pt")
        assert step == 200 and history[-meta["bytes_per_step"]:] == flat_weights(model)
        assert not np.array_equal(np.frombuffer(history[: meta["bytes_per_step"]], "<f4"),
                                  np.frombuffer(history[-meta["bytes_per_step"]:], "<f4"))

    # The same command again trains nothing.
    assert main(["sweep", *MINI, "--out", str(out), "--quiet"]) == 0
    assert index(out) == data


def test_failed_run_is_recorded_and_the_rest_go_on(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture at all")
    out = tmp_path / "sweep"
    args = ["sweep", "ring", str(broken), "--layers", "4x2", "--steps", "20", "--frame-every", "10",
            "--resolution", "16", "--train-points", "200", "--val-points", "50", "--out", str(out), "--jobs", "1"]
    assert main(args) == 1
    runs = {r["id"]: r for r in index(out)["runs"]}
    assert runs["ring_4x2_seed0"]["status"] == "done"
    failed = runs["broken_4x2_seed0"]
    assert failed["status"] == "failed" and "picture" in failed["error"].lower()
    assert "broken_4x2_seed0 failed" in capsys.readouterr().out
    assert main(["sweep", "ring", "--layers", "4x2", "--out", str(tmp_path / "x"), "--lr", "-1"]) == 2


def test_killed_sweep_resumes_without_redoing_finished_runs(tmp_path):
    out = tmp_path / "sweep"
    args = [str(SCRIPT), "sweep", "ring", "--layers", "4x2", "6x2", "--seed", "0", "1", "--steps", "800",
            "--frame-every", "400", "--resolution", "16", "--train-points", "500", "--val-points", "100",
            "--out", str(out), "--jobs", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(args, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        done: list[str] = []
        while not done and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if (out / "sweep.json").is_file():
                done = [r["id"] for r in index(out)["runs"] if r["status"] == "done"]
        assert done, "no run finished"
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker processes, mid-sweep
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = {r["id"]: r for r in index(out)["runs"]}
    finished = {k for k, r in before.items() if r["status"] == "done"}
    assert finished and len(finished) < 4, "the sweep should have been cut off mid-way"
    stamps = {k: (out / k / "summary.json").stat().st_mtime_ns for k in finished}

    result = subprocess.run(args[:-1], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{len(finished)} finished already, {4 - len(finished)} to train" in result.stdout
    after = {r["id"]: r for r in index(out)["runs"]}
    assert all(r["status"] == "done" for r in after.values())
    for run_id in finished:  # untouched: neither retrained nor rewritten
        assert (out / run_id / "summary.json").stat().st_mtime_ns == stamps[run_id]
        assert after[run_id] == before[run_id]
