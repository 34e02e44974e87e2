"""Row 8: sweep throughput, the local engine against Ray on this machine, and Ray's cost per run.

The mini grid of the issue (2 architectures x 2 seeds, the same steps each) is run into fresh
folders by the local engine (one process per run, all cores) and by the Ray engine on a local
Ray started for the measurement (all cores; its start-up is timed apart). Ray's per-run
overhead is the difference of the two walls divided by the runs (task dispatch, the run folder
packed, sent back and unpacked), and, apart, what a run of 0 steps costs on each engine.

    .venv/bin/python benchmarks/sweeps.py [--steps 600]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from polytope_lens.sweeps.driver import run_sweep
from polytope_lens.sweeps.engines import LocalEngine, RayEngine
from polytope_lens.sweeps.plan import build_plan

GRID = {"image": "ring", "layers": ["14x6", "10x10,2,10x3"], "seed": [0, 1], "frame_every": 100, "resolution": 256}


def _timed_sweep(settings: dict, engine) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as out:
        t0 = time.perf_counter()
        outcome = run_sweep(build_plan(settings), Path(out), engine)
        wall = time.perf_counter() - t0
    if outcome.failed:
        raise RuntimeError(f"{outcome.failed} benchmark runs failed")
    return wall


def run(steps: int = 600, log=lambda message: None) -> dict:
    """Walls of the mini grid on both engines, runs per hour, Ray's start-up and per-run overhead."""
    import ray

    cores = os.cpu_count() or 1
    grid = {**GRID, "steps": steps}
    empty = {**GRID, "steps": 0}
    runs = len(build_plan(grid).runs)
    log(f"  local engine: {runs} runs of {steps} steps, {cores} at once")
    local_s = _timed_sweep(grid, LocalEngine(cores))
    local_empty_s = _timed_sweep(empty, LocalEngine(cores))
    t0 = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024 * 1024)
    ray_start_s = time.perf_counter() - t0
    try:
        log(f"  ray engine (local Ray, started in {ray_start_s:.1f} s)")
        ray_s = _timed_sweep(grid, RayEngine())
        ray_empty_s = _timed_sweep(empty, RayEngine())
    finally:
        ray.shutdown()
    result = {
        "runs": runs, "steps": steps, "cores": cores,
        "local_s": local_s, "ray_s": ray_s, "ray_start_s": ray_start_s,
        "local_runs_per_hour": runs * 3600 / local_s, "ray_runs_per_hour": runs * 3600 / ray_s,
        "ray_overhead_per_run_s": (ray_s - local_s) / runs,
        "local_empty_run_s": local_empty_s / runs, "ray_empty_run_s": ray_empty_s / runs,
    }
    log(f"  local {local_s:.1f} s, ray {ray_s:.1f} s for {runs} runs")
    return result


def rows(r: dict, fmt_s) -> list[tuple]:
    """Row 8 of run_all's table."""
    return [
        ("8", f"sweep of {r['runs']} runs x {r['steps']} steps (14x6, 10x10,2,10x3 x 2 seeds): runs/hour, Ray-local vs local",
         f"{r['ray_runs_per_hour']:.0f}", f"{r['local_runs_per_hour']:.0f}", f"{r['ray_runs_per_hour'] / r['local_runs_per_hour']:.2f}", "", ""),
        ("8", "Ray per-run overhead (wall difference / runs); Ray start-up apart", fmt_s(max(0.0, r["ray_overhead_per_run_s"])),
         f"start {fmt_s(r['ray_start_s'])}", "", "", ""),
        ("8", "a run of 0 steps, Ray-local vs local (start, record, send back)", fmt_s(r["ray_empty_run_s"]),
         fmt_s(r["local_empty_run_s"]), f"{r['ray_empty_run_s'] / r['local_empty_run_s']:.2f}", "", ""),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="sweep throughput: local engine vs Ray-local")
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    figures = run(args.steps, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(figures, indent=1))
