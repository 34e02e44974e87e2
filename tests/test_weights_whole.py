"""GET /api/sessions/{token}/weights?whole=true (issue 27, a clip's network set by hand): a clip's
network as it is, inputs (x, y, t), the very numbers a client-drawn update carries; without it the
slice at t, as before; a t weight set by hand is there."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from live_server import LiveClient, running_server

CONFIG = dict(image="moving-disk", layers="5,4", train_points=300, val_points=50, seed=1)


@pytest.fixture(scope="module")
def clip():
    with running_server() as url, LiveClient(url) as client:
        client.configure(render="client", resolution=32, **CONFIG)
        yield url, client


def _get(url, token, **params):
    answer = httpx.get(f"{url}/api/sessions/{token}/weights", params=params, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_whole_is_the_clip_network_the_updates_carry(clip):
    url, client = clip
    client.send_raw(json.dumps({"type": "edit", "layer": 1, "kind": "weight", "row": 3, "col": 2, "value": 2.5}))
    client.expect("edited")
    client.expect("frame", where=lambda f: f.get("in_dim") == 3)
    carried = np.frombuffer(client.sections["weights"], dtype="<f4")
    whole = _get(url, client.token, whole="true")
    assert whole["in_dim"] == 3 and whole["widths"] == [5, 4] and "t" not in whole
    weights = np.array(whole["weights"], dtype=np.float32)
    assert np.array_equal(weights, carried)
    assert weights[3 * 3 + 2] == np.float32(2.5)  # layer 1's W is (5, 3): row 3, the t column

    sliced = _get(url, client.token, t=0.5)
    assert sliced["in_dim"] == 2 and sliced["t"] == 0.5
    W, b = weights[:15].reshape(5, 3), weights[15:20]
    assert np.allclose(np.array(sliced["weights"][:10]).reshape(5, 2), W[:, :2])
    assert np.allclose(sliced["weights"][10:15], b + 0.5 * W[:, 2], atol=1e-6)


def test_whole_of_a_picture_network_is_the_network(clip):
    url, _ = clip
    with LiveClient(url) as picture:
        picture.configure(render="client", resolution=32, image="ring", layers="3", train_points=200, val_points=50)
        assert _get(url, picture.token, whole="true") == _get(url, picture.token)
