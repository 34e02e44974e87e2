"""The client renderer's server side: weights on the wire, measured fields, the weight history."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from live_server import SMALL_CONFIG, LiveClient

from polytope_lens.core.history import WeightHistory
from polytope_lens.core.model import build_mlp, count_parameters
from polytope_lens.core.network import FrozenNetwork, flat_size, flat_weights


def test_flat_weights_round_trip_in_the_documented_layout():
    model = build_mlp([5, 3], out_dim=3, activation="leaky_relu", negative_slope=0.2,
                      generator=torch.Generator().manual_seed(1))
    data = flat_weights(model)
    assert len(data) == flat_size([5, 3], 3) == 4 * count_parameters([5, 3], out_dim=3)
    values = np.frombuffer(data, "<f4")
    W1, b1 = (t.detach().numpy() for t in next(iter(model.affine_layers())))
    assert np.array_equal(values[:10].reshape(5, 2), W1) and np.array_equal(values[10:15], b1)  # W row-major, then b
    again = FrozenNetwork.from_flat(data, [5, 3], 3, 0.2)
    for (W, b), (W2, b2) in zip(model.affine_layers(), again.affine_layers()):
        assert np.array_equal(W.detach().numpy(), W2) and np.array_equal(b.detach().numpy(), b2)
    with pytest.raises(ValueError):
        FrozenNetwork.from_flat(data[:-4], [5, 3], 3, 0.2)


def test_history_is_bounded_thinned_evenly_and_keeps_the_newest():
    history = WeightHistory(max_bytes=100 * 10)
    for step in range(0, 1000, 5):
        history.add(step, bytes(10))
    steps = history.steps()
    assert history.nbytes <= 1000 and steps[-1] == 995 and steps[0] == 0
    gaps = np.diff(steps[:-1])
    assert gaps.min() == gaps.max()  # evenly spread over the run
    assert history.get(995) is not None and history.get(996) is None
    history.add(500, bytes(10))  # a reset went back: what came after it is forgotten
    assert history.steps()[-1] == 500


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server  # tests/conftest.py: one per test process


def test_client_mode_sends_weights_small_enough_and_keeps_the_history(server):
    with LiveClient(server) as client:
        client.send("view", render="client")
        status = client.configure(**SMALL_CONFIG)
        assert status["view"]["render"] == "client"
        frame = client.frames[-1]
        widths, out_dim = [8, 8, 8], 1
        params = count_parameters(widths, out_dim=out_dim)
        assert frame["render"] == "client" and frame["widths"] == widths and frame["out_dim"] == out_dim
        assert set(client.sections) == {"weights"} and len(client.sections["weights"]) == 4 * params
        assert frame["_bytes"] <= 4 * params + 2048
        assert frame["measured_step"] == frame["step"] == 0 and frame["regions"] >= 1
        client.send("start")
        client.expect("frame", where=lambda f: f["step"] > 200)
        client.send("pause")
        paused = client.expect("status", where=lambda m: m["state"] == "paused")
        last = client.expect("frame", where=lambda f: f["step"] == paused["step"])
        assert last["measured_step"] == last["step"]  # paused: everything is measured for the step on screen
        running = [f for f in client.frames if 0 < f["step"] < paused["step"]]
        assert all(f["measured_step"] <= f["step"] for f in running)
        # the weights sent are exactly the network's: the server's history holds the same bytes
        import httpx

        kept = httpx.get(f"{server}/api/sessions/{client.token}/inspect", params={"x": 0.1, "y": 0.2})
        assert kept.status_code == 200 and kept.json()["step"] == paused["step"]


def test_geometry_routes_answer_for_a_kept_step_and_a_view_box(server):
    import httpx

    with LiveClient(server) as client:
        client.send("view", render="client")
        client.configure(**SMALL_CONFIG)
        client.send("step", n=40)
        client.expect("status", where=lambda m: m["step"] == 40)
        client.send("step", n=40)
        client.expect("status", where=lambda m: m["step"] == 80)
        base = f"{server}/api/sessions/{client.token}"
        now = httpx.get(f"{base}/inspect", params={"x": 0.3, "y": -0.2}).json()
        then = httpx.get(f"{base}/inspect", params={"x": 0.3, "y": -0.2, "step": 40}).json()
        assert now["step"] == 80 and then["step"] == 40
        assert then["A"] != now["A"]  # another network: the one of step 40
        missing = httpx.get(f"{base}/inspect", params={"x": 0.3, "y": -0.2, "step": 41})
        assert missing.status_code == 404 and "not kept" in missing.json()["detail"]
        # a view box outside the training square: regions go on there too
        box = "1,3,-1,1"
        doc = httpx.get(f"{base}/regions.json", params={"box": box, "fields": "polygons", "step": 40}).json()
        assert doc["box"] == [1, 3, -1, 1] and doc["step"] == 40
        xs = [x for polygon in doc["polygons"] for x, _ in polygon]
        assert min(xs) >= 1 - 1e-9 and max(xs) <= 3 + 1e-9
        outside = httpx.get(f"{base}/inspect", params={"x": 2.0, "y": 0.5, "box": box})
        assert outside.status_code == 200 and 1 <= min(x for x, _ in outside.json()["polygon"])
        refused = httpx.get(f"{base}/inspect", params={"x": 0.0, "y": 0.0, "box": box})
        assert refused.status_code == 422 and "outside the box" in refused.json()["detail"]
        assert httpx.get(f"{base}/regions.json", params={"box": "1,0,0,1"}).status_code == 422
