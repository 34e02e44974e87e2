"""Region dynamics (polytope_lens.dynamics): edge band, region density, the live exact count."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from polytope_lens.geometry import dynamics as dynamics
from polytope_lens.geometry.dynamics import (
    STATUS_EXACT,
    STATUS_PENDING,
    STATUS_TOO_LARGE,
    LiveGeometry,
    dilate,
    edge_mask,
    region_density,
)
from polytope_lens.geometry.decision import decision_regions
from polytope_lens.geometry.exact import exact_partition
from polytope_lens.core.images import Target
from polytope_lens.core.model import build_mlp
from polytope_lens.geometry.grid import compute_partition


def test_dilate_matches_brute_force():
    rng = np.random.default_rng(0)
    mask = rng.random((37, 29)) < 0.03
    for radius in (0, 1, 3):
        expected = np.zeros_like(mask)
        for r, c in zip(*np.nonzero(mask)):
            expected[max(0, r - radius): r + radius + 1, max(0, c - radius): c + radius + 1] = True
        assert (dilate(mask, radius) == expected).all()


def test_edge_mask_of_a_vertical_step():
    """Black left half, white right half: the band is the columns within the distance of x = 0."""
    values = np.zeros((1024, 1024, 1), dtype=np.float32)
    values[:, 512:] = 1.0
    R = 64
    mask = edge_mask(values, R, distance=0.125)  # 0.125 * 64 / 2 = 4 cells each side
    cols = np.flatnonzero(mask.any(axis=0))
    assert mask[:, cols].all()  # whole columns
    assert cols.tolist() == list(range(31 - 4, 32 + 4 + 1))  # edge pixels 511|512 land in cells 31|32
    assert not edge_mask(np.full((1024, 1024), 0.5, np.float32), R).any()  # no edges, no band
    # colour: a jump in one channel is an edge
    rgb = np.zeros((1024, 1024, 3), dtype=np.float32)
    rgb[:512, :, 2] = 1.0
    rows = np.flatnonzero(edge_mask(rgb, R, distance=0.0).any(axis=1))
    assert rows.tolist() == [30, 31, 32, 33]  # cells 31|32, widened by at least one cell


def test_region_density_on_known_blocks():
    """Left half cut into 4x4-pixel blocks, right half one region; the band is the left half."""
    R = 32
    ids = np.zeros((R, R), dtype=np.int32)
    rows, cols = np.indices((R, 16))
    ids[:, :16] = 1 + (rows // 4) * 4 + cols // 4  # 8 x 4 = 32 blocks
    near = np.zeros((R, R), dtype=bool)
    near[:, :16] = True
    d_near, d_far = region_density(ids, near, region_count=33)
    assert d_near == pytest.approx(32 / 2.0)  # 32 regions on half the square (area 2)
    assert d_far == pytest.approx(1 / 2.0)
    assert region_density(ids, np.zeros((R, R), bool)) == (None, pytest.approx(33 / 4.0))


def _net(seed: int, widths=(14,) * 4):
    return build_mlp(list(widths), generator=torch.Generator().manual_seed(seed))


def _trainer(model, step: int = 0, target=None):
    if target is None:
        values = np.ones((1024, 1024, 1), dtype=np.float32)
        values[256:768, 256:768] = 0.0
        target = Target(values)
    return SimpleNamespace(model=model, step_count=step, target=target)


def test_live_geometry_inline_count_and_density():
    model = _net(1)
    part = compute_partition(model, 64)
    geo = LiveGeometry()
    trainer = _trainer(model, step=7)
    f = geo.frame_fields(trainer, part, live=False)
    exact = exact_partition(model)
    assert f["exact_status"] == STATUS_EXACT and f["exact_step"] == 7
    assert f["exact_regions"] == exact.region_count
    assert f["exact_layer_counts"][-1] == exact.region_count and len(f["exact_layer_counts"]) == 4
    near, far = region_density(part.region_ids, edge_mask(trainer.target.values, 64), part.region_count)
    assert f["edge_density_near"] == pytest.approx(near, abs=1e-3)
    assert f["edge_density_far"] == pytest.approx(far, abs=1e-3)


def test_live_geometry_too_large_stops_trying_until_a_new_network(monkeypatch):
    calls = []
    real = dynamics.region_counts_and_patterns

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dynamics, "region_counts_and_patterns", counting)
    model = _net(2)
    part = compute_partition(model, 32)
    geo = LiveGeometry(max_regions=10)
    trainer = _trainer(model)
    for step in (0, 1, 2):
        trainer.step_count = step
        f = geo.frame_fields(trainer, part, live=False)
        assert f["exact_status"] == STATUS_TOO_LARGE and f["exact_regions"] is None
    assert len(calls) == 1  # tried once, then said so without trying again
    geo.max_regions = None
    trainer.model = _net(3)  # configure / reset: a new model object
    f = geo.frame_fields(trainer, compute_partition(trainer.model, 32), live=False)
    assert f["exact_status"] == STATUS_EXACT and len(calls) == 2
    geo.max_regions = 10
    trainer.step_count = 0  # going back (a diverged run put back to an earlier step) is a new network too
    f = geo.frame_fields(trainer, part, live=False)
    assert f["exact_status"] == STATUS_TOO_LARGE and len(calls) == 3


def test_live_geometry_background_while_running():
    model = _net(4)
    part = compute_partition(model, 32)
    clock = [100.0]
    geo = LiveGeometry(clock=lambda: clock[0])
    trainer = _trainer(model, step=10)
    first = geo.frame_fields(trainer, part, live=True)
    assert first["exact_status"] in (STATUS_PENDING, STATUS_EXACT)
    deadline = time.monotonic() + 10
    while geo.frame_fields(trainer, part, live=True)["exact_status"] != STATUS_EXACT:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    f = geo.frame_fields(trainer, part, live=True)
    assert f["exact_step"] == 10 and f["exact_regions"] == exact_partition(model).region_count
    # the weights change; until the interval has passed, frames keep the tagged older value
    with torch.no_grad():
        model.linears[0].bias.add_(0.05)
    trainer.step_count = 11
    f = geo.frame_fields(trainer, part, live=True)
    assert f["exact_step"] == 10
    clock[0] += 10.0
    geo.frame_fields(trainer, part, live=True)  # submits
    while geo.frame_fields(trainer, part, live=True)["exact_step"] != 11:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert geo.frame_fields(trainer, part, live=True)["exact_regions"] == exact_partition(model).region_count


def test_live_geometry_drops_answers_for_a_replaced_network():
    gate = threading.Event()
    jobs = []

    class Held:
        def submit(self, fn, *args):
            jobs.append(threading.Thread(target=lambda: (gate.wait(5), fn(*args))))
            jobs[-1].start()

    geo = LiveGeometry(executor=Held())
    old = _trainer(_net(5), step=50)
    part = compute_partition(old.model, 32)
    assert geo.frame_fields(old, part, live=True)["exact_status"] == STATUS_PENDING
    new = _trainer(_net(6), step=0)
    f = geo.frame_fields(new, part, live=False)  # the new network is counted inline
    assert f["exact_step"] == 0
    gate.set()
    jobs[0].join(5)
    f = geo.frame_fields(new, part, live=False)
    assert f["exact_step"] == 0 and f["exact_regions"] == exact_partition(new.model).region_count


def test_paused_count_past_the_live_budget_goes_on_and_reports(monkeypatch):
    """Paused, a count that overruns the live budget is finished on a thread of its own (issue 12:
    "too large" was shown for a network whose count took 1.1 s)."""
    model = _net(7)
    part = compute_partition(model, 32)
    updates = threading.Semaphore(0)
    geo = LiveGeometry(max_regions=10, pause_budget_s=20.0, on_update=updates.release)
    trainer = _trainer(model, step=711)
    f = geo.frame_fields(trainer, part, live=False)
    assert f["exact_status"] in (dynamics.STATUS_COUNTING, STATUS_EXACT)
    assert updates.acquire(timeout=20), "the owner is told when the count is done"
    while geo.exact_fields()["exact_status"] == dynamics.STATUS_COUNTING:
        assert updates.acquire(timeout=20)
    f = geo.exact_fields()
    assert f["exact_status"] == STATUS_EXACT and f["exact_step"] == 711
    assert f["exact_regions"] == exact_partition(model).region_count
    # it keeps its polygons: the live origami surface of a count past the budget
    generation, step, _, kept, _ = geo.exact_surface()
    assert step == 711 and kept.region_count == f["exact_regions"]
    assert geo.exact_patterns(711).shape[0] == f["exact_regions"]
    # the same step again is answered from the result, not counted again
    assert geo.frame_fields(trainer, part, live=False)["exact_regions"] == f["exact_regions"]


def test_a_classifiers_paused_count_brings_its_decision_fields():
    model = build_mlp([10, 10, 10], out_dim=3, generator=torch.Generator().manual_seed(4))
    part = compute_partition(model, 32)
    updates = threading.Semaphore(0)
    geo = LiveGeometry(max_regions=5, pause_budget_s=20.0, on_update=updates.release)
    trainer = SimpleNamespace(**vars(_trainer(model, step=5)), classes=object())
    geo.frame_fields(trainer, part, live=False)
    while geo.exact_fields()["exact_status"] == dynamics.STATUS_COUNTING:
        assert updates.acquire(timeout=20)
    f = geo.exact_fields(classify=True)
    pieces = decision_regions(exact_partition(model))
    assert f["exact_status"] == STATUS_EXACT and f["boundary_regions"] == pieces.regions_crossed
    assert f["boundary_length"] == pytest.approx(pieces.boundary_length, abs=1e-4)
    assert geo.exact_surface()[4].counts.shape == pieces.counts.shape


def test_paused_count_is_cancelled_by_the_next_command(monkeypatch):
    started, stopped = threading.Event(), threading.Event()

    def endless(model, max_regions=None, deadline=None, progress=None):  # region_counts_and_patterns
        if max_regions == 10:  # the inline attempt within the live budget
            raise dynamics.PartitionTooLarge("more than 10 regions")
        started.set()
        try:
            while time.monotonic() < deadline:
                progress(0.5, 100)
                time.sleep(0.01)
        finally:
            stopped.set()
        raise dynamics.PartitionTooLarge("deadline")

    monkeypatch.setattr(dynamics, "region_counts_and_patterns", endless)
    model = _net(8)
    part = compute_partition(model, 32)
    geo = LiveGeometry(max_regions=10, pause_budget_s=30.0)
    trainer = _trainer(model, step=3)
    assert geo.frame_fields(trainer, part, live=False)["exact_status"] == dynamics.STATUS_COUNTING
    assert started.wait(5)
    assert geo.exact_fields()["exact_progress"] == 0.5
    geo.cancel()
    assert stopped.wait(2), "a cancelled count stops at its next progress report"
    assert geo.exact_fields()["exact_status"] == STATUS_TOO_LARGE


def test_running_count_that_overran_is_retried_with_back_off(monkeypatch):
    calls = []
    real = dynamics.region_counts_and_patterns
    monkeypatch.setattr(dynamics, "region_counts_and_patterns", lambda *a, **k: (calls.append(1), real(*a, **k))[1])

    class Now:
        def submit(self, fn, *args):
            fn(*args)

    clock = [0.0]
    model = _net(9)
    part = compute_partition(model, 32)
    geo = LiveGeometry(executor=Now(), clock=lambda: clock[0], max_regions=10)
    trainer = _trainer(model, step=1000)
    assert geo.frame_fields(trainer, part, live=True)["exact_status"] in (STATUS_PENDING, STATUS_TOO_LARGE)
    assert geo.exact_fields()["exact_status"] == STATUS_TOO_LARGE and len(calls) == 1
    clock[0] += dynamics.RETRY_FIRST_S / 2
    geo.frame_fields(trainer, part, live=True)
    assert len(calls) == 1  # waits for the back-off
    clock[0] += dynamics.RETRY_FIRST_S
    geo.frame_fields(trainer, part, live=True)
    assert len(calls) == 2  # ... then tries again (and waits twice as long after another miss)
    clock[0] += dynamics.RETRY_FIRST_S * 1.5
    geo.frame_fields(trainer, part, live=True)
    assert len(calls) == 2
    geo.max_regions = None  # the network now fits the budget
    clock[0] += dynamics.RETRY_FIRST_S * 2
    trainer.step_count = 1100
    geo.frame_fields(trainer, part, live=True)
    f = geo.exact_fields()
    assert len(calls) == 3 and f["exact_status"] == STATUS_EXACT and f["exact_step"] == 1100
