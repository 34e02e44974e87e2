"""A mini sweep folder for the runs API and compare-page tests: 2 architectures x 2 seeds, 200 steps."""

from __future__ import annotations

from pathlib import Path

from polytope_lens.sweeps.driver import run_sweep
from polytope_lens.sweeps.engines import LocalEngine
from polytope_lens.sweeps.plan import build_plan

MINI_SETTINGS = {"image": "ring", "layers": ["4x2", "6x3"], "seed": [0, 1], "steps": 200, "frame_every": 50,
                 "resolution": 32, "train_points": 800, "val_points": 200}


def make_mini_sweep(out: Path) -> Path:
    return run_sweep_of(out, MINI_SETTINGS)


def run_sweep_of(out: Path, settings: dict) -> Path:
    """Run the sweep of ``settings`` into ``out``; every run must finish."""
    plan = build_plan(settings)
    outcome = run_sweep(plan, out, LocalEngine(jobs=2))
    assert outcome.done == len(plan.runs), outcome
    return out
