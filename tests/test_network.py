"""The network contract (core/network.py): the frozen snapshot, its flat layout, pickling without
torch, a slope per hidden layer in every exact tool, and the live MLP against its snapshot."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from polytope_lens.core.model import build_mlp
from polytope_lens.core.network import (
    CLASSIFY, FrozenNetwork, Network, class_count, flat_size, flat_weights, freeze, shared_slope,
)
from polytope_lens.geometry.exact import exact_partition, region_counts_per_layer
from polytope_lens.geometry.grid import compute_partition, compute_partition_direct, grid_points
from polytope_lens.geometry.inspection import autograd_gradient, region_inequalities
from polytope_lens.geometry.slices import slice_model, slice_weights
from polytope_lens.web.wire import encode_frame, weights_frame

BACKEND = Path(__file__).resolve().parents[1] / "backend"


def mlp(widths=(6, 5), out_dim=1, activation="relu", seed=0, in_dim=2):
    return build_mlp(list(widths), out_dim=out_dim, activation=activation, negative_slope=0.2,
                     generator=torch.Generator().manual_seed(seed), in_dim=in_dim)


def mixed_network(seed: int = 3) -> FrozenNetwork:
    """Three hidden layers: ReLU, leaky ReLU 0.3, ReLU (what a network opened from a file may be)."""
    rng = np.random.default_rng(seed)
    sizes = [2, 7, 6, 5, 2]
    layers = [(rng.normal(size=(o, i)) / np.sqrt(i), rng.uniform(-0.5, 0.5, size=o))
              for i, o in zip(sizes[:-1], sizes[1:])]
    return FrozenNetwork(layers, slopes=(0.0, 0.3, 0.0))


def forward(network, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Independent float64 forward pass with each layer's own slope: (patterns, outputs)."""
    h = points.astype(np.float64)
    bits = []
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in network.affine_layers()]
    for (W, b), slope in zip(layers[:-1], network.slopes):
        z = h @ W.T + b
        bits.append(z > 0)
        h = np.where(z > 0, z, slope * z)
    W, b = layers[-1]
    return np.concatenate(bits, axis=1), h @ W.T + b


def test_both_kinds_are_networks_and_freezing_copies():
    model = mlp(activation="leaky_relu")
    frozen = model.freeze()
    assert isinstance(model, Network) and isinstance(frozen, Network)
    assert (frozen.in_dim, frozen.out_dim, frozen.widths) == (2, 1, [6, 5])
    assert frozen.slopes == model.slopes == (0.2, 0.2) and frozen.task == model.task == "regress"
    assert freeze(frozen) is frozen
    W, _ = frozen.affine_layers()[0]
    assert not W.flags.writeable
    before = frozen.flat()
    with torch.no_grad():
        model.linears[0].weight.add_(1.0)  # training goes on: the snapshot does not move
    assert frozen.flat() == before != flat_weights(model)


def test_flat_layout_round_trip_is_byte_identical():
    model = mlp(widths=(5, 3), out_dim=3, activation="leaky_relu", seed=1)
    data = flat_weights(model)
    assert len(data) == flat_size([5, 3], 3)
    frozen = FrozenNetwork.from_flat(data, [5, 3], 3, 0.2)
    assert frozen.flat() == data == model.freeze().flat()
    # built from arrays, not from bytes, it writes the same layout
    rebuilt = FrozenNetwork([(W.numpy().copy(), b.numpy().copy()) for W, b in model.affine_layers()], 0.2)
    assert rebuilt.flat() == data
    for (W, b), (W2, b2) in zip(model.affine_layers(), frozen.affine_layers()):
        assert np.array_equal(W.numpy(), W2) and np.array_equal(b.numpy(), b2)
    clip = mlp(in_dim=3, seed=2)
    assert FrozenNetwork.from_flat(flat_weights(clip), [6, 5], 1, 0.0, in_dim=3).flat() == flat_weights(clip)
    with pytest.raises(ValueError):
        FrozenNetwork.from_flat(data[:-4], [5, 3], 3, 0.2)
    with pytest.raises(ValueError):
        FrozenNetwork.from_flat(data, [5, 3], 3, (0.2,))  # one slope per hidden layer


def test_weights_frame_is_byte_identical_to_the_documented_one():
    model = mlp(widths=(4, 4), out_dim=3, activation="leaky_relu")
    header = {"step": 7, "regions": 12}
    documented = encode_frame({**header, "render": "client", "widths": [4, 4], "out_dim": 3, "negative_slope": 0.2,
                               "slopes": [0.2, 0.2], "in_dim": 2}, [("weights", flat_weights(model))])
    assert weights_frame(header, model) == weights_frame(header, model.freeze()) == documented


def test_pickles_as_arrays_and_unpickles_and_partitions_without_torch():
    network = mixed_network()
    again = pickle.loads(pickle.dumps(network))
    assert again.flat() == network.flat() and again.slopes == network.slopes
    assert not again.affine_layers()[0][0].flags.writeable
    expected = exact_partition(network).region_count
    script = (
        "import pickle, sys\n"
        "sys.modules['torch'] = None  # any import of torch fails\n"
        "network = pickle.loads(sys.stdin.buffer.read())\n"
        "from polytope_lens.geometry.exact import exact_partition\n"
        "print(type(network).__name__, network.slopes, exact_partition(network).region_count)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(BACKEND)}
    done = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(network), capture_output=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().split() == ["FrozenNetwork", "(0.0,", "0.3,", "0.0)", str(expected)]


def test_a_slope_per_layer_in_the_exact_partition_checked_by_an_independent_forward_pass():
    network = mixed_network()
    part = exact_partition(network)
    assert np.isclose(part.areas().sum(), 4.0)
    # every region's interior point: the forward pass gives the region's pattern and output map
    inside = part.interior_points()
    bits, out = forward(network, inside)
    assert np.array_equal(bits, part.patterns)
    mapped = np.einsum("rkd,rd->rk", part.A, inside) + part.c
    assert np.allclose(mapped, out, atol=1e-9)
    assert len(set(part.pattern_strings())) == part.region_count  # one region per pattern
    # random points: located region's map gives the forward output (a single slope would not)
    pts = np.random.default_rng(0).uniform(-1, 1, size=(4000, 2))
    where = part.locate(pts)
    assert (where >= 0).all()
    pbits, pout = forward(network, pts)
    assert np.allclose(np.einsum("nkd,nd->nk", part.A[where], pts) + part.c[where], pout, atol=1e-9)
    same = (pbits == part.patterns[where]).all(axis=1)
    assert same.mean() > 0.99  # the rest lie within rounding of a boundary
    uniform = FrozenNetwork(network.affine_layers(), 0.0)
    assert not np.allclose(forward(uniform, pts)[1], pout)  # the middle layer's slope matters here


def test_a_slope_per_layer_in_the_grid_inspector_and_layer_counts():
    network = mixed_network()
    part = exact_partition(network)
    grid = compute_partition(network, 256)
    assert np.array_equal(grid.region_ids, compute_partition_direct(network, 256).region_ids)
    pixel_bits, pixel_out = forward(network, grid_points(256))
    assert np.allclose(grid.prediction.reshape(-1, 2), pixel_out, atol=1e-5)
    from polytope_lens.geometry.patterns import unpack_patterns

    grid_patterns = {p.tobytes() for p in unpack_patterns(grid.region_words, sum(network.widths))}
    exact_patterns = {p.tobytes() for p in part.patterns}
    assert grid_patterns <= exact_patterns  # the grid sees a subset (it misses sub-pixel regions) ...
    # ... exactly the exact regions that hold a pixel centre
    assert grid.region_count == np.unique(part.locate(grid_points(256).astype(np.float64))).size
    assert region_counts_per_layer(network)[-1] == part.region_count
    point = (0.31, -0.42)
    info = region_inequalities(network, np.array(point))
    out, grad = autograd_gradient(network, point)
    assert np.allclose(grad, info.A, atol=1e-9)
    assert np.allclose(forward(network, np.array([point]))[1][0], out, atol=1e-9)


def test_the_live_mlp_and_its_snapshot_give_identical_partitions():
    for activation in ("relu", "leaky_relu"):
        model = mlp(widths=(10, 8, 6), activation=activation, seed=4)
        live, frozen = exact_partition(model), exact_partition(model.freeze())
        for field in ("vertices", "counts", "patterns", "A", "c"):
            assert np.array_equal(getattr(live, field), getattr(frozen, field)), field
        assert np.array_equal(compute_partition(model, 128).region_ids,
                              compute_partition(model.freeze(), 128).region_ids)


def test_a_clip_moment_is_a_frozen_network_like_the_live_slice():
    model = mlp(in_dim=3, activation="leaky_relu", seed=5)
    frozen = model.freeze()
    for t in (-1.0, 0.25):
        moment = slice_model(frozen, t)
        assert isinstance(moment, FrozenNetwork) and moment.in_dim == 2 and moment.slopes == frozen.slopes
        assert moment.flat() == slice_weights(model, t).flat() == freeze(slice_model(model, t)).flat()


def test_the_task_travels_with_the_network():
    model = build_mlp([4], out_dim=3, task=CLASSIFY)
    frozen = pickle.loads(pickle.dumps(model.freeze()))
    assert frozen.task == CLASSIFY and class_count(frozen) == 3 and class_count(mlp()) is None
    assert slice_weights(frozen, 0.0).task == CLASSIFY
    assert shared_slope(frozen) == 0.0
    with pytest.raises(ValueError):
        shared_slope(mixed_network())
    with pytest.raises(ValueError):
        FrozenNetwork(frozen.affine_layers(), 0.0, task="segment")
