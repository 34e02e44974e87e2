"""A clip's run over the websocket and the exact-geometry routes: points across frames, frames of one
moment t (server and client render), and every exact tool taking t (the slice of geometry/slices.py).

Independent references: the checkpoint the server hands out, sliced here with the float64 3-input
network itself (outputs at (x, y, t)), and the exact partition computed here."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import torch
from live_server import LiveClient, running_app

from polytope_lens.core.training import trainer_from_checkpoint
from polytope_lens.geometry.exact import exact_partition, region_counts_per_layer
from polytope_lens.geometry.slices import slice_model
from polytope_lens.core.network import freeze
from polytope_lens.web.app import create_app
from polytope_lens.web.config import Settings
from polytope_lens.web.wire import decode_frame  # noqa: F401 - LiveClient decodes with it

STEPS = 150


@pytest.fixture(scope="module")
def server():
    with running_app(create_app(Settings())) as url:
        yield url


@pytest.fixture(scope="module")
def clip_run(server):
    client = LiveClient(server)
    status = client.configure(image="moving-disk", layers="8x3", resolution=64, train_points=2000, val_points=300)
    points = next(m for m in client.messages if m.get("type") == "points")
    client.send("step", n=STEPS)
    client.expect("frame", timeout=60, where=lambda f: f["step"] == STEPS)
    base = f"{server}/api/sessions/{client.token}"
    model = trainer_from_checkpoint(httpx.get(f"{base}/checkpoint", timeout=30).content).model.double()
    yield {"client": client, "status": status, "points": points, "base": base, "model": model}
    client.close()


def _view_frame(client, **view):
    client.send("view", **view)
    return client.expect("frame", timeout=30, where=lambda f: f.get("t") == view.get("t", f.get("t")))


def test_status_and_points_of_a_clip(clip_run):
    status, points = clip_run["status"], clip_run["points"]
    assert status["frames"] == 16 and status["duration_s"] == pytest.approx(1.6)
    assert len(points["train_frames"]) == len(points["train"]) == 2000
    assert len(points["val_frames"]) == 300
    assert set(points["train_frames"]) == set(range(16))
    assert clip_run["model"].in_dim == 3


def test_frames_show_the_moment_t(clip_run):
    client, model = clip_run["client"], clip_run["model"]
    frames = {}
    for t in (-1.0, 0.5):
        header = _view_frame(client, t=t)
        assert header["t"] == t and header["frames"] == 16 and header["step"] == STEPS
        assert header["exact_step"] == STEPS  # paused: counted inline, for this t
        frames[t] = (header, bytes(client.sections["prediction"]))
        sliced = slice_model(model, t)
        assert header["exact_regions"] == exact_partition(freeze(sliced)).region_count
        assert header["exact_layer_counts"] == region_counts_per_layer(sliced)
        # the server's prediction is the 3-input network at (x, y, t)
        R = header["resolution"]
        pred = np.frombuffer(frames[t][1], dtype=np.uint8).reshape(R, R)
        row, col = R // 3, 2 * R // 3
        x, y = -1 + (2 * col + 1) / R, 1 - (2 * row + 1) / R
        with torch.no_grad():
            expected = model(torch.tensor([[x, y, t]], dtype=torch.float64)).clamp(0, 1).item() * 255
        assert abs(int(pred[row, col]) - expected) <= 1.01
    assert frames[-1.0][1] != frames[0.5][1]  # another moment, another picture


def test_exact_routes_take_t(clip_run):
    base, model = clip_run["base"], clip_run["model"]
    for t in (-0.5, 0.75):
        sliced = freeze(slice_model(model, t))
        counts = httpx.get(f"{base}/layer-counts", params={"t": t}, timeout=30).json()
        assert counts["t"] == t and counts["counts"][-1] == exact_partition(sliced).region_count
        doc = httpx.get(f"{base}/regions.json", params={"t": t, "fields": "areas"}, timeout=30).json()
        assert doc["t"] == t and doc["region_count"] == counts["counts"][-1]
        assert abs(sum(doc["areas"]) - 4.0) < 1e-6
        data = httpx.get(f"{base}/inspect", params={"x": 0.1, "y": -0.2, "t": t}, timeout=30).json()
        with torch.no_grad():
            out = model(torch.tensor([[0.1, -0.2, t]], dtype=torch.float64)).numpy()[0]
        assert np.allclose(data["output"], out, atol=1e-5) and data["t"] == t
        line = httpx.get(f"{base}/neuron-line", params={"layer": 1, "neuron": 0, "t": t}, timeout=30)
        assert line.status_code == 200 and line.json()["t"] == t
        svg = httpx.get(f"{base}/regions.svg", params={"t": t}, timeout=30)
        assert svg.status_code == 200 and svg.text.count("<path") >= counts["counts"][-1]
    bad = httpx.get(f"{base}/layer-counts", params={"t": 2}, timeout=30)
    assert bad.status_code == 422
    # without t=, the tools answer for the moment on screen (the view's t)
    _view_frame(clip_run["client"], t=0.25)
    counts = httpx.get(f"{base}/layer-counts", timeout=30).json()
    assert counts["t"] == 0.25


def test_client_render_carries_the_three_input_weights(clip_run):
    client = clip_run["client"]
    client.send("view", render="client")
    header = client.expect("frame", timeout=30, where=lambda f: f.get("render") == "client")
    assert header["in_dim"] == 3 and header["frames"] == 16
    weights = np.frombuffer(client.sections["weights"], dtype="<f4")
    first = weights[: 8 * 3].reshape(8, 3)
    assert np.allclose(first, clip_run["model"].linears[0].weight.detach().numpy(), atol=1e-6)
    client.send("view", render="server")
    client.expect("frame", timeout=30, where=lambda f: f.get("render") != "client")


def test_view_t_out_of_range_is_refused(clip_run):
    client = clip_run["client"]
    client.send("view", t=1.5)
    error = client.expect("error", timeout=10)
    assert error["field"] == "t"


def test_counts_over_t(clip_run, server):
    base, model = clip_run["base"], clip_run["model"]
    body = httpx.get(f"{base}/counts-over-t", params={"n": 5}, timeout=60).json()
    assert body["complete"] and body["t"] == [-1.0, -0.5, 0.0, 0.5, 1.0] and body["step"] == STEPS
    for t, count in zip(body["t"], body["counts"]):
        assert count == exact_partition(freeze(slice_model(model, t))).region_count
    assert httpx.get(f"{base}/counts-over-t", params={"n": 1}, timeout=10).status_code == 422
    picture = LiveClient(server)
    picture.configure(layers="4x2", resolution=32, train_points=100, val_points=10)
    refused = httpx.get(f"{server}/api/sessions/{picture.token}/counts-over-t", timeout=10)
    assert refused.status_code == 422 and "picture" in refused.json()["detail"]
    picture.close()


def test_clip_movie_download(clip_run, server):
    movie = httpx.get(f"{clip_run['base']}/clip-movie", timeout=120)
    assert movie.status_code == 200 and movie.headers["content-type"] in ("video/mp4", "image/gif")
    assert len(movie.content) > 1000
    picture = LiveClient(server)
    picture.configure(layers="4x2", resolution=32, train_points=100, val_points=10)
    assert httpx.get(f"{server}/api/sessions/{picture.token}/clip-movie", timeout=10).status_code == 404
    picture.close()
