"""Three-panel frames: layout, boundary and region colours, sample dots, caption."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from polytope_lens.core.images import Target, sample_points
from polytope_lens.core.model import build_mlp
from polytope_lens.geometry.grid import GridPartition, boundary_mask, compute_partition
from polytope_lens.output.boundaries import FADE_EIGHTHS, boundary_lines, draw_boundaries, line_opacity
from polytope_lens.output.render import (
    BOUNDARY_COLOR,
    caption_height_for,
    GAP,
    REGION_EDGE_COLOR,
    TRAIN_COLOR,
    VAL_COLOR,
    FrameInfo,
    png_bytes,
    prediction_rgb,
    render_frame,
    target_rgb,
)

GRAY = Target(np.full((1024, 1024, 1), 0.5, np.float32))
INFO = FrameInfo(step=1200, train_loss=0.0123, val_loss=0.0456, regions=321, architecture="2-14x6-1 ReLU")


def partition(r: int):
    return compute_partition(build_mlp([6, 6], generator=torch.Generator().manual_seed(0)), r)


def panel(frame: Image.Image, index: int, r: int) -> np.ndarray:
    x = GAP + index * (r + GAP)
    return np.asarray(frame)[GAP : GAP + r, x : x + r]


@pytest.mark.parametrize("r", [256, 512])
def test_frame_size_and_panels(r):
    part = partition(r)
    tp = target_rgb(GRAY, None, r)
    frame = render_frame(part, tp, INFO)
    assert frame.size == (3 * r + 4 * GAP, r + 2 * GAP + caption_height_for(r))
    assert render_frame(part, tp).size == (3 * r + 4 * GAP, r + 2 * GAP)  # no caption, no caption strip
    pred = prediction_rgb(part.prediction)
    assert np.array_equal(panel(frame, 1, r), pred)
    assert np.array_equal(panel(frame, 2, r), tp)
    first = panel(frame, 0, r)
    lines = boundary_lines(part)
    assert lines.any() and not (lines & ~part.boundary).any()
    solid = lines & (line_opacity(lines) == 8)
    assert solid.mean() > 0.8 * lines.mean()  # a 6x6 net: almost no crowding at these sizes
    assert (first[solid] == BOUNDARY_COLOR).all()
    assert np.array_equal(first[~lines], pred[~lines])


def _ids_partition(ids: np.ndarray) -> GridPartition:
    n = ids.shape[0]
    return GridPartition(n, 1, ids.astype(np.int32), None, boundary_mask(ids), np.zeros((n, n, 1)))


def test_boundaries_are_one_pixel_wide_and_fade_where_regions_are_denser_than_pixels():
    ids = np.zeros((8, 8), dtype=np.int32)
    ids[:, 5:] = 1  # one vertical edge between columns 4 and 5
    lines = boundary_lines(_ids_partition(ids))
    assert lines[:, 4].all() and lines.sum() == 8  # painted on one side only
    assert (line_opacity(lines)[lines] == 8).all()
    # every pixel its own region (a network denser than the grid): faded, never solid
    crowded = np.arange(64, dtype=np.int32).reshape(8, 8)
    part = _ids_partition(crowded)
    lines = boundary_lines(part)
    inner = line_opacity(lines)[1:-2, 1:-2]
    assert (inner == FADE_EIGHTHS[9]).all() and FADE_EIGHTHS[9] < 8
    black = np.zeros((8, 8, 3), dtype=np.uint8)
    drawn = draw_boundaries(black, part, BOUNDARY_COLOR)
    a = FADE_EIGHTHS[9]
    assert tuple(drawn[3, 3]) == tuple((c * a + 4) // 8 for c in BOUNDARY_COLOR)


def test_fill_regions_uses_region_colours():
    r = 256
    part = partition(r)
    tp = target_rgb(GRAY, None, r)
    filled = panel(render_frame(part, tp, fill_regions=True), 0, r)
    colours = part.color_image()
    lines = boundary_lines(part)
    assert np.array_equal(filled[~lines], colours[~lines])
    solid = lines & (line_opacity(lines) == 8)
    assert (filled[solid] == REGION_EDGE_COLOR).all()
    plain = panel(render_frame(part, tp, fill_regions=True, show_boundaries=False), 0, r)
    assert np.array_equal(plain, colours)
    assert np.array_equal(panel(render_frame(part, tp, show_boundaries=False), 0, r), prediction_rgb(part.prediction))


@pytest.mark.parametrize("size, dot", [(512, 2), (256, 1)])
def test_target_panel_dots(size, dot):
    sample = sample_points(GRAY, 300, 100, seed=0)
    img = target_rgb(GRAY, sample, size)
    assert img.shape == (size, size, 3)
    scale = size / 1024

    def covered(pixels):
        mask = np.zeros((size, size), bool)
        rows, cols = (pixels[:, 0] * scale).astype(int), (pixels[:, 1] * scale).astype(int)
        for dr in range(dot):
            for dc in range(dot):
                mask[np.minimum(rows + dr, size - 1), np.minimum(cols + dc, size - 1)] = True
        return mask

    val = covered(sample.val_pixels)
    train = covered(sample.train_pixels) & ~val  # validation dots are drawn last, on top
    assert (img[val] == VAL_COLOR).all()
    assert (img[train] == TRAIN_COLOR).all()
    assert train.sum() > 250 * dot * dot * 0.8
    assert (img[~(val | train)] == 128).all()  # the rest is the gray target


def test_caption_is_drawn_below_the_panels():
    r = 256
    frame = np.asarray(render_frame(partition(r), target_rgb(GRAY, None, r), INFO))
    strip = frame[r + 2 * GAP :]
    assert strip.shape[0] == caption_height_for(r)
    assert (strip.min(axis=2) < 100).sum() > 200  # dark text on the light strip
    assert "step 1200" in INFO.caption() and "regions 321" in INFO.caption() and "2-14x6-1 ReLU" in INFO.caption()


def test_png_bytes_round_trip():
    img = render_frame(partition(64), target_rgb(GRAY, None, 64), INFO)
    back = Image.open(io.BytesIO(png_bytes(img)))
    assert back.format == "PNG" and np.array_equal(np.asarray(back.convert("RGB")), np.asarray(img))


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (513, 257)])
def test_png_bytes_is_lossless_at_odd_sizes(size):
    noise = np.random.default_rng(sum(size)).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    back = Image.open(io.BytesIO(png_bytes(Image.fromarray(noise))))
    assert back.size == size and np.array_equal(np.asarray(back.convert("RGB")), noise)
