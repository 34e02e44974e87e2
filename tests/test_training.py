"""Trainer: reproducibility, optimisers, full batch, divergence, checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from polytope_lens.core.settings import RunConfig
from polytope_lens.core.images import load_target
from polytope_lens.core.training import Trainer, TrainingDiverged, trainer_from_checkpoint


def same_weights(a: Trainer, b: Trainer) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()))


def test_bit_for_bit_reproducible_on_cpu(ring_target, small_config):
    a = Trainer(small_config(seed=7), ring_target, device="cpu")
    b = Trainer(small_config(seed=7), ring_target, device="cpu")
    assert a.step(50) == b.step(50)
    assert same_weights(a, b)
    assert a.losses() == b.losses()


def test_different_seeds_differ(ring_target, small_config):
    a = Trainer(small_config(seed=1), ring_target, device="cpu")
    b = Trainer(small_config(seed=2), ring_target, device="cpu")
    assert not torch.equal(a.model.linears[0].weight, b.model.linears[0].weight)
    assert not torch.equal(a.train_x, b.train_x)


@pytest.mark.parametrize(
    "optimizer, lr", [("adam", 3e-3), ("sgd", 0.1), ("sgd_momentum", 0.02), ("rmsprop", 1e-3)]
)
def test_each_optimizer_lowers_the_loss(ring_target, small_config, optimizer, lr):
    t = Trainer(small_config(optimizer=optimizer, lr=lr), ring_target, device="cpu")
    before = t.losses()
    t.step(300)
    after = t.losses()
    # The net starts as a flat guess at the mean (loss = the target's variance); every
    # optimiser must get clearly below that within a few hundred steps.
    assert after.train < 0.8 * before.train
    assert after.val < 0.8 * before.val
    assert type(t.optimizer).__name__ == {"adam": "Adam", "rmsprop": "RMSprop"}.get(optimizer, "SGD")


def test_full_batch(ring_target, small_config):
    t = Trainer(small_config(train_points=500, batch_size=4096, optimizer="sgd", lr=0.01), ring_target, device="cpu")
    assert t.config.effective_batch_size == 500
    for _ in range(5):
        full_loss = t.losses().train
        # A full-batch step's loss is the loss on all training points before the update.
        assert t.step(1) == pytest.approx(full_loss, rel=1e-6)
    assert t.losses().train < full_loss


def test_huge_learning_rate_diverges_cleanly(ring_target, small_config):
    t = Trainer(small_config(layers="14x6", optimizer="sgd", lr=10.0), ring_target, device="cpu")
    with pytest.raises(TrainingDiverged, match=r"diverged .* put back to step 0\. Try a smaller learning rate"):
        t.step(100)
    assert t.step_count == 0
    assert all(torch.isfinite(p).all() for p in t.model.parameters())
    t.apply_training(lr=1e-3)  # the run can go on after the user lowers the rate
    assert math.isfinite(t.step(10))


def test_non_finite_weight_is_rolled_back(ring_target, small_config):
    t = Trainer(small_config(), ring_target, device="cpu")
    t.step(20)
    good = t.losses()  # a measurement is a known-finite snapshot
    saved = {k: v.clone() for k, v in t.model.state_dict().items()}
    t.step(5)
    with torch.no_grad():
        t.model.linears[1].weight[0, 0] = float("inf")
    with pytest.raises(TrainingDiverged, match="diverged"):
        t.step(1)
    assert t.step_count == 20
    assert all(torch.equal(v, saved[k]) for k, v in t.model.state_dict().items())
    assert t.losses() == good


def test_checkpoint_resume_is_identical_to_uninterrupted(ring_target, small_config, tmp_path):
    config = small_config(optimizer="adam", lr=3e-3)
    straight = Trainer(config, ring_target, device="cpu")
    straight.step(70)

    first = Trainer(config, ring_target, device="cpu")
    first.step(40)
    path = first.save(tmp_path / "run" / "checkpoint.pt")
    resumed = trainer_from_checkpoint(path, device="cpu")
    assert resumed.step_count == 40 and resumed.config == config
    resumed.step(30)
    assert resumed.step_count == 70
    assert same_weights(straight, resumed)


def test_resume_with_other_optimizer_and_lr(ring_target, small_config, tmp_path):
    t = Trainer(small_config(optimizer="adam"), ring_target, device="cpu")
    t.step(30)
    path = t.save(tmp_path / "c.pt")

    sgd = trainer_from_checkpoint(path, {"optimizer": "sgd", "lr": 0.02}, device="cpu")
    assert sgd.step_count == 30 and same_weights(sgd, t)
    assert type(sgd.optimizer).__name__ == "SGD" and sgd.optimizer.param_groups[0]["lr"] == 0.02
    before = sgd.losses().train
    sgd.step(100)
    assert sgd.losses().train < before

    slower = trainer_from_checkpoint(path, {"lr": 1e-4}, device="cpu")  # same optimiser: its state is kept
    assert slower.optimizer.param_groups[0]["lr"] == 1e-4
    assert len(slower.optimizer.state) == len(t.optimizer.state) > 0


@pytest.mark.slow
def test_ring_14x6_reaches_low_validation_error(sample_dir):
    target = load_target(sample_dir / "ring.png")
    t = Trainer(RunConfig(image="ring", layers="14x6"), target, device="cpu")  # the shipped defaults otherwise
    t.step(6000)
    losses = t.losses()
    variance = float(target.values.var())
    assert losses.val <= 0.01, losses
    assert losses.val < 0.1 * variance
