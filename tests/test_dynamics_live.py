"""Issue 15 over a real server: GET /api/presets, the smoothing routes, and the dynamics fields of live frames."""

from __future__ import annotations

import httpx
import pytest
from live_server import SMALL_CONFIG, LiveClient
from PIL import Image
import io

from polytope_lens.core.model import count_parameters
from polytope_lens.core.settings import RunConfig


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server  # tests/conftest.py: one per test process


def test_presets_route_lists_full_configs(server):
    answer = httpx.get(f"{server}/api/presets", timeout=30)
    assert answer.status_code == 200
    presets = answer.json()
    ids = [p["id"] for p in presets]
    for needed in ("post-14x6", "post-bottleneck", "post-deep", "sawtooth", "sawtooth-shallow", "wide-shallow",
                   "narrow-deep", "lazy", "rich", "relu", "leaky"):
        assert needed in ids
    for p in presets:
        assert set(p["config"]) == set(RunConfig.model_fields)  # every setting: nothing inherited from the page
        RunConfig(**p["config"])
        assert p["name"] and p["description"].endswith(".")
        assert p["compare_with"] is None or p["compare_with"] in ids
    post = [p["config"] for p in presets if p["id"].startswith("post-")]
    assert {c["layers"] for c in post} == {"14x6", "10x10,2,10x3", "20x40"}
    assert all(c["image"] == "ring" and c["optimizer"] == "adam" and c["lr"] == 1e-3 and c["train_points"] == 5000
               and c["val_points"] == 1000 for c in post)
    by_id = {p["id"]: p for p in presets}
    shallow, deep = by_id["wide-shallow"]["config"], by_id["narrow-deep"]["config"]
    assert abs(count_parameters([int(shallow["layers"])]) - count_parameters([14] * 6)) < 5 and deep["layers"] == "14x6"
    assert by_id["sawtooth"]["config"]["init"] == "sawtooth" and by_id["sawtooth"]["steps"] == 0


def test_live_frames_carry_dynamics_and_the_baseline_answers(server):
    with LiveClient(server) as client:
        client.send("view", resolution=64)
        client.expect("status")
        client.send("configure", config={k: v for k, v in SMALL_CONFIG.items() if k != "resolution"})
        first = client.expect("frame")
        assert first["pattern_churn"] is None and first["pattern_churn_total"] == 0.0
        assert len(first["dead_neurons"]) == 3 and first["dead_neurons_source"] == "exact"
        assert first["dead_pattern"].count("|") == 2
        client.send("set", l2=0.01, l1=0.001)  # penalties change on the running network
        assert client.expect("status")["config"]["l2"] == 0.01
        client.send("step", n=20)
        frame = client.expect("frame", where=lambda f: f["step"] == 20)
        assert frame["churn_since_step"] == 0 and 0.0 < frame["pattern_churn"] <= 1.0
        assert frame["births_source"] == "exact"
        assert frame["region_births"] - frame["region_deaths"] == frame["exact_regions"] - first["exact_regions"]

        token = client.status["token"]
        base = httpx.get(f"{server}/api/sessions/{token}/smoothing", params={"sigma": 3}, timeout=30)
        assert base.status_code == 200
        body = base.json()
        assert body["sigma"] == 3 and 0 < body["val_loss"] < 0.2 and body["network_val_loss"] > 0
        png = httpx.get(f"{server}/api/sessions/{token}/smoothing.png", params={"size": 128}, timeout=30)
        assert png.status_code == 200 and Image.open(io.BytesIO(png.content)).size == (128, 128)
        bad = httpx.get(f"{server}/api/sessions/{token}/smoothing", params={"sigma": 0}, timeout=30)
        assert bad.status_code == 422 and "sigma" in bad.json()["detail"]
    assert httpx.get(f"{server}/api/sessions/nope/smoothing", timeout=30).status_code == 404


def test_sawtooth_over_the_websocket(server):
    with LiveClient(server) as client:
        client.send("view", resolution=64)
        client.expect("status")
        client.send("configure", config=dict(image="gradient", layers="2x5", init="sawtooth", train_points=100, val_points=20))
        frame = client.expect("frame")
        assert frame["exact_layer_counts"] == [2, 4, 8, 16, 32] and frame["regions"] == 32
        client.send("configure", config={"layers": "3x2", "init": "sawtooth"})
        error = client.expect("error")
        assert error["field"] == "init" and "2xL" in error["message"]
