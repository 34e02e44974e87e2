"""A refused classification picture names the colours it nearly counted (core/classes.py):
their typical RGB, their size and the per-channel tolerance that would take them."""

from __future__ import annotations

import numpy as np
import pytest

from polytope_lens.core.classes import MIN_CLASS_PIXELS, TOLERANCE, ClassError, find_classes, near_misses
from polytope_lens.core.images import Target

SIZE = 1024


def halves(left, right) -> Target:
    """Left half one colour, right half another (RGB 0..255), 1024x1024."""
    img = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    img[:, : SIZE // 2] = left
    img[:, SIZE // 2 :] = right
    return Target(img / 255.0)


def test_a_refusal_names_the_near_miss_colour_and_the_tolerance_that_takes_it():
    with pytest.raises(ClassError) as err:
        find_classes(halves((255, 0, 0), (30, 60, 200)))  # red, and a blue 60 from pure blue
    message = str(err.value)
    assert err.value.field == "image" and "at least 2 classes" in message and "found red" in message
    assert "a blue of RGB 30,60,200" in message
    assert f"{SIZE * SIZE // 2 - 2 * SIZE:,} pixels" in message  # the half less the edge margin's column strip
    assert "a tolerance of 60 would take it" in message and f"the rule's is {TOLERANCE}" in message


def test_gray_white_and_black_are_never_near_misses():
    with pytest.raises(ClassError) as err:
        find_classes(halves((255, 0, 0), (128, 128, 128)))
    assert "Not counted" not in str(err.value)
    for colour in ((255, 255, 255), (0, 0, 0), (128, 128, 128)):
        rgb = np.broadcast_to(np.array(colour, dtype=np.int16), (256, 256, 3))
        assert near_misses(rgb) == []


def test_a_near_miss_is_reported_only_when_large_enough_and_not_counted():
    rgb = np.zeros((256, 256, 3), dtype=np.int16)
    rgb[:] = (255, 0, 0)
    rgb[:40, :40] = (0, 200, 0)  # 1,600 pixels, fewer than MIN_CLASS_PIXELS
    assert 40 * 40 < MIN_CLASS_PIXELS and near_misses(rgb) == []
    rgb[:100, :100] = (0, 200, 0)  # green at 55
    (miss,) = near_misses(rgb)
    assert miss.rgb == (0, 200, 0) and miss.tolerance == 55
    assert near_misses(rgb, skip=[miss.palette]) == []
    # within the tolerance it is a class, not a near miss: the picture is accepted
    classes = find_classes(halves((255, 0, 0), (20, 30, 230)))
    assert classes.names == ("red", "blue")
