"""The benchmark code still runs (no timing assertions: see benchmarks/run_all.py for figures)."""

from __future__ import annotations

import sys

import pytest
import torch

from conftest import REPO_ROOT
from polytope_lens.core.model import build_mlp

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import exact_partition  # noqa: E402
import frames  # noqa: E402
import run_all  # noqa: E402


def test_frame_benchmark_runs_and_draws_the_same_picture():
    model = build_mlp([8, 8], generator=torch.Generator().manual_seed(0))
    row = frames.bench_frame(model, 64, repeats=1)
    assert row["same_picture"]
    assert row["resolution"] == 64 and row["regions"] > 1
    assert row["naive_s"] > 0 and row["project_s"] > 0 and row["ratio"] > 0
    assert row["frame_bytes"] > 64 * 64  # prediction bytes + boundary bits + header


def test_frame_benchmark_trains_on_the_ring():
    rows = frames.run(nets=["4x2"], resolutions=[32], steps=5, repeats=1, log=lambda *_: None)
    assert len(rows) == 1 and rows[0]["net"] == "4x2" and rows[0]["same_picture"]


def test_table_lines_up():
    text = run_all.table([("1", "frame", "1.0 ms", "5.0 ms", "5.0x", ">= 5x", "yes")])
    lines = text.splitlines()
    assert len(lines) == 3 and len({len(line.rstrip()) for line in lines[:2]}) <= 2
    assert "measurement" in lines[0] and "5.0x" in lines[2]


def test_exact_benchmark_counts_at_least_what_the_grid_sees():
    rows = exact_partition.run([("smoke-6x2", [6, 6], 20, 1.0)], runs=1, retrain=True, log=lambda *_: None)
    (row,) = rows
    assert row["net"] == "smoke-6x2" and row["trained_steps"] == 20
    assert row["regions"] >= row["grid_regions"] > 1
    assert row["exact_s"] > 0 and row["grid_s"] > 0


@pytest.mark.browser
def test_browser_renderer_benchmark_runs():
    """benchmarks/browser_renderer.py still runs (a tiny case; no timing assertions). Here, not beside
    the renderer tests: it starts its own Playwright, which cannot run inside another one."""
    import browser_renderer

    (row,) = browser_renderer.run(["4x2"], [32], seconds=0.05)
    assert row["net"] == "4x2" and row["form"] == "unrolled" and row["fps"] > 0 and row["compose_ms"] > 0
