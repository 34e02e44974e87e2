"""Tests of the exact polygon partition (polytope_lens.exact).

Independent checks: the model's own float64 forward pass, torch autograd, a
per-point affine forward written here, and hand-countable networks (a line
arrangement, the sawtooth).
"""

from __future__ import annotations

import copy
import json
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st


from polytope_lens.geometry.exact import PartitionTooLarge, exact_partition, region_counts_per_layer
from polytope_lens.geometry.export import partition_json, partition_svg
from polytope_lens.geometry.inspection import region_inequalities
from polytope_lens.geometry.patterns import bit_pattern_colors
from polytope_lens.core.model import MLP, build_mlp

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ARCHS = [
    ([8], 1, "relu"),
    ([6, 6], 1, "relu"),
    ([10, 10, 10], 1, "relu"),
    ([5, 7, 3, 9], 3, "relu"),
    ([12, 12], 1, "leaky_relu"),
    ([4, 4, 4, 4, 4, 4], 3, "leaky_relu"),
    ([32, 32], 1, "relu"),
]


def make_net(widths, out_dim, activation, seed) -> MLP:
    gen = torch.Generator().manual_seed(seed)
    return build_mlp(widths, out_dim=out_dim, activation=activation, negative_slope=0.1, generator=gen)


def grid_points(side: int, box=(-1.0, 1.0, -1.0, 1.0)) -> np.ndarray:
    # irrational-ish offsets keep grid points off hand-made boundaries such as x = 0
    x = np.linspace(box[0], box[1], side) * 0.999917 + 1.3e-5
    y = np.linspace(box[2], box[3], side) * 0.999931 - 0.7e-5
    X, Y = np.meshgrid(x, y)
    return np.stack([X.ravel(), Y.ravel()], axis=1)


def per_point_affine(model: MLP, pts: np.ndarray):
    """Pre-activations (N, H) and their input gradients (N, H, 2), one point at a time in spirit."""
    slope = model.negative_slope
    A = np.broadcast_to(np.eye(2), (pts.shape[0], 2, 2))
    c = np.zeros((pts.shape[0], 2))
    pres, grads = [], []
    for W, b in model.affine_layers()[:-1]:
        W, b = W.double().numpy(), b.double().numpy()
        P = np.einsum("hd,ndk->nhk", W, A)
        q = c @ W.T + b
        pre = np.einsum("nhk,nk->nh", P, pts) + q
        g = np.where(pre > 0, 1.0, slope)
        pres.append(pre)
        grads.append(P)
        A, c = P * g[..., None], q * g
    return np.concatenate(pres, axis=1), np.concatenate(grads, axis=1)


def forward64(model: MLP, pts: np.ndarray) -> np.ndarray:
    m = copy.deepcopy(model).double()
    with torch.no_grad():
        return m(torch.from_numpy(pts)).numpy()


# ---------------------------------------------------------------------------


@pytest.mark.parametrize("widths,out_dim,activation", ARCHS)
@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_areas_sum_to_box(widths, out_dim, activation, seed):
    part = exact_partition(make_net(widths, out_dim, activation, seed))
    areas = part.areas()
    assert abs(areas.sum() - 4.0) < 1e-6
    assert (areas > 0).all()
    assert part.A.shape == (part.region_count, out_dim, 2)
    assert part.patterns.shape == (part.region_count, sum(widths))


def test_areas_other_box():
    part = exact_partition(make_net([9, 9], 1, "relu", 3), box=(-3.0, 0.5, 1.0, 2.0))
    assert abs(part.areas().sum() - 3.5) < 1e-9
    v = np.concatenate(part.polygons())
    assert v[:, 0].min() >= -3.0 - 1e-12 and v[:, 0].max() <= 0.5 + 1e-12
    assert v[:, 1].min() >= 1.0 - 1e-12 and v[:, 1].max() <= 2.0 + 1e-12


@pytest.mark.parametrize("widths,out_dim,activation", ARCHS)
@pytest.mark.parametrize("seed", [0, 1])
def test_located_pattern_matches_forward(widths, out_dim, activation, seed):
    model = make_net(widths, out_dim, activation, seed)
    part = exact_partition(model)
    pts = grid_points(150)
    loc = part.locate(pts)
    assert (loc >= 0).all()
    pre, grad = per_point_affine(model, pts)
    # cross-check the hand-written forward against the model's own
    with torch.no_grad():
        _, pre_t = copy.deepcopy(model).double().forward_with_preactivations(torch.from_numpy(pts))
    assert np.allclose(pre, torch.cat(pre_t, dim=1).numpy(), atol=1e-10)
    dist = np.abs(pre) / np.maximum(np.linalg.norm(grad, axis=2), 1e-300)
    far = dist.min(axis=1) > 1e-9
    assert far.mean() > 0.99
    assert (part.patterns[loc[far]] == (pre[far] > 0)).all()


def test_interior_points_locate_to_their_region():
    part = exact_partition(make_net([10, 10, 10], 1, "relu", 5))
    assert (part.locate(part.interior_points()) == np.arange(part.region_count)).all()
    assert (part.locate(np.array([[1.5, 0.0], [0.0, -1.01]])) == -1).all()


def test_patterns_unique_and_ccw():
    part = exact_partition(make_net([16, 16, 16], 1, "relu", 2))
    packed = np.packbits(part.patterns, axis=1)
    assert len(np.unique(packed, axis=0)) == part.region_count
    for poly in part.polygons():
        e1 = np.roll(poly, -1, axis=0) - poly
        e2 = np.roll(e1, -1, axis=0)
        turn = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        assert (turn >= -1e-12).all()  # convex, counter-clockwise


@settings(max_examples=60, deadline=None)
@given(
    anchors=st.lists(st.tuples(st.floats(-0.8, 0.8), st.floats(-0.8, 0.8), st.floats(0, np.pi)),
                     min_size=1, max_size=12),
)
def test_line_arrangement_face_count(anchors):
    n = len(anchors)
    normals = np.array([[np.cos(t), np.sin(t)] for _, _, t in anchors])
    offsets = np.array([-(nx * x + ny * y) for (x, y, _), (nx, ny) in zip(anchors, normals)])
    crossings = []
    for i in range(n):
        for j in range(i + 1, n):
            M = np.array([normals[i], normals[j]])
            det = np.linalg.det(M)
            assume(abs(det) > 1e-3)  # no (near-)parallel pairs
            p = np.linalg.solve(M, -np.array([offsets[i], offsets[j]]))
            assume(np.abs(np.abs(p) - 1).min() > 1e-4)  # not on the square's border
            if np.abs(p).max() < 1:
                crossings.append(p)
    for a in range(len(crossings)):  # no three lines through (nearly) one point
        for b in range(a + 1, len(crossings)):
            assume(np.linalg.norm(crossings[a] - crossings[b]) > 1e-4)
    model = MLP([n], out_dim=1)
    with torch.no_grad():
        model.linears[0].weight.copy_(torch.from_numpy(normals))
        model.linears[0].bias.copy_(torch.from_numpy(offsets))
    part = exact_partition(model)
    assert part.region_count == 1 + n + len(crossings)


def sawtooth(depth: int) -> MLP:
    """f_l = 2|f_{l-1}| - 2 with |z| = relu(z) + relu(-z); f_0 = x; y is ignored."""
    model = MLP([2] * depth, out_dim=1)
    with torch.no_grad():
        model.linears[0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        model.linears[0].bias.zero_()
        for lin in model.linears[1:-1]:
            lin.weight.copy_(torch.tensor([[2.0, 2.0], [-2.0, -2.0]]))
            lin.bias.copy_(torch.tensor([-2.0, 2.0]))
        model.linears[-1].weight.copy_(torch.tensor([[2.0, 2.0]]))
        model.linears[-1].bias.fill_(-2.0)
    return model


@pytest.mark.parametrize("depth", range(1, 9))
def test_sawtooth_has_2_to_the_L_regions(depth):
    model = sawtooth(depth)
    box = (-2.0, 2.0, -1.0, 1.0)
    part = exact_partition(model, box=box)
    assert part.region_count == 2**depth
    assert region_counts_per_layer(model, box=box) == [2**k for k in range(1, depth + 1)]
    # vertical strips of equal width 4 / 2^L, slopes +-2^L
    widths = np.sort([p[:, 0].max() - p[:, 0].min() for p in part.polygons()])
    assert np.allclose(widths, 4.0 / 2**depth)
    assert np.allclose(np.abs(part.A[:, 0, 0]), 2.0**depth) and np.allclose(part.A[:, 0, 1], 0)


@pytest.mark.parametrize("widths,out_dim,activation", ARCHS)
def test_output_at_vertices_matches_region_map(widths, out_dim, activation):
    model = make_net(widths, out_dim, activation, 11)
    part = exact_partition(model)
    V = part.vertices.reshape(-1, 2)  # padding slots repeat a real vertex
    region = np.repeat(np.arange(part.region_count), part.vertices.shape[1])
    f = forward64(model, V)
    affine = np.einsum("rkd,rd->rk", part.A[region], V) + part.c[region]
    assert np.abs(f - affine).max() < 1e-6


@pytest.mark.parametrize("widths,out_dim,activation", ARCHS)
def test_region_inequalities_gradient_and_polygon(widths, out_dim, activation):
    model = make_net(widths, out_dim, activation, 21)
    part = exact_partition(model)
    m64 = copy.deepcopy(model).double()
    rng = np.random.default_rng(0)
    for r in rng.choice(part.region_count, size=min(10, part.region_count), replace=False):
        x = part.interior_points()[r]
        assert part.locate(x[None])[0] == r
        info = region_inequalities(model, x)
        xt = torch.tensor(x, requires_grad=True)
        jac = torch.autograd.functional.jacobian(lambda z: m64(z[None])[0], xt).numpy()
        assert np.abs(info.A - jac).max() < 1e-5
        assert (info.pattern == part.patterns[r]).all()
        assert abs(info.area - part.areas()[r]) < 1e-9
        assert info.edge_count == part.counts[r]
        # the point satisfies its inequalities
        val = info.a @ x + info.b
        assert ((val > 0) == (info.sign > 0)).all()
        # every edge lies on a binding neuron line or a box side, and binding lines carry edges
        mid = 0.5 * (info.polygon + np.roll(info.polygon, -1, axis=0))
        on_neuron = np.abs(mid @ info.a[info.binding].T + info.b[info.binding]) < 1e-7
        on_box = np.isclose(np.abs(mid), 1.0, atol=1e-12)
        assert (on_neuron.any(axis=1) | on_box.any(axis=1)).all()
        assert on_neuron.any(axis=0).all()
        # the same region from its pattern string
        info2 = region_inequalities(model, part.pattern_strings()[r])
        assert np.allclose(info2.polygon, info.polygon) and np.allclose(info2.A, info.A)


def test_region_inequalities_sawtooth_duplicate_lines():
    # relu(z) and relu(-z) share a line: both bind
    info = region_inequalities(sawtooth(1), (0.5, 0.2))
    assert info.binding.tolist() == [True, True]
    assert info.sign.tolist() == [1, -1]
    assert info.box_binding.tolist() == [False, True, True, True]
    assert np.isclose(info.area, 2.0) and info.edge_count == 4


def test_infeasible_pattern_gives_empty_polygon():
    # z > 0 and -z > 0 at once is impossible
    info = region_inequalities(sawtooth(1), "11")
    assert info.area == 0.0 and info.edge_count == 0 and not info.binding.any()


@pytest.mark.parametrize("widths,out_dim,activation", ARCHS)
def test_layer_counts_non_decreasing(widths, out_dim, activation):
    model = make_net(widths, out_dim, activation, 4)
    counts = [exact_partition(model, max_layers=k).region_count for k in range(len(widths) + 1)]
    assert counts[0] == 1
    assert all(a <= b for a, b in zip(counts, counts[1:]))
    assert region_counts_per_layer(model) == counts[1:]
    partial = exact_partition(model, max_layers=1)
    assert abs(partial.areas().sum() - 4.0) < 1e-9
    if len(widths) > 1:  # the map of an incomplete partition is the last included layer's activations
        assert not partial.complete and partial.A.shape[1] == widths[0]
        pts = partial.interior_points()
        with torch.no_grad():
            _, pre = copy.deepcopy(model).double().forward_with_preactivations(torch.from_numpy(pts))
        act = torch.nn.functional.leaky_relu(pre[0], model.negative_slope).numpy()
        assert np.allclose(np.einsum("rkd,rd->rk", partial.A, pts) + partial.c, act, atol=1e-9)


def test_partition_too_large():
    model = make_net([10, 10], 1, "relu", 0)
    with pytest.raises(PartitionTooLarge):
        exact_partition(model, max_regions=3)
    with pytest.raises(PartitionTooLarge):
        exact_partition(model, deadline=time.monotonic() - 1.0)
    with pytest.raises(PartitionTooLarge):
        region_counts_per_layer(model, max_regions=3)


def test_json_and_svg():
    model = make_net([6, 6], 3, "relu", 1)
    part = exact_partition(model)
    data = json.loads(json.dumps(partition_json(part)))
    assert data["region_count"] == part.region_count == len(data["polygons"]) == len(data["patterns"])
    assert all(len(p.split("|")) == 2 for p in data["patterns"])
    svg = partition_svg(part, size=256)
    assert svg.startswith("<svg") and svg.count("<path") == part.region_count
    # colours are a function of the pattern alone
    colors = bit_pattern_colors(part.patterns)
    assert colors.shape == (part.region_count, 3) and colors.dtype == np.uint8
    assert (bit_pattern_colors(part.patterns[::-1]) == colors[::-1]).all()
    svg2 = partition_svg(part, size=64, colors=["#ff0000"] * part.region_count)
    assert svg2.count('fill="#ff0000"') == part.region_count


def test_dead_network_is_one_region():
    model = MLP([4, 4], out_dim=1)
    with torch.no_grad():
        for lin in model.linears:
            lin.weight.zero_()
            lin.bias.fill_(-1.0)
    part = exact_partition(model)
    assert part.region_count == 1 and not part.patterns.any()
    assert np.allclose(part.c, -1.0) and np.allclose(part.A, 0.0)


def test_exact_and_grid_views_give_a_region_the_same_colour():
    from polytope_lens.geometry.grid import compute_partition

    model = make_net([10, 10], 1, "relu", 3)
    part = exact_partition(model)
    grid = compute_partition(model, 64)
    exact_colors = bit_pattern_colors(part.patterns)
    rows, cols = np.meshgrid(np.arange(3, 64, 7), np.arange(5, 64, 9), indexing="ij")
    xs = -1 + (2 * cols.ravel() + 1) / 64
    ys = 1 - (2 * rows.ravel() + 1) / 64
    located = part.locate(np.stack([xs, ys], axis=1))
    grid_colors = grid.region_colors()[grid.region_ids[rows.ravel(), cols.ravel()]]
    assert (located >= 0).all()
    assert (exact_colors[located] == grid_colors).all()
