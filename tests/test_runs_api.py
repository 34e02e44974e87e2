"""GET /api/runs and /api/runs/{id}/... of `serve --runs DIR` against a real server, and region churn."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from live_server import running_server

from polytope_lens.sweeps.churn import churn_series
from polytope_lens.web.app import create_app
from polytope_lens.web.config import Settings


@pytest.fixture(scope="module")
def sweep_dir(mini_sweep):
    return mini_sweep  # tests/conftest.py: one per run


@pytest.fixture(scope="module")
def http(sweep_dir):
    with running_server(runs_dir=sweep_dir) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def test_runs_index_and_files(http, sweep_dir):
    listing = http.get("/api/runs").json()
    assert listing["folder"] == sweep_dir.name
    assert {r["id"] for r in listing["runs"]} == {"4x2_seed0", "4x2_seed1", "6x3_seed0", "6x3_seed1"}
    on_disk = {r["id"]: r for r in json.loads((sweep_dir / "sweep.json").read_text())["runs"]}
    for run in listing["runs"]:
        assert run == on_disk[run["id"]]
    assert http.get("/api/runs/6x3_seed1").json()["config"]["layers"] == "6x3"

    records = http.get("/api/runs/6x3_seed1/metrics").json()["records"]
    assert [r["step"] for r in records] == [0, 50, 100, 150, 200]
    assert records[-1]["val_loss"] == on_disk["6x3_seed1"]["summary"]["val_loss"]

    meta = http.get("/api/runs/6x3_seed1/weights").json()
    assert meta["steps"] == [0, 50, 100, 150, 200] and meta["widths"] == [6, 6, 6] and meta["out_dim"] == 1
    history = http.get("/api/runs/6x3_seed1/weights.bin")
    assert history.headers["content-type"] == "application/octet-stream"
    assert history.content == (sweep_dir / "6x3_seed1" / "weights.bin").read_bytes()
    assert len(history.content) == 5 * meta["bytes_per_step"]

    churn = http.get("/api/runs/6x3_seed1/churn").json()
    assert churn["steps"] == meta["steps"] and churn["churn"][0] is None
    assert all(0.0 <= c <= 1.0 for c in churn["churn"][1:]) and max(churn["churn"][1:]) > 0

    checkpoint = torch.load(io.BytesIO(http.get("/api/runs/4x2_seed0/checkpoint.pt").content), weights_only=True)
    assert checkpoint["step"] == 200


def test_unknown_runs_and_paths_are_404(http):
    response = http.get("/api/runs/nope/metrics")
    assert response.status_code == 404 and "nope" in response.json()["detail"]
    assert http.get("/api/runs/..%2F..%2Fetc/metrics").status_code == 404
    assert http.get("/compare").status_code == 200


def test_without_runs_folder_the_routes_say_how_to_get_one():
    client = TestClient(create_app(Settings()), base_url="http://127.0.0.1")
    response = client.get("/api/runs")
    assert response.status_code == 404 and "--runs" in response.json()["detail"]


def test_churn_is_zero_for_a_still_network_and_counts_changed_points():
    meta = {"steps": [0, 1, 2], "widths": [3], "out_dim": 1, "negative_slope": 0.0, "bytes_per_step": 4 * 13}
    still = np.array([1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0], "<f4")  # neurons on where x, y, x + y > 0
    moved = still.copy()
    moved[6] = 0.5  # the first neuron's line moves from x = 0 to x = -0.5
    series = churn_series(still.tobytes() * 2 + moved.tobytes(), meta)
    assert series[0] is None and series[1] == 0.0
    assert series[2] == pytest.approx(0.25, abs=0.02)  # the strip -0.5 < x < 0: a quarter of the square
