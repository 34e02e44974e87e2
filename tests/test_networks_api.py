"""Networks from elsewhere over REST, the websocket and the CLI, against a real server: a model
file opens (POST /api/networks), its exact partition equals the product's count of the same
weights, a configure naming it trains on from it when the picture fits and only shows it when not
(Train says why), a D-input network is shown on the plane through three points of a data file,
and every refusal is a 4xx in words with the server still serving."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest
import torch
from live_server import LiveClient, running_server
from torch import nn

pytest.importorskip("onnx")

from polytope_lens.cli import main as cli_main  # noqa: E402
from polytope_lens.core.network import FrozenNetwork  # noqa: E402
from polytope_lens.geometry.exact import region_counts_per_layer  # noqa: E402
from polytope_lens.geometry.plane import Plane, fold_plane, plane_through  # noqa: E402
from polytope_lens.sources import from_module  # noqa: E402

LIMIT = 256 * 1024  # the server's model file limit here: small, so that 413 costs little


def sequential(sizes, slopes, final=None, seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(slopes):
            mods.append(nn.ReLU() if slopes[i] == 0 else nn.LeakyReLU(slopes[i]))
    if final is not None:
        mods.append(final)
    return nn.Sequential(*mods).eval()


def onnx_bytes(module: nn.Module, in_dim: int) -> bytes:
    buf = io.BytesIO()
    torch.onnx.export(module, (torch.zeros(1, in_dim),), buf, dynamo=False)
    return buf.getvalue()


def forward(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module.double()(torch.from_numpy(x)).numpy()


@pytest.fixture(scope="module")
def server():
    with running_server(max_network_bytes=LIMIT, max_sessions=3) as url:
        yield url


def upload(server, data: bytes, name: str = "net.onnx", **fields):
    files = {"file": (name, data)}
    if "points" in fields:
        files["points"] = fields.pop("points")
    return httpx.post(f"{server}/api/networks", files=files, data=fields, timeout=60)


def test_an_onnx_file_opens_trains_on_and_counts_as_the_product_does(server):
    mixed = sequential([2, 14, 14, 14, 1], [0.0, 0.1, 0.0], seed=1)
    answer = upload(server, onnx_bytes(mixed, 2))
    assert answer.status_code == 201, answer.text
    summary = answer.json()
    assert summary["layers"] == [14, 14, 14] and summary["slopes"] == [0.0, 0.1, 0.0]
    assert summary["activations"] == ["relu", "leaky_relu(0.1)", "relu"] and summary["task"] == "regress"
    assert (summary["in_dim"], summary["out_dim"], summary["plane"]) == (2, 1, None)
    expected = region_counts_per_layer(from_module(mixed))[-1]
    regions = httpx.get(f"{server}/api/networks/{summary['id']}/regions.json", timeout=60).json()
    assert regions["region_count"] == expected and regions["network"]["slopes"] == [0.0, 0.1, 0.0]
    with LiveClient(server) as client:
        client.send("view", resolution=48)
        client.send("configure", config={"image": "ring", "train_points": 300, "val_points": 100}, network=summary["id"])
        status = client.expect("status", where=lambda m: m.get("config") is not None)
        assert status["message"].startswith("opened net.onnx: Train continues") and status["config"]["layers"] == "14x3"
        first = client.expect("frame", where=lambda f: f["step"] == 0)
        assert isinstance(first["train_loss"], float)
        counted = httpx.get(f"{server}/api/sessions/{client.token}/regions.json", timeout=60).json()
        assert counted["region_count"] == expected  # the session holds the file's weights at step 0
        client.send("view", render="client")
        update = client.expect("frame", where=lambda f: f.get("render") == "client")
        assert update["slopes"] == [0.0, 0.1, 0.0]  # the page's renderer gets each layer's slope
        client.send("step", n=20)
        client.expect("frame", where=lambda f: f["step"] == 20)
        client.send("reset")  # back to the file's weights, not a random network
        client.expect("status", where=lambda m: m.get("step") == 0)
        again = httpx.get(f"{server}/api/sessions/{client.token}/regions.json", timeout=60).json()
        assert again["region_count"] == expected


def test_a_d_input_classifier_is_shown_on_the_plane_through_three_points(server, tmp_path):
    model = sequential([64, 32, 32, 10], [0.0, 0.2], final=nn.Softmax(dim=-1), seed=2)
    points = np.random.default_rng(3).normal(size=(12, 64))
    npy = io.BytesIO()
    np.save(npy, points)
    answer = upload(server, onnx_bytes(model, 64), name="digits.onnx", points=("points.npy", npy.getvalue()),
                    rows="4 7 9")
    assert answer.status_code == 201, answer.text
    summary = answer.json()
    assert summary["task"] == "classify" and summary["in_dim"] == 64 and not summary["trainable_on_pictures"]
    assert summary["rows"] == [4, 7, 9] and all(abs(v) < 1 for m in summary["marks"] for v in m)
    document = httpx.get(f"{server}/api/networks/{summary['id']}/regions.json", timeout=60).json()
    plane = Plane.from_json(document["plane"])
    xy = np.random.default_rng(4).uniform(-1, 1, size=(64, 2))
    folded = fold_plane(from_module(model), plane)
    # input = origin + x·u + y·v reproduces the network's scores (before the softmax) on the plane
    logits = nn.Sequential(*list(model)[:-1])
    from test_sources import forward as numpy_forward
    assert np.allclose(numpy_forward(folded, xy), forward(logits, plane.inputs(xy)), atol=1e-6, rtol=0)
    assert document["region_count"] == region_counts_per_layer(folded)[-1]
    assert np.allclose(plane.coordinates(points[[4, 7, 9]])[0], document["marks"], atol=1e-8)
    svg = httpx.get(f"{server}/api/networks/{summary['id']}/regions.svg", timeout=60)
    assert svg.status_code == 200 and svg.text.count('class="mark"') == 3
    with LiveClient(server) as client:  # 10 classes: past the page's class colours, said in words
        client.send("view", resolution=32)
        client.send("configure", config={"image": "ring"}, network=summary["id"])
        error = client.expect("error")
        assert error["field"] == "network" and "10 class scores" in error["message"]
    small = sequential([5, 8, 3], [0.0], final=nn.LogSoftmax(dim=1), seed=5)
    opened = upload(server, onnx_bytes(small, 5), name="five.onnx").json()  # no points: the first two inputs
    assert opened["plane"]["u"] == [1, 0, 0, 0, 0] and opened["notes"]
    with LiveClient(server) as client:
        client.send("view", resolution=32)
        client.send("configure", config={"image": "ring"}, network=opened["id"])
        status = client.expect("status", where=lambda m: m.get("config") is not None)
        assert "shown, not trained" in status["message"] and "5 inputs" in status["message"]
        frame = client.expect("frame")
        assert frame["train_loss"] is None and frame["classes"] == ["#ff0000", "#00ff00", "#0000ff"]
        client.send("start")
        error = client.expect("error")
        assert error["field"] == "network" and error["message"].startswith("Train: ")


class _CreatesAFile:
    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_refusals_are_4xx_in_words_and_the_server_keeps_serving(server, tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    def graph(nodes, weights):
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
                              [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in weights.items()])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()

    W1, W2 = np.ones((3, 2)), np.ones((1, 3))
    cases = {
        "conv": (graph([helper.make_node("Conv", ["x", "K"], ["y"], name="conv1")], {"K": np.ones((1, 1, 1))}),
                 "node 'conv1' is Conv"),
        "sigmoid": (graph([helper.make_node("Gemm", ["x", "W1"], ["h"], name="g1", transB=1),
                           helper.make_node("Sigmoid", ["h"], ["a"], name="sig"),
                           helper.make_node("Gemm", ["a", "W2"], ["y"], name="g2", transB=1)], {"W1": W1, "W2": W2}),
                    "node 'sig' is Sigmoid"),
        "skip": (graph([helper.make_node("Gemm", ["x", "W1"], ["h"], name="g1", transB=1),
                        helper.make_node("Relu", ["h"], ["a"], name="r1"),
                        helper.make_node("Add", ["a", "h"], ["s"], name="residual"),
                        helper.make_node("Gemm", ["s", "W2"], ["y"], name="g2", transB=1)], {"W1": W1, "W2": W2}),
                 "'residual'.*skip connection"),
        "nan": (graph([helper.make_node("Gemm", ["x", "W1"], ["h"], name="g1", transB=1),
                       helper.make_node("Relu", ["h"], ["a"], name="r1"),
                       helper.make_node("Gemm", ["a", "W2"], ["y"], name="g2", transB=1)],
                      {"W1": np.full((3, 2), np.nan), "W2": W2}), "tensor 'W1' holds 6 NaN"),
    }
    import re

    for name, (data, words) in cases.items():
        answer = upload(server, data, name=f"{name}.onnx")
        assert answer.status_code == 422 and re.search(words, answer.json()["detail"]), (name, answer.text)
    marker = tmp_path / "created-by-the-pickle"
    _CreatesAFile.path = str(marker)
    buf = io.BytesIO()
    torch.save({"0.weight": _CreatesAFile()}, buf)
    answer = upload(server, buf.getvalue(), name="evil.pt")
    assert answer.status_code == 422 and "refused without running it" in answer.json()["detail"]
    assert not marker.exists()
    big = upload(server, b"\0" * (LIMIT + 1), name="big.onnx")
    assert big.status_code == 413 and "limit" in big.json()["detail"]
    assert httpx.post(f"{server}/api/networks", data={"rows": "0 1 2"}).status_code == 422
    good = onnx_bytes(sequential([3, 4, 1], [0.0]), 3)
    bad_rows = upload(server, good, rows="0 1")
    assert bad_rows.status_code == 422 and "rows" in bad_rows.json()["detail"]
    csv = b"1,2\n3,4\n5,6\n"
    columns = upload(server, good, points=("p.csv", csv))
    assert columns.status_code == 422 and "2 columns" in columns.json()["detail"]
    flat = upload(server, onnx_bytes(sequential([2, 4, 1], [0.0]), 2), points=("p.csv", csv))
    assert flat.status_code == 422 and "takes 2 inputs" in flat.json()["detail"]
    line = upload(server, good, points=("p.csv", b"1,0,0\n2,0,0\n3,0,0\n"))
    assert line.status_code == 422 and "lie on one line" in line.json()["detail"]
    state = io.BytesIO()
    torch.save(sequential([2, 4, 1], [0.0]).state_dict(), state)
    slopes = upload(server, state.getvalue(), name="net.pt", negative_slope="0.1 0.2")
    assert slopes.status_code == 422 and "2 negative slopes" in slopes.json()["detail"]
    assert httpx.get(f"{server}/api/networks/nope-nope-nope-nope-nope").status_code == 404
    assert httpx.get(f"{server}/api/health").json()["status"] == "ok"
    assert upload(server, state.getvalue(), name="net.pt", activation="leaky_relu", negative_slope="0.3").json()[
        "slopes"] == [0.3]


def test_cli_regions_of_a_model_file_on_a_plane_and_train_network(tmp_path, capsys):
    model = sequential([16, 12, 12, 3], [0.0, 0.1], seed=6)
    onnx_file = tmp_path / "sixteen.onnx"
    onnx_file.write_bytes(onnx_bytes(model, 16))
    points = np.random.default_rng(7).normal(size=(5, 16))
    np.savetxt(tmp_path / "points.csv", points, delimiter=",")
    out = tmp_path / "regions.json"
    assert cli_main(["regions", str(onnx_file), "--plane", str(tmp_path / "points.csv"), "--rows", "2", "0", "4",
                     "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    plane = Plane.from_json(document["plane"])
    assert np.allclose(plane.origin, plane_through(points, (2, 0, 4)).origin)
    folded = fold_plane(from_module(model), plane)
    assert document["region_count"] == region_counts_per_layer(folded)[-1]
    xy = np.random.default_rng(8).uniform(-1, 1, size=(32, 2))
    from test_sources import forward as numpy_forward
    assert np.allclose(numpy_forward(folded, xy), forward(model, plane.inputs(xy)), atol=1e-6, rtol=0)
    assert cli_main(["regions", str(onnx_file), "--plane", str(tmp_path / "points.csv"), "--out",
                     str(tmp_path / "r.svg")]) == 0
    assert (tmp_path / "r.svg").read_text().count('class="mark"') == 3
    state = tmp_path / "gray.pt"
    torch.save(sequential([2, 6, 6, 1], [0.0, 0.0], seed=9).state_dict(), state)
    assert cli_main(["train", "ring", "--network", str(state), "--negative-slope", "0.05",
                     "--activation", "leaky_relu", "--steps", "30", "--train-points", "300", "--val-points", "100",
                     "--frame-every", "30", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["layers"] == "6x2" and config["negative_slope"] == 0.05
    capsys.readouterr()
    assert cli_main(["train", "ring", "--network", str(onnx_file), "--steps", "5", "--out", str(tmp_path / "r2")]) == 2
    assert "16 inputs" in capsys.readouterr().err
    assert cli_main(["regions", str(tmp_path / "points.csv"), "--out", str(tmp_path / "x.json")]) == 2
    assert "not an ONNX model" in capsys.readouterr().err


def test_the_networks_benchmark_runs():
    """benchmarks/networks.py still runs (its plane row; no timing assertions)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import networks as bench

    plane = bench.plane_partition(runs=1, log=lambda m: None)
    assert plane["regions"] > 100 and plane["flat_regions"] > 100
    fake_open = {"open_s": 0.2, "plain_s": 0.1, "bytes": 5000, "runs": 1}
    assert len(bench.rows({"open": fake_open, "plane": plane}, lambda s: f"{s:.3f} s")) == 2
