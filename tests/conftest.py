"""Shared fixtures: sample pictures, a ring target made in memory, small configs."""

from __future__ import annotations

import fcntl
import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import settings
from PIL import Image

from polytope_lens.core.settings import IMAGE_SIZE, RunConfig
from polytope_lens.core.images import Target
from polytope_lens.core.samples import SAMPLES_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]

# Property-based tests draw the same examples on every run, so a CI result does not depend
# on luck; POLYTOPE_LENS_HYPOTHESIS=explore draws new ones each run (to hunt for bugs).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile(os.environ.get("POLYTOPE_LENS_HYPOTHESIS", "repeatable"))

# One torch thread: the tests run on a shared 2-core machine, where two OpenMP threads
# competing with other processes make small-network steps many times slower.
torch.set_num_threads(1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Under pytest-xdist, a test marked ``solo`` (timing-sensitive: latencies, frame rates) runs while
    no other worker runs a test; every other test may run beside any other but a solo one.

    A readers-writer lock on two files in the run's temp folder, held through a test's whole
    protocol (the module fixtures it sets up or tears down too): a test passes the turnstile and
    enters the room shared, a solo one exclusively; a solo test waiting holds the turnstile, so no
    new test enters before it.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # one process: nothing runs beside it
        yield
        return
    folder = item.config._tmp_path_factory.getbasetemp().parent  # the run's, above the workers' own
    solo = item.get_closest_marker("solo") is not None
    with open(folder / "solo-turnstile.lock", "a") as turnstile, open(folder / "solo-room.lock", "a") as room:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(room, fcntl.LOCK_EX if solo else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLES_DIR


def ring_values(size: int = IMAGE_SIZE) -> np.ndarray:
    """The sample ring's geometry: black annulus 0.35 <= r <= 0.6 on white, (size, size, 1) in [0, 1]."""
    c = -1.0 + (2.0 * np.arange(size) + 1.0) / size
    r = np.hypot(c[None, :], c[::-1, None])
    return np.where((r >= 0.35) & (r <= 0.6), 0.0, 1.0).astype(np.float32)[:, :, None]


@pytest.fixture(scope="session")
def ring_target() -> Target:
    """A 1024x1024 grayscale ring made in memory (no file needed)."""
    return Target(ring_values())


@pytest.fixture
def small_config():
    """Factory for a RunConfig that trains in milliseconds: ``small_config(layers="8x2", ...)``."""

    def make(**overrides) -> RunConfig:
        base = dict(image="ring", layers="8x3", train_points=1000, val_points=200, batch_size=256)
        return RunConfig(**{**base, **overrides})

    return make


@pytest.fixture(scope="session")
def encode():
    """``encode(img, "PNG", **save_params) -> bytes``: a picture as the bytes of a file."""

    def _encode(img: Image.Image, fmt: str, **params) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **params)
        return buf.getvalue()

    return _encode
