"""The slice identity of a clip's network: at a fixed t, the 3-input network (x, y, t) is the 2-input
network whose first bias is b + W[:, 2]·t (geometry/slices.py), and the exact tools apply to it.

Independent checks: the 3-input network's own float64 forward pass at (x, y, t), the grid patterns
of the 3-input network at t against the exact slice's polygons, areas summing to the box."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from polytope_lens.core.model import build_mlp
from polytope_lens.core.settings import RunConfig
from polytope_lens.core.training import Trainer
from polytope_lens.core.images import Target
from polytope_lens.geometry.exact import exact_partition, region_counts_per_layer
from polytope_lens.geometry.slices import fold_time, input_count, slice_model, slice_weights
from polytope_lens.core.network import freeze

TIMES = [-1.0, -0.37, 0.0, 0.25, 1.0]


def clip_net(widths, out_dim=1, activation="relu", seed=0):
    gen = torch.Generator().manual_seed(seed)
    return build_mlp(widths, out_dim=out_dim, activation=activation, negative_slope=0.1, generator=gen, in_dim=3)


def tiny_clip(frames=4, size=1024) -> Target:
    """A bright square that moves right over ``frames`` frames."""
    stack = np.zeros((frames, size, size, 1), dtype=np.uint8)
    for k in range(frames):
        left = size // 8 + k * size // (2 * frames)
        stack[k, size // 3: 2 * size // 3, left: left + size // 4] = 255
    return Target(stack[0].astype(np.float32) / 255.0, frames=stack, duration_s=0.4)


def trained_clip_net():
    config = RunConfig(image="unused", layers="6x3", train_points=400, val_points=100, lr=3e-3)
    trainer = Trainer(config, tiny_clip(), device="cpu")
    trainer.step(30)
    return trainer.model


def nets():
    yield clip_net([8, 8]), "random relu"
    yield clip_net([5, 7, 3], out_dim=3, activation="leaky_relu", seed=2), "random leaky colour"
    yield trained_clip_net(), "trained"


def points(n=2000, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 2))


@pytest.mark.parametrize("t", TIMES)
def test_slice_identity_float64(t):
    """The folded 2-D network equals the 3-input network at (x, y, t) to 1e-9 in float64."""
    for model, name in nets():
        full = copy.deepcopy(model).double()
        sliced = slice_model(full, t)
        assert sliced.in_dim == 2 and full.in_dim == 3
        xy = torch.from_numpy(points())
        xyt = torch.cat([xy, torch.full((xy.shape[0], 1), t, dtype=torch.float64)], dim=1)
        with torch.no_grad():
            expected = full(xyt)
            got = sliced(xy)
        assert torch.max(torch.abs(expected - got)).item() < 1e-9, name
        # the frozen-weights path (what the REST tools read) folds the same way
        arrays = slice_weights(freeze(full), t)
        assert input_count(arrays) == 2
        layers = arrays.affine_layers()
        W0, b0 = (np.asarray(a, dtype=np.float64) for a in layers[0])
        assert np.allclose(W0, full.linears[0].weight.detach().numpy()[:, :2], atol=1e-7)
        fold = full.linears[0].bias.detach().numpy() + full.linears[0].weight.detach().numpy()[:, 2] * t
        assert np.allclose(b0, fold, atol=1e-6)


def test_two_input_networks_are_their_own_slice():
    model = build_mlp([6, 6], generator=torch.Generator().manual_seed(1))
    assert slice_model(model, 0.7) is model
    arrays = freeze(model)
    assert slice_weights(arrays, 0.7) is arrays
    layers = model.affine_layers()
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(fold_time(layers, 0.3), layers))


@pytest.mark.parametrize("t", [-0.8, 0.25, 1.0])
def test_exact_slice_passes_the_exactness_checks(t):
    """Areas sum to 4, and the 3-input network's grid patterns at (x, y, t) are those of the polygon
    each grid point lies in (points near a boundary aside)."""
    for model, name in nets():
        full = copy.deepcopy(model).double()
        part = exact_partition(slice_weights(freeze(full), t))
        assert abs(part.areas().sum() - 4.0) < 1e-9, name
        xy = np.stack(np.meshgrid(np.linspace(-0.999, 0.999, 90) + 1.3e-5,
                                  np.linspace(-0.999, 0.999, 90) - 0.7e-5), axis=-1).reshape(-1, 2)
        xyt = torch.from_numpy(np.concatenate([xy, np.full((len(xy), 1), t)], axis=1))
        with torch.no_grad():
            _, pre = full.forward_with_preactivations(xyt)
        pre = torch.cat(pre, dim=1).numpy()
        loc = part.locate(xy)
        assert (loc >= 0).all()
        far = np.abs(pre).min(axis=1) > 1e-7
        assert far.mean() > 0.95
        assert (part.patterns[loc[far]] == (pre[far] > 0)).all(), name
        # the layer counts of the slice are those of the exact partition
        assert region_counts_per_layer(slice_model(full, t))[-1] == part.region_count


def test_slice_changes_with_t():
    model = trained_clip_net()
    counts = {t: exact_partition(slice_weights(freeze(model), t)).region_count for t in TIMES}
    outputs = [slice_model(model, t)(torch.zeros(1, 2)).item() for t in (-1.0, 1.0)]
    assert outputs[0] != outputs[1]
    assert all(c >= 1 for c in counts.values())


def test_regions_export_and_clip_movie_take_t(tmp_path):
    """`polytope-lens regions CHECKPOINT --t` (export_regions) exports the slice at t; the clip movie
    (output/clipmovie.py) gives one exact count per frame, those of the slices."""
    from polytope_lens.cli import main
    from polytope_lens.core.cliptime import frame_times
    from polytope_lens.output.clipmovie import counts_over_time, write_clip_movie
    from polytope_lens.core.settings import ViewSettings
    import json

    config = RunConfig(image="unused", layers="6x3", train_points=400, val_points=100, lr=3e-3)
    trainer = Trainer(config, tiny_clip(), device="cpu")
    trainer.step(20)
    ckpt = trainer.save(tmp_path / "checkpoint.pt")
    for t in (-0.6, 0.25):
        assert main(["regions", str(ckpt), "--out", str(tmp_path / "r.json"), "--t", str(t)]) == 0
        doc = json.loads((tmp_path / "r.json").read_text())
        assert doc["t"] == t
        assert doc["region_count"] == exact_partition(slice_weights(freeze(trainer.model), t)).region_count
    assert main(["regions", str(ckpt), "--out", str(tmp_path / "r.json"), "--t", "3"]) == 2
    path, rows = write_clip_movie(trainer, tmp_path / "clip.gif", ViewSettings(resolution=32))
    assert path.exists() and len(rows) == 4
    assert [r["exact_regions"] for r in rows] == counts_over_time(trainer.model, frame_times(4))
