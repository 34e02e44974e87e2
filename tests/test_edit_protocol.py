"""Edits by hand over the websocket (docs/protocol.md, ``edit``): each form writes exactly its number(s);
the exact count, regions.json and the weights answer for the edited network; every refusal is in
words naming the field and leaves the network as it was; editing while training; the hand-set
experiments. One real server and one session for the module."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from live_server import LiveClient, running_server

from polytope_lens.core.network import FrozenNetwork
from polytope_lens.geometry.exact import exact_partition

WIDTHS, OUT = [6, 5], 1
CONFIG = dict(layers="6,5", train_points=500, val_points=100, batch_size=128, seed=3)


def _offsets(widths, out_dim, in_dim=2):
    """(W start, b start, rows, cols) of each affine layer in the flat layout, layers 1-based as the edit's."""
    sizes, at, out = [in_dim, *widths, out_dim], 0, {}
    for layer in range(1, len(sizes)):
        rows, cols = sizes[layer], sizes[layer - 1]
        out[layer] = (at, at + rows * cols, rows, cols)
        at += rows * cols + rows
    return out


OFFSETS = _offsets(WIDTHS, OUT)


@pytest.fixture(scope="module")
def server():
    with running_server() as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    with LiveClient(server) as c:
        c.configure(render="client", resolution=64, **CONFIG)
        yield c


def _weights(client) -> np.ndarray:
    return np.frombuffer(client.sections["weights"], dtype="<f4").copy()


def _now(server, client) -> np.ndarray:
    """The network the session holds now (the REST weights route, which reads a frozen copy)."""
    data = httpx.get(f"{server}/api/sessions/{client.token}/weights", timeout=30).json()
    return np.array(data["weights"], dtype=np.float32)


def _send_edit(client, **fields) -> None:
    client.send_raw(json.dumps({"type": "edit", **fields}))  # (LiveClient.send takes its own "kind")


def _edit(client, **fields) -> tuple[dict, dict]:
    _send_edit(client, **fields)
    edited = client.expect("edited")
    frame = client.expect("frame", where=lambda f: f["step"] == edited["step"])
    return edited, frame


def _only_changed(before: np.ndarray, after: np.ndarray) -> set[int]:
    return set(np.flatnonzero(before != after).tolist())


def test_one_weight_changes_exactly_that_number(client):
    before = _weights(client)  # the network as configured (the first update)
    W, _, rows, cols = OFFSETS[2]
    edited, frame = _edit(client, layer=2, kind="weight", row=3, col=4, value=0.75)
    after = _weights(client)
    assert _only_changed(before, after) == {W + 3 * cols + 4}
    assert after[W + 3 * cols + 4] == np.float32(0.75)
    assert edited["layer"] == 2 and edited["row"] == 3 and edited["col"] == 4 and "w[3,4]" in edited["note"]
    assert frame["step"] == edited["step"] == 0


def test_one_bias_changes_exactly_that_number(client):
    before = _weights(client)
    _, b, _, _ = OFFSETS[3]  # the output layer
    _edit(client, layer=3, kind="bias", row=0, value=-0.25)
    assert _only_changed(before, _weights(client)) == {b}
    assert _weights(client)[b] == np.float32(-0.25)


def test_a_whole_matrix_and_a_whole_bias(client):
    before = _weights(client)
    W, b, rows, cols = OFFSETS[1]
    matrix = [[round(0.1 * (r + 1) - 0.3 * c, 2) for c in range(cols)] for r in range(rows)]
    _edit(client, layer=1, kind="weight", values=matrix)
    after = _weights(client)
    assert _only_changed(before, after) <= set(range(W, W + rows * cols))
    assert np.array_equal(after[W:W + rows * cols].reshape(rows, cols), np.array(matrix, dtype=np.float32))
    bias = [0.01 * (r - 2) for r in range(rows)]
    _edit(client, layer=1, kind="bias", values=bias)
    assert _only_changed(after, _weights(client)) <= set(range(b, b + rows))
    assert np.array_equal(_weights(client)[b:b + rows], np.array(bias, dtype=np.float32))


def _offline(flat: np.ndarray):
    net = FrozenNetwork.from_flat(flat.tobytes(), WIDTHS, OUT, 0.0)
    return exact_partition(net)


def test_the_exact_count_and_regions_json_answer_for_the_edited_network(server, client):
    _, first = _edit(client, layer=1, kind="bias", row=2, value=0.3)
    # paused, the redrawn update comes first and the exact count in the next update of the same step
    assert first["exact_status"] in ("pending", "exact")
    frame = first if first["exact_status"] == "exact" else client.expect(
        "frame", where=lambda f: f["step"] == first["step"] and f["exact_status"] == "exact")
    flat = _weights(client)
    offline = _offline(flat)
    assert frame["exact_regions"] == offline.region_count and frame["exact_step"] == frame["step"]
    doc = httpx.get(f"{server}/api/sessions/{client.token}/regions.json", params={"fields": "polygons,areas,patterns"},
                    timeout=60).json()
    assert len(doc["polygons"]) == offline.region_count
    assert sorted(doc["patterns"]) == sorted(offline.pattern_strings())
    assert sorted(np.round(doc["areas"], 6)) == pytest.approx(sorted(np.round(offline.areas(), 6)), abs=1e-6)
    assert np.array_equal(_now(server, client), flat)


REFUSALS = [
    ({"layer": 4, "kind": "weight", "row": 0, "col": 0, "value": 1.0}, "layer", "not a layer"),
    ({"layer": 0, "kind": "bias", "row": 0, "value": 1.0}, "layer", "greater than or equal to 1"),
    ({"layer": 2, "kind": "weight", "row": 5, "col": 0, "value": 1.0}, "row", "past the 5 neurons"),
    ({"layer": 2, "kind": "weight", "row": 0, "col": 6, "value": 1.0}, "col", "past the 6 inputs"),
    ({"layer": 2, "kind": "weight", "row": -1, "col": 0, "value": 1.0}, "row", "greater than or equal to 0"),
    ({"layer": 1, "kind": "bias", "row": 0, "col": 1, "value": 1.0}, "col", "a bias has no column"),
    ({"layer": 1, "kind": "weight", "row": 0, "value": 1.0}, "col", "missing"),
    ({"layer": 1, "kind": "weight", "row": 0, "col": 0}, "value", "missing"),
    ({"layer": 1, "kind": "tilt", "row": 0, "value": 1.0}, "kind", "'weight' or 'bias'"),
    ({"layer": 1, "kind": "weight", "row": 0, "col": 0, "value": 2e6}, "value", "1000000"),
    ({"layer": 1, "kind": "weight", "row": 0, "col": 0, "value": "0.5"}, "value", "valid number"),
    ({"layer": 1, "kind": "weight", "values": [[1, 2]] * 5}, "values", "6 rows of 2 numbers"),
    ({"layer": 1, "kind": "weight", "values": [[1, 2, 3]] * 6}, "values", "takes 2 numbers"),
    ({"layer": 3, "kind": "bias", "values": [1, 2]}, "values", "takes 1 numbers"),
    ({"layer": 1, "kind": "weight", "values": [[1, 2]] * 6, "value": 1.0}, "values", "not both"),
]


@pytest.mark.parametrize("fields,field,words", REFUSALS, ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(REFUSALS)])
def test_every_refusal_names_the_field_and_leaves_the_network(server, client, fields, field, words):
    before = _now(server, client)
    _send_edit(client, **fields)
    error = client.expect("error")
    assert error["field"] == field and words in error["message"], error
    assert np.array_equal(_now(server, client), before)


@pytest.mark.parametrize("constant,words", [("NaN", "valid number"), ("Infinity", "valid number"),
                                            ("-Infinity", "valid number"), ("1e400", "finite number")])
def test_nan_and_infinity_are_refused_in_words(server, client, constant, words):
    before = _now(server, client)
    client.send_raw('{"type": "edit", "layer": 1, "kind": "weight", "row": 0, "col": 0, "value": %s}' % constant)
    error = client.expect("error")
    assert error["field"] == "value" and words in error["message"]
    client.send_raw('{"type": "edit", "layer": 1, "kind": "bias", "values": [0, 0, 0, 0, 0, %s]}' % constant)
    assert client.expect("error")["field"] == "values"
    assert np.array_equal(_now(server, client), before)


def test_editing_while_training_goes_on_from_the_edited_network(client):
    client.send("start")
    client.expect("frame", where=lambda f: f["step"] > 5)
    W, _, _, cols = OFFSETS[2]
    edited, frame = _edit(client, layer=2, kind="weight", row=1, col=2, value=3.5)
    assert _weights(client)[W + cols + 2] == np.float32(3.5)  # the update right after carries it
    later = client.expect("frame", where=lambda f: f["step"] > edited["step"] + 20)
    value = _weights(client)[W + cols + 2]
    assert abs(value - 3.5) < 0.1  # trained on from 3.5 (Adam moves it ~lr per step), not put back
    client.send("pause")
    client.expect("status", where=lambda m: m["state"] == "paused")
    assert later["step"] > edited["step"]


def test_reset_returns_to_the_start_as_edited_at_step_zero(server):
    with LiveClient(server) as c:
        c.configure(render="client", resolution=32, **CONFIG)
        _edit(c, layer=3, kind="bias", row=0, value=0.625)
        start = _weights(c)
        c.send("step", n=5)
        c.expect("frame", where=lambda f: f["step"] == 5)
        assert not np.array_equal(_weights(c), start)
        c.send("reset")
        c.expect("frame", where=lambda f: f["step"] == 0)
        assert np.array_equal(_weights(c), start)


def test_xor_by_hand_is_exact_without_training(server):
    presets = {p["id"]: p for p in httpx.get(f"{server}/api/presets", timeout=30).json()}
    xor = presets["xor-by-hand"]
    assert xor["steps"] == 0 and xor["roles"]["1:0"].startswith("n0 = relu(x + y)")
    with LiveClient(server) as c:
        c.configure(render="client", resolution=32, **xor["config"])
        frame = c.frames[-1]
        assert frame["step"] == 0 and frame["train_accuracy"] == 1.0 and frame["val_accuracy"] == 1.0
        assert frame["exact_regions"] == 4  # the two diagonals
        # turning n0 off (its output weight to 0) makes red lose the upper right: accuracy falls
        _send_edit(c, layer=2, kind="weight", row=0, col=0, value=0.0)
        c.expect("edited")
        frame = c.expect("frame")
        assert frame["train_accuracy"] < 0.9


def test_start_from_zeros_for_any_shape(server):
    with LiveClient(server) as c:
        c.configure(render="client", resolution=32, image="ring", layers="3,7,2", init="zeros",
                    train_points=300, val_points=50)
        assert not _weights(c).any()
        assert c.frames[-1]["exact_regions"] == 1


def test_a_hand_set_init_that_does_not_fit_is_refused_naming_init(server):
    with LiveClient(server) as c:
        c.send("configure", config={"image": "classes-xor", "task": "classify", "layers": "5", "init": "xor"})
        error = c.expect("error")
        assert error["field"] == "init" and "layers 4" in error["message"]
        c.send("configure", config={"image": "ring", "layers": "4", "init": "xor"})
        assert "task classify" in c.expect("error")["message"]
