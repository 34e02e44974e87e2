"""The exact-geometry REST routes (geometry_routes.py) against a real server, and exact.neuron_zero_set.

Independent references: the checkpoint the server hands out (same weights),
torch autograd and the model's own forward pass in float64, and the
polygons' own edges for which inequalities bind.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import httpx
import numpy as np
import pytest
import torch


from live_server import LiveClient, running_app

from polytope_lens.web.routers import geometry as geometry_routes
from polytope_lens.geometry.documents import DocumentTooLarge, parse_fields, partition_document, partition_svg_bytes
from polytope_lens.geometry.exact import exact_partition, neuron_zero_set
from polytope_lens.geometry.export import partition_json, partition_svg
from polytope_lens.core.model import MLP, build_mlp
from polytope_lens.web.app import create_app
from polytope_lens.web.config import Settings
from polytope_lens.core.training import trainer_from_checkpoint

STEPS = 300
POINTS = [(0.1234567, -0.3456789), (-0.61, 0.27), (0.45, 0.45), (-0.987, -0.02)]


# -- neuron_zero_set (pure numerics) ------------------------------------------------------


def _pre64(model: MLP, pts: np.ndarray) -> list[np.ndarray]:
    m = build_mlp(model.widths, out_dim=model.linears[-1].out_features)
    m.load_state_dict(model.state_dict())
    m.negative_slope = model.negative_slope
    with torch.no_grad():
        _, pre = m.double().forward_with_preactivations(torch.from_numpy(pts))
    return [p.numpy() for p in pre]


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_neuron_zero_set_is_where_the_preactivation_vanishes(activation):
    model = build_mlp([10, 10, 10], activation=activation, negative_slope=0.1,
                      generator=torch.Generator().manual_seed(3))
    found = 0
    for layer in (1, 2, 3):
        for neuron in range(0, 10, 3):
            seg = neuron_zero_set(model, layer, neuron)
            if layer == 1:
                assert seg.shape[0] <= 1  # a straight line clipped to the square
            if seg.shape[0] == 0:
                continue
            found += 1
            assert (np.abs(seg) <= 1 + 1e-12).all()
            mid = seg.mean(axis=1)
            pts = np.concatenate([seg[:, 0], seg[:, 1], mid])
            pre = _pre64(model, pts)[layer - 1][:, neuron]
            assert np.abs(pre).max() < 1e-9
            # it really switches there: the sign differs on the two sides of each piece
            d = seg[:, 1] - seg[:, 0]
            normal = np.stack([-d[:, 1], d[:, 0]], axis=1) / np.hypot(d[:, 0], d[:, 1])[:, None]
            side = _pre64(model, np.concatenate([mid + 1e-7 * normal, mid - 1e-7 * normal]))[layer - 1][:, neuron]
            plus, minus = side[: len(mid)], side[len(mid):]
            assert (np.sign(plus) != np.sign(minus)).mean() > 0.95
    assert found >= 5


def test_neuron_zero_set_by_hand():
    """Layer 2 neuron 0 computes |x| - 0.5 (relu(x) + relu(-x) - 0.5): it switches on x = +-0.5."""
    model = MLP([2, 1], out_dim=1)
    with torch.no_grad():
        model.linears[0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        model.linears[0].bias.zero_()
        model.linears[1].weight.copy_(torch.tensor([[1.0, 1.0]]))
        model.linears[1].bias.fill_(-0.5)
        model.linears[2].weight.fill_(1.0)
        model.linears[2].bias.zero_()
    seg = neuron_zero_set(model, 2, 0)
    xs = np.sort(np.unique(np.round(seg[..., 0], 12)))
    assert xs.tolist() == [-0.5, 0.5]
    for x in (-0.5, 0.5):
        ys = seg[np.isclose(seg[:, 0, 0], x)][..., 1]
        assert ys.min() == pytest.approx(-1) and ys.max() == pytest.approx(1)
        assert sum(abs(a - b) for a, b in ys) == pytest.approx(2.0)  # covers the side of the square once
    line1 = neuron_zero_set(model, 1, 0)  # x = 0
    assert line1.shape == (1, 2, 2) and np.allclose(line1[0, :, 0], 0)
    with pytest.raises(ValueError):
        neuron_zero_set(model, 3, 0)
    with pytest.raises(ValueError):
        neuron_zero_set(model, 2, 1)


# -- the routes, against a live session ------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with running_app(create_app(Settings())) as url:
        yield url


@pytest.fixture(scope="module")
def trained(server):
    """A 14x6 ring session trained STEPS steps (paused), its last frame header and its weights."""
    client = LiveClient(server)
    client.configure(layers="14x6", resolution=128, train_points=3000, val_points=300)
    client.send("step", n=STEPS)
    header = client.expect("frame", timeout=60, where=lambda f: f["step"] == STEPS)
    base = f"{server}/api/sessions/{client.token}"
    ckpt = httpx.get(f"{base}/checkpoint", timeout=30).content
    model = trainer_from_checkpoint(ckpt).model.double()
    yield {"client": client, "header": header, "base": base, "model": model}
    client.close()


def _get(url: str, **params) -> httpx.Response:
    return httpx.get(url, params=params, timeout=30)


def _autograd(model, point):
    x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    out, pre = model.forward_with_preactivations(x[None])
    grads = [torch.autograd.grad(out[0, i], x, retain_graph=True)[0].numpy() for i in range(out.shape[1])]
    pattern = "|".join("".join("1" if v > 0 else "0" for v in p[0]) for p in pre)
    return np.array(grads), pattern, out[0].detach().numpy()


def test_frames_carry_the_exact_count_and_edge_density(trained):
    h = trained["header"]
    assert h["exact_status"] == "exact" and h["exact_step"] == STEPS  # paused frames count inline
    counts = _get(f"{trained['base']}/layer-counts").json()
    assert h["exact_regions"] == counts["counts"][-1] == exact_partition(trained["model"]).region_count
    assert h["exact_layer_counts"] == counts["counts"]
    assert h["exact_regions"] >= h["regions"]  # the grid misses regions smaller than a pixel, never invents any
    assert h["edge_density_near"] > 0 and h["edge_density_far"] > 0


def test_inspect_matches_autograd_pattern_and_polygon(trained):
    model = trained["model"]
    for point in POINTS:
        r = _get(f"{trained['base']}/inspect", x=point[0], y=point[1])
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["step"] == STEPS
        grad, pattern, out = _autograd(model, point)
        assert data["pattern"] == pattern
        assert ["".join(map(str, bits)) for bits in data["layers"]] == pattern.split("|")
        assert np.abs(np.array(data["gradient"]) - grad).max() < 1e-5
        assert np.abs(np.array(data["output"]) - out).max() < 1e-5
        assert data["autograd"]["max_abs_diff"] < 1e-9
        poly = np.array(data["polygon"])
        assert data["edge_count"] == len(poly) >= 3
        x, y = poly[:, 0], poly[:, 1]
        assert data["area"] == pytest.approx(0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y), rel=1e-6)
        # the point is inside its polygon (counter-clockwise: every edge has it on the left)
        e = np.roll(poly, -1, axis=0) - poly
        rel = np.array(point) - poly
        assert (e[:, 0] * rel[:, 1] - e[:, 1] * rel[:, 0]).min() > -1e-9
        _check_binding(data, poly)


def _check_binding(data: dict, poly: np.ndarray) -> None:
    """Binding inequalities are exactly the lines that carry an edge of the polygon."""
    a = np.array([q["a"] for q in data["inequalities"]])
    b = np.array([q["b"] for q in data["inequalities"]])
    norm = np.hypot(a[:, 0], a[:, 1])
    ends = np.stack([poly, np.roll(poly, -1, axis=0)], axis=1)  # (E, 2, 2) edges
    dist = np.abs(np.einsum("epk,nk->epn", ends, a) + b) / norm  # (E, 2, N)
    carries = (dist.max(axis=1) < 1e-7).any(axis=0)  # line n contains both ends of some edge
    binding = np.array([q["binding"] for q in data["inequalities"]])
    assert (binding == carries).all()
    sides = [(0, -1), (0, 1), (1, -1), (1, 1)]  # left, right, bottom, top
    box = [bool((np.abs(ends[:, :, ax] - v).max(axis=1) < 1e-9).any()) for ax, v in sides]
    assert [s["binding"] for s in data["box_sides"]] == box
    assert binding.sum() + sum(box) == data["edge_count"] == data["binding_count"]
    # and every inequality holds on the polygon (on: > 0 inside, off: <= 0)
    sign = np.where([q["on"] for q in data["inequalities"]], 1.0, -1.0)
    assert ((poly @ a.T + b) * sign / norm >= -1e-9).all()
    assert "inequalities" in data["text"] and data["pattern"] in data["text"]


def test_regions_json_and_svg(trained):
    base = trained["base"]
    data = _get(f"{base}/regions.json").json()
    assert data["step"] == STEPS and data["layers"] == data["hidden_layers"] == 6
    assert data["region_count"] == len(data["polygons"]) == len(data["patterns"]) == len(data["colors"])
    assert sum(data["areas"]) == pytest.approx(4.0, abs=1e-6)
    assert data["region_count"] == trained["header"]["exact_regions"]
    svg = _get(f"{base}/regions.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "attachment" in svg.headers["content-disposition"]
    root = ET.fromstring(svg.text)
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) == data["region_count"]

    counts = _get(f"{base}/layer-counts").json()
    assert counts["complete"] and len(counts["counts"]) == 6
    assert all(a <= b for a, b in zip(counts["counts"], counts["counts"][1:]))
    for k in (1, 3):
        part = _get(f"{base}/regions.json", layers=k).json()
        assert part["layers"] == k and not part["complete"]
        assert part["region_count"] == counts["counts"][k - 1]
        assert sum(part["areas"]) == pytest.approx(4.0, abs=1e-6)
        assert all(len(p.split("|")) == k for p in part["patterns"])
        root = ET.fromstring(_get(f"{base}/regions.svg", layers=k).text)
        assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) == part["region_count"]


def test_neuron_line_route(trained):
    model = trained["model"]
    seen = 0
    for layer, neuron in [(1, 0), (2, 5), (4, 7), (6, 13)]:
        data = _get(f"{trained['base']}/neuron-line", layer=layer, neuron=neuron).json()
        seg = np.array(data["segments"]).reshape(-1, 2, 2)
        if len(seg) == 0:
            continue
        seen += 1
        with torch.no_grad():
            _, pre = model.forward_with_preactivations(torch.from_numpy(seg.reshape(-1, 2)))
        assert pre[layer - 1][:, neuron].abs().max().item() < 1e-6
    assert seen >= 2


def test_weights_route_is_the_checkpoints_network(trained, monkeypatch):
    """/weights (the network diagram's source in server-render mode): the checkpoint's weights in the
    websocket's flat layout; refused with a sentence past its parameter limit."""
    data = _get(f"{trained['base']}/weights").json()
    assert data["widths"] == [14] * 6 and data["in_dim"] == 2 and data["out_dim"] == 1 and data["step"] == STEPS
    expected = np.concatenate([t.detach().numpy().ravel() for W, b in trained["model"].affine_layers() for t in (W, b)])
    got = np.array(data["weights"])
    assert got.shape == expected.shape == (1107,)
    assert np.abs(got - expected).max() < 1e-6
    monkeypatch.setattr(geometry_routes, "WEIGHTS_JSON_MAX", 1000)  # the route reads it at request time
    r = _get(f"{trained['base']}/weights")
    assert r.status_code == 413 and "1,107 parameters" in r.json()["detail"]


def test_errors_and_progress(trained, server):
    base = trained["base"]
    assert _get(f"{server}/api/sessions/nope/inspect", x=0, y=0).status_code == 404
    assert _get(f"{server}/api/sessions/nope/regions.json").status_code == 404
    assert _get(f"{server}/api/sessions/nope/exact-progress").status_code == 404
    for path, params in [("inspect", dict(x=1.5, y=0)), ("inspect", dict(x=0)), ("regions.json", dict(layers=7)),
                         ("regions.svg", dict(layers=0)), ("neuron-line", dict(layer=1, neuron=14)),
                         ("neuron-line", dict(layer=7, neuron=0))]:
        r = _get(f"{base}/{path}", **params)
        assert r.status_code == 422, (path, params, r.text)
        assert isinstance(r.json()["detail"], str)
    assert _get(f"{base}/exact-progress").json() == {"active": False}


def test_inspection_of_a_big_network_runs_in_a_worker_with_the_same_answer(trained, monkeypatch):
    here = _get(f"{trained['base']}/inspect", x=0.3, y=-0.2).json()
    monkeypatch.setattr(geometry_routes, "INSPECT_IN_PROCESS_MAX", 0)  # every network counts as big
    there = _get(f"{trained['base']}/inspect", x=0.3, y=-0.2)
    assert there.status_code == 200 and there.headers["content-type"] == "application/json"
    assert there.json() == here


def test_too_large_is_413_with_a_reason(trained, monkeypatch):
    first = trained["header"]["exact_layer_counts"][0]
    monkeypatch.setattr(geometry_routes, "REGIONS_MAX", first)
    r = _get(f"{trained['base']}/regions.json")
    assert r.status_code == 413
    assert "too large" in r.json()["detail"] and "layers" in r.json()["detail"]
    assert _get(f"{trained['base']}/regions.json", layers=1).status_code == 200  # fewer layers fit
    monkeypatch.setattr(geometry_routes, "COUNTS_MAX", first)
    counts = _get(f"{trained['base']}/layer-counts").json()
    assert not counts["complete"] and counts["reason"] and len(counts["counts"]) < 6


# -- issue 11, problem 1: compact documents with a byte cap ---------------------------------------------------
def test_compact_document_matches_the_plain_one_and_respects_its_byte_cap():
    torch.manual_seed(3)
    model = MLP([32, 32, 32], out_dim=1).double()
    part = exact_partition(model, max_layers=2)
    plain = partition_json(part)
    started = time.perf_counter()
    body = partition_document(part, {"step": 7})
    encode_s = time.perf_counter() - started
    doc = json.loads(body)
    assert doc["step"] == 7 and doc["region_count"] == part.region_count == len(doc["polygons"])
    assert doc["patterns"] == plain["patterns"] and doc["colors"] == plain["colors"]
    for key, exact, tol in (("areas", part.areas(), 5e-13), ("A", part.A, 5e-9), ("c", part.c, 5e-9)):
        assert np.abs(np.array(doc[key], dtype=float) - exact).max() <= tol, key
    for got, want in zip(doc["polygons"], part.polygons()):
        assert np.abs(np.array(got) - want).max() <= 5e-7
    assert b".0," not in body and b".0]" not in body and b" " not in body  # compact
    assert len(body) < 0.85 * len(json.dumps(plain, separators=(",", ":")))
    # a subset of the fields, and a cap the document does not fit in: refused from a sample, quickly
    lean = json.loads(partition_document(part, fields=parse_fields("colors,polygons")))
    assert set(lean) == {"box", "widths", "complete", "region_count", "polygons", "colors"}
    started = time.perf_counter()
    with pytest.raises(DocumentTooLarge, match="MB limit"):
        partition_document(part, max_bytes=len(body) // 3)
    assert time.perf_counter() - started < max(0.05, encode_s / 3)
    with pytest.raises(DocumentTooLarge):  # counted while written when the sample underestimates
        partition_document(part, max_bytes=int(len(body) * 0.97))
    assert partition_document(part, {"step": 7}, max_bytes=len(body)) == body
    from polytope_lens.geometry import documents

    with pytest.MonkeyPatch.context() as patch:  # without orjson: the same numbers through json
        patch.setattr(documents, "orjson", None)
        assert json.loads(partition_document(part, {"step": 7})) == doc
    with pytest.raises(ValueError, match="unknown field"):
        parse_fields("polygons,volume")
    svg = partition_svg_bytes(part)
    assert svg.decode() == partition_svg(part)
    with pytest.raises(DocumentTooLarge):
        partition_svg_bytes(part, max_bytes=len(svg) // 2)


def test_geometry_pool_queue_wait_and_overrun():
    """web/jobs.GeometryPool on its own: one worker, one waiting place, a short wait."""
    import asyncio

    from polytope_lens.web.jobs import Busy, GeometryPool, Overrun

    async def scenario():
        pool = GeometryPool(workers=1, max_waiting=1, max_wait_s=0.5, grace_s=0.5, idle_s=0)
        try:
            assert not pool.started  # lazily: nothing runs before the first job
            slow = asyncio.create_task(pool.run(time.sleep, 1.2, limit_s=5))
            await asyncio.sleep(0.05)
            waiting = asyncio.create_task(pool.run(time.sleep, 0, limit_s=5))  # waits ... past max_wait_s
            await asyncio.sleep(0.05)
            with pytest.raises(Busy) as full:  # no place left in the queue: at once
                await pool.run(time.sleep, 0, limit_s=5)
            assert full.value.retry_after >= 1
            with pytest.raises(Busy, match="within 0.5 s"):
                await waiting
            await slow
            with pytest.raises(Overrun):  # a job that does not stop by itself is killed
                await pool.run(time.sleep, 30, limit_s=0.2)
            assert await pool.run(sum, [1, 2, 3], limit_s=5) == 6  # and the pool goes on
        finally:
            pool.shutdown()

    asyncio.run(scenario())
