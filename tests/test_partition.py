"""Grid partition: orientation, exact hand-checkable nets, exact pattern identity, stable colours."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polytope_lens.core.images import pixel_to_point
from polytope_lens.core.model import MLP, build_mlp
from polytope_lens.geometry.grid import compute_partition, exact_unique, grid_points
from polytope_lens.geometry.patterns import pack_patterns, unpack_patterns
from polytope_lens.core.training import Trainer


def test_grid_points_orientation():
    p = grid_points(4).reshape(4, 4, 2)
    assert p[0, 0] == pytest.approx((-0.75, 0.75))  # row 0 is the top, column 0 the left
    assert p[0, 1] == pytest.approx((-0.25, 0.75))  # x grows along a row
    assert p[1, 0] == pytest.approx((-0.75, 0.25))  # y falls down the rows
    assert p[3, 3] == pytest.approx((0.75, -0.75))
    rows, cols = np.divmod(np.arange(64 * 64), 64)
    assert np.array_equal(grid_points(64), pixel_to_point(rows, cols, 64))  # same convention as images.py


def test_one_hidden_layer_boundaries_follow_its_lines():
    r = 128
    net = build_mlp([7], generator=torch.Generator().manual_seed(3))
    part = compute_partition(net, r)
    w, b = (t.numpy().astype(np.float64) for t in net.affine_layers()[0])
    pts = grid_points(r).astype(np.float64)
    dist = np.abs(pts @ w.T + b) / np.linalg.norm(w, axis=1)  # (pixels, neurons)
    nearest = dist.min(axis=1).reshape(r, r)
    step = 2.0 / r  # pixel pitch: a boundary pixel has a neighbour this far away across a line
    assert part.boundary.any()
    assert nearest[part.boundary].max() <= step * (1 + 1e-4)
    assert not part.boundary[nearest > step * (1 + 1e-4)].any()
    for i in range(w.shape[0]):
        crosses = dist[:, i].min() < 0.5 * step and (dist[:, i] > 0.5).any()  # line runs through the square
        if crosses:
            assert (part.boundary.ravel() & (dist[:, i] <= step * (1 + 1e-4))).any()
    assert part.region_count <= 1 + 7 + 21  # at most 1 + n + C(n, 2) regions for n lines


def sawtooth_net(depth: int) -> MLP:
    """f_l = 2|f_{l-1}| - 2 with |z| = relu(z) + relu(-z), on u = 2x so the grid's [-1, 1] covers [-2, 2]."""
    net = MLP([2] * depth, out_dim=1)
    with torch.no_grad():
        for i, lin in enumerate(net.linears):
            if i == 0:
                lin.weight.copy_(torch.tensor([[2.0, 0.0], [-2.0, 0.0]]))  # relu(u), relu(-u), u = 2x
                lin.bias.zero_()
            elif i < depth:
                lin.weight.copy_(torch.tensor([[2.0, 2.0], [-2.0, -2.0]]))  # relu(+-f_{l-1}), f = 2(h1+h2) - 2
                lin.bias.copy_(torch.tensor([-2.0, 2.0]))
            else:
                lin.weight.copy_(torch.tensor([[2.0, 2.0]]))
                lin.bias.copy_(torch.tensor([-2.0]))
    return net


def sawtooth(u: np.ndarray, depth: int) -> np.ndarray:
    f = u
    for _ in range(depth):
        f = 2 * np.abs(f) - 2
    return f


@pytest.mark.parametrize("depth", [1, 2, 4, 6])
def test_sawtooth_has_two_to_the_depth_regions(depth):
    r = 256  # pixel centres are odd multiples of 1/256: never on a kink (multiples of 2^-depth)
    part = compute_partition(sawtooth_net(depth), r)
    assert part.region_count == 2**depth
    row = part.region_ids[r // 3]
    assert np.count_nonzero(row[1:] != row[:-1]) == 2**depth - 1
    assert (part.region_ids == row[None, :]).all()  # depends on x only
    x = grid_points(r)[:r, 0]
    assert np.array_equal(part.prediction[0, :, 0], sawtooth(2.0 * x, depth).astype(np.float32))


@st.composite
def pattern_sets(draw):
    """Bool patterns with many duplicates and near-duplicates (one bit apart)."""
    width = draw(st.integers(1, 200))
    distinct = draw(st.integers(1, 40))
    rows = draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = rng.random((distinct, width)) < draw(st.sampled_from([0.05, 0.5, 0.95]))
    flips = rng.integers(0, width, distinct)
    near = base.copy()
    near[np.arange(distinct), flips] ^= True  # each base pattern's neighbour, one bit away
    pool = np.concatenate([base, near])
    return pool[rng.integers(0, len(pool), rows)]


@settings(max_examples=150, deadline=None)
@given(pattern_sets())
def test_exact_unique_never_merges_or_splits(bits):
    words = pack_patterns(bits)
    assert words.dtype == np.uint64 and words.shape[1] == (bits.shape[1] + 63) // 64
    assert np.array_equal(unpack_patterns(words, bits.shape[1]), bits)
    region_words, inverse = exact_unique(words)
    assert np.array_equal(region_words[inverse], words)  # no two different patterns share an id
    assert len(region_words) == len({tuple(row) for row in bits})  # no pattern gets two ids


def test_every_single_bit_is_told_apart():
    width = 130  # three words; differences in the last, partly used word too
    bits = np.vstack([np.zeros((1, width), bool), np.eye(width, dtype=bool)])
    region_words, inverse = exact_unique(pack_patterns(bits))
    assert len(region_words) == width + 1 and len(set(inverse.tolist())) == width + 1


def adjacent_region_pairs(ids: np.ndarray) -> np.ndarray:
    pairs = [np.stack([a[a != b], b[a != b]], 1) for a, b in ((ids[:, 1:], ids[:, :-1]), (ids[1:], ids[:-1]))]
    return np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)


def test_colours_follow_patterns_across_frames(ring_target, small_config):
    trainer = Trainer(small_config(layers="8x3", lr=1e-3), ring_target, device="cpu")
    before = compute_partition(trainer.model, 128)
    trainer.step(1)
    after = compute_partition(trainer.model, 128)
    pattern_before = before.region_words[before.region_ids]
    pattern_after = after.region_words[after.region_ids]
    same = (pattern_before == pattern_after).all(axis=2)
    assert 0.5 < same.mean() < 1.0  # a small step moves some boundaries, not all
    assert np.array_equal(before.color_image()[same], after.color_image()[same])
    # Colours identify regions: neighbours almost always look different.
    pairs = adjacent_region_pairs(before.region_ids)
    colors = before.region_colors().astype(int)
    distance = np.abs(colors[pairs[:, 0]] - colors[pairs[:, 1]]).sum(axis=1)
    assert len(pairs) > 50
    assert (distance > 30).mean() > 0.85
