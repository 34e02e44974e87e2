"""The fast grid partition (refinement) against a direct, naive evaluation of every pixel.

Exactness is the point: the same regions (equivalence classes of pixels, the same
patterns), the same count, the identical boundary mask; the prediction agrees to
float rounding, and the websocket's uint8 prediction within one level.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytope_lens.geometry import grid as part_mod
from polytope_lens.core.model import MLP, build_mlp
from polytope_lens.geometry.grid import compute_partition, grid_points
from polytope_lens.geometry.patterns import pack_patterns
from polytope_lens.core.training import Trainer
from polytope_lens.web.wire import decode_frame, partition_frame


@torch.no_grad()
def naive_reference(model: MLP, r: int) -> dict:
    """Every pixel through the network in one batch; regions from np.unique on the packed bits.

    ``tie`` marks pixels with a pre-activation within float32 rounding of zero: there the sign
    depends on how BLAS groups the sums for a given batch shape, which differs between CPUs, so
    either pattern is right (seen on a 2-core VM: one pixel of 16k with |z| = 7e-9 at scale 6).
    """
    out, pre = model.forward_with_preactivations(torch.from_numpy(grid_points(r)))
    bits = torch.cat([z > 0 for z in pre], dim=1).numpy()
    margin = torch.cat([z.abs() / z.abs().max().clamp_min(1e-30) for z in pre], dim=1).min(dim=1).values
    words = pack_patterns(bits)
    _, ids = np.unique(words, axis=0, return_inverse=True)
    ids = ids.reshape(r, r)
    return {"words": words.reshape(r, r, -1), "ids": ids, "boundary": boundary_of(ids),
            "prediction": out.numpy().reshape(r, r, -1), "tie": (margin < 1e-6).numpy().reshape(r, r)}


def boundary_of(ids: np.ndarray) -> np.ndarray:
    boundary = np.zeros(ids.shape, dtype=bool)
    horiz, vert = ids[:, 1:] != ids[:, :-1], ids[1:] != ids[:-1]
    boundary[:, 1:] |= horiz
    boundary[:, :-1] |= horiz
    boundary[1:] |= vert
    boundary[:-1] |= vert
    return boundary


def assert_same_partition(model: MLP, r: int) -> None:
    ref = naive_reference(model, r)
    fast = compute_partition(model, r)
    assert fast.region_ids.shape == (r, r) and fast.boundary.shape == (r, r)
    assert fast.prediction.shape == ref["prediction"].shape
    # Same patterns: every pixel's region carries exactly the pixel's own activation pattern,
    # except at a rounding tie, where either sign is right.
    same = np.all(fast.region_words[fast.region_ids] == ref["words"], axis=-1)
    assert not (~same & ~ref["tie"]).any()
    assert len(np.unique(fast.region_words, axis=0)) == fast.region_count  # no pattern twice
    assert np.array_equal(fast.boundary, boundary_of(fast.region_ids))
    if same.all():
        # Same equivalence classes: the pairs (reference id, fast id) form a bijection.
        pairs = np.unique(np.stack([ref["ids"].ravel(), fast.region_ids.ravel()], axis=1), axis=0)
        assert len(pairs) == len(np.unique(ref["ids"])) == fast.region_count
        assert np.array_equal(fast.boundary, ref["boundary"])
    assert np.abs(fast.prediction - ref["prediction"]).max() <= 1e-4
    # The bytes the websocket sends: prediction within one level of the direct one.
    header, sections = decode_frame(partition_frame(fast, {"step": 0}))
    sent = np.frombuffer(sections["prediction"], np.uint8).reshape(ref["prediction"].shape)
    direct = np.clip(np.rint(ref["prediction"] * 255.0), 0, 255).astype(np.int16)
    assert np.abs(sent.astype(np.int16) - direct).max() <= 1
    bits = np.unpackbits(np.frombuffer(sections["boundary"], np.uint8), count=r * r).reshape(r, r)
    assert np.array_equal(bits.astype(bool), fast.boundary)
    assert header["regions"] == fast.region_count


def random_net(widths, out_dim=1, activation="relu", seed=0) -> MLP:
    return build_mlp(widths, out_dim=out_dim, activation=activation, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "widths, out_dim, activation",
    [
        ([14] * 6, 1, "relu"),
        ([10] * 10 + [2] + [10] * 3, 1, "relu"),
        ([64] * 4, 1, "relu"),
        ([8, 8], 3, "relu"),
        ([12] * 3, 1, "leaky_relu"),
        ([20] * 3, 3, "leaky_relu"),
        ([5], 1, "relu"),
        ([70, 9], 1, "relu"),  # two words per pattern, the second one partly used
    ],
)
@pytest.mark.parametrize("r", [16, 17, 63, 128, 200])
def test_random_nets_match_the_direct_evaluation(widths, out_dim, activation, r):
    assert_same_partition(random_net(widths, out_dim, activation, seed=len(widths) + r), r)


@pytest.mark.parametrize(
    "layers, color, activation",
    [("14x6", False, "relu"), ("10x10,2,10x3", False, "relu"), ("8x4", True, "relu"), ("12x3", False, "leaky_relu")],
)
def test_trained_nets_match_the_direct_evaluation(ring_target, small_config, layers, color, activation):
    target = ring_target
    if color:
        from polytope_lens.core.images import Target

        target = Target(np.repeat(ring_target.values, 3, axis=2) * np.array([1.0, 0.5, 0.2], np.float32))
    trainer = Trainer(small_config(layers=layers, color=color, activation=activation, lr=3e-3), target, device="cpu")
    trainer.step(300)
    for r in (64, 256, 512):
        assert_same_partition(trainer.model, r)


def test_large_grid_of_a_trained_default_net(ring_target, small_config):
    trainer = Trainer(small_config(layers="14x6", lr=3e-3), ring_target, device="cpu")
    trainer.step(400)
    assert_same_partition(trainer.model, 1024)


def test_sawtooth_and_degenerate_nets():
    # Exactly representable values and exact zeros: a net whose layers are all off
    # somewhere (pre-activations exactly equal to the bias) and a constant net.
    net = MLP([2, 2, 2], out_dim=1)
    with torch.no_grad():
        net.linears[0].weight.copy_(torch.tensor([[2.0, 0.0], [-2.0, 0.0]]))
        net.linears[0].bias.zero_()
        for lin in net.linears[1:-1]:
            lin.weight.copy_(torch.tensor([[2.0, 2.0], [-2.0, -2.0]]))
            lin.bias.copy_(torch.tensor([-2.0, 2.0]))
        net.linears[-1].weight.copy_(torch.tensor([[2.0, 2.0]]))
        net.linears[-1].bias.copy_(torch.tensor([-2.0]))
    for r in (16, 64, 256):
        assert_same_partition(net, r)
    flat = MLP([4, 4], out_dim=1)
    with torch.no_grad():
        for lin in flat.linears:
            lin.weight.zero_()
            lin.bias.fill_(-1.0)
    for r in (16, 100):
        assert_same_partition(flat, r)
        assert compute_partition(flat, r).region_count == 1


def test_a_hash_collision_falls_back_to_the_direct_method(monkeypatch):
    """Every pattern gets the same key: the bit check must catch it and the result stay exact."""
    net = random_net([40, 40], seed=3)  # 80 hidden units: hashed keys
    monkeypatch.setattr(part_mod, "_pattern_keys", lambda words, plain: np.zeros(words.shape[0], np.uint64))
    called = []
    direct = part_mod.compute_partition_direct
    monkeypatch.setattr(part_mod, "compute_partition_direct", lambda m, r: called.append(r) or direct(m, r))
    assert_same_partition(net, 64)
    assert called == [64]


def test_evaluates_only_a_fraction_of_a_trained_grid(ring_target, small_config, monkeypatch):
    trainer = Trainer(small_config(layers="14x6", lr=3e-3), ring_target, device="cpu")
    trainer.step(300)
    evaluated = []
    original = part_mod._Evaluator.__call__

    def counting(self, layers, slope, pts, *args, **kwargs):
        evaluated.append(pts.shape[1])
        return original(self, layers, slope, pts, *args, **kwargs)

    monkeypatch.setattr(part_mod._Evaluator, "__call__", counting)
    compute_partition(trainer.model, 512)
    assert sum(evaluated) < 0.35 * 512 * 512
