"""Shared fixtures: sample pictures, a ring target made in memory, small configs."""

from __future__ import annotations

import io
from pathlib import Path

import os

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
