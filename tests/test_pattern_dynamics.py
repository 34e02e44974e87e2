"""Issue 15: pattern churn, region births and deaths, dead neurons (geometry/pattern_dynamics.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytope_lens.core.model import build_mlp
from polytope_lens.core.settings import RunConfig
from polytope_lens.core.training import Trainer
from polytope_lens.geometry.exact import exact_partition
from polytope_lens.geometry.grid import compute_partition
from polytope_lens.geometry.pattern_dynamics import births_and_deaths, changed_fraction, dead_mask
from polytope_lens.geometry.patterns import pack_patterns
from polytope_lens.output.frames import FrameProducer

R = 64


def _trainer(ring_target, **settings) -> Trainer:
    config = RunConfig(**{"layers": "8x3", "train_points": 500, "val_points": 100, "batch_size": 500, **settings})
    return Trainer(config, ring_target)


def test_churn_is_zero_at_learning_rate_zero(ring_target):
    trainer = _trainer(ring_target, optimizer="sgd")
    frames = FrameProducer()
    frames.frame(trainer, R, live=False)
    for group in trainer.optimizer.param_groups:  # the settings keep lr > 0; the optimiser itself takes 0
        group["lr"] = 0.0
    trainer.step(20)
    fields = frames.frame(trainer, R, live=False).geometry
    assert fields["pattern_churn"] == 0.0 and fields["pattern_churn_total"] == 0.0
    assert fields["churn_since_step"] == 0 and fields["churn_total_since_step"] == 0
    assert fields["region_births"] == fields["region_deaths"] == 0


def test_churn_is_one_after_reinitialisation_and_the_start_moves(ring_target):
    trainer = _trainer(ring_target)
    frames = FrameProducer()
    frames.frame(trainer, R, live=False)
    trainer.step(10)
    assert 0.0 < frames.frame(trainer, R, live=False).geometry["pattern_churn"] < 1.0  # trained a little
    trainer.reset(seed=12345)  # a new initialisation: every pixel's pattern is another
    fields = frames.frame(trainer, R, live=False).geometry
    assert fields["pattern_churn"] == 1.0
    assert fields["pattern_churn_total"] == 0.0 and fields["churn_total_since_step"] == 0  # a new start


def test_churn_counts_pixels_whose_pattern_changed():
    a = compute_partition(build_mlp([6, 6], generator=torch.Generator().manual_seed(0)), 48)
    b = compute_partition(build_mlp([6, 6], generator=torch.Generator().manual_seed(1)), 48)
    pa, pb = a.region_words[a.region_ids.ravel()], b.region_words[b.region_ids.ravel()]
    expected = np.mean((pa != pb).any(axis=1))
    assert changed_fraction(a.region_ids, a.region_words, b.region_ids, b.region_words) == pytest.approx(expected)
    # wide patterns (several words): the same answer
    wide_a = np.repeat(a.region_words, 10, axis=1)
    wide_b = np.repeat(b.region_words, 10, axis=1)
    assert changed_fraction(a.region_ids, wide_a, b.region_ids, wide_b) == pytest.approx(expected)
    assert changed_fraction(a.region_ids, a.region_words, a.region_ids, a.region_words) == 0.0


def test_births_minus_deaths_is_the_change_in_region_count(ring_target):
    trainer = _trainer(ring_target)
    frames = FrameProducer()
    previous = frames.frame(trainer, R, live=False)
    for _ in range(4):
        trainer.step(15)
        frame = frames.frame(trainer, R, live=False)
        f, p = frame.geometry, previous.geometry
        assert f["births_source"] == "exact"
        assert f["region_births"] - f["region_deaths"] == f["exact_regions"] - p["exact_regions"]
        assert f["region_births"] + f["region_deaths"] > 0
        grid = births_and_deaths(previous.partition.region_words, frame.partition.region_words)
        assert grid[0] - grid[1] == frame.partition.region_count - previous.partition.region_count
        previous = frame


def _brute_force_dead(model) -> np.ndarray:
    """Neurons whose pre-activation is <= 0 at every vertex of every exact region (an affine function on a
    polygon is largest at a vertex), evaluated by torch, and at a dense grid of points besides."""
    part = exact_partition(model)
    vertices = np.concatenate([v for v in part.polygons()])
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 201), np.linspace(-1, 1, 201)), -1).reshape(-1, 2)
    points = torch.tensor(np.concatenate([vertices, grid]), dtype=torch.float64)
    with torch.no_grad():
        _, pre = model.double().forward_with_preactivations(points)
    peak = torch.cat([z.max(dim=0).values for z in pre]).numpy()
    return peak <= 1e-9 * max(1.0, float(np.abs(peak).max()))


@pytest.mark.parametrize("seed", range(6))
def test_dead_neurons_agree_with_a_brute_force_check(seed):
    gen = torch.Generator().manual_seed(seed)
    model = build_mlp([7, 7, 7], activation="relu" if seed % 2 else "leaky_relu", generator=gen)
    with torch.no_grad():  # kill a few neurons for sure (and leave others nearly dead)
        for layer in model.linears[:-1]:
            layer.bias[:2] -= 3.0
    exact = exact_partition(model)
    dead = dead_mask(pack_patterns(exact.patterns), sum(model.widths))
    expected = _brute_force_dead(model)
    assert dead.any() and np.array_equal(dead, expected)
    # the grid's answer may only add neurons (it can miss a thin region where one is on)
    grid = compute_partition(model.float(), 256)
    grid_dead = dead_mask(grid.region_words, sum(model.widths))
    assert (grid_dead | ~dead).all()


def test_dead_fields_in_frames(ring_target):
    trainer = _trainer(ring_target)
    with torch.no_grad():
        trainer.model.linears[1].bias[3] = -100.0  # neuron 4 of layer 2: off everywhere
    fields = FrameProducer().frame(trainer, R, live=False).geometry
    assert fields["dead_neurons_source"] == "exact"
    assert fields["dead_neurons"][1] >= 1 and fields["dead_pattern"].split("|")[1][3] == "1"
    assert sum(fields["dead_neurons"]) == fields["dead_pattern"].count("1")
