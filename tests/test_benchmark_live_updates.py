"""benchmarks/live_updates.py still runs (one small ready experiment, a second of it; no timing
assertions: its figures are in docs/benchmarks.md)."""

from __future__ import annotations

import sys

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import live_updates  # noqa: E402
import run_all  # noqa: E402


def test_live_updates_counts_server_frames_of_a_ready_experiment():
    (row,) = live_updates.run(["rich"], seconds=1.5, warmup=0.5, bare_seconds=0.3, log=lambda *_: None)
    assert row["preset"] == "rich" and row["render"] == "server"
    assert row["resolution"] == 512  # 80 neurons: the view's own grid while it trains
    assert row["updates_per_s"] > 0 and row["steps_per_s"] > 0 and row["bare_steps_per_s"] > 0
    assert row["first_update_s"] is not None and row["longest_gap_s"] > 0
    (line,) = live_updates.rows([row], run_all.fmt_s)
    assert line[0] == "12" and "rich" in line[1] and line[5] == ">= 2/s" and line[6] in ("yes", "no")
