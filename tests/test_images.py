"""Decoding every supported format and mode, error messages, and point sampling."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from polytope_lens.core.images import ImageError, Target, load_target, pixel_to_point, sample_points

LEFT, RIGHT = np.s_[:, 64:448], np.s_[:, 576:960]  # halves of the target, clear of the resampled middle edge


def halves(left, right, mode: str = "L", size: int = 64) -> Image.Image:
    """A picture whose left half is ``left`` and right half ``right`` (colours in ``mode``)."""
    img = Image.new(mode, (size, size), right)
    img.paste(left, (0, 0, size // 2, size))
    return img


def check_target(t: Target, channels: int = 1) -> np.ndarray:
    assert t.values.shape == (1024, 1024, channels)
    assert t.values.dtype == np.float32
    assert 0.0 <= t.values.min() and t.values.max() <= 1.0
    return t.values[:, :, 0] if channels == 1 else t.values


@pytest.mark.parametrize(
    "fmt, params, tol",
    [
        ("PNG", {}, 0.0),
        ("JPEG", {"quality": 95}, 0.03),
        ("WEBP", {"quality": 95}, 0.03),
        ("BMP", {}, 0.0),
        ("TIFF", {}, 0.0),
        ("GIF", {}, 0.0),
    ],
)
def test_every_format_loads(encode, fmt, params, tol):
    v = check_target(load_target(encode(halves((0, 0, 0), (255, 255, 255), "RGB"), fmt, **params)))
    assert abs(v[LEFT].mean()) <= tol + 1e-6
    assert abs(v[RIGHT].mean() - 1.0) <= tol + 1e-6


def test_animated_gif_uses_first_frame(encode):
    frames = [Image.new("L", (64, 64), 0), Image.new("L", (64, 64), 255)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    v = check_target(load_target(data))
    assert v.max() == 0.0


RED_GRAY = round(0.299 * 255) / 255  # ITU-R 601 luma of pure red, as Pillow's L conversion


def paletted_with_transparency() -> Image.Image:
    img = halves(0, 1, "P")
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # index 0 black, 1 red
    img.info["transparency"] = 0
    return img


def rgba_half_transparent() -> Image.Image:
    return halves((0, 0, 0, 0), (0, 0, 0, 255), "RGBA")


def sixteen_bit() -> Image.Image:
    a = np.zeros((64, 64), np.uint16)
    a[:, :32], a[:, 32:] = 65535, 32768  # both past 8 bits: must scale, not clip
    return Image.fromarray(a)


@pytest.mark.parametrize(
    "make, fmt, left, right",
    [
        (lambda: halves(40, 200, "L"), "PNG", 40 / 255, 200 / 255),
        (lambda: halves((0, 0), (0, 255), "LA"), "PNG", 1.0, 0.0),  # transparent left -> white
        (paletted_with_transparency, "PNG", 1.0, RED_GRAY),
        (lambda: halves((255, 0, 0), (0, 0, 0), "RGB"), "PNG", RED_GRAY, 0.0),
        (rgba_half_transparent, "PNG", 1.0, 0.0),
        (lambda: halves((0, 0, 0, 255), (0, 0, 0, 0), "CMYK"), "TIFF", 0.0, 1.0),
        (sixteen_bit, "PNG", 1.0, 32768 / 65535),
        (lambda: halves(0, 1, "1"), "PNG", 0.0, 1.0),
    ],
    ids=["L", "LA", "P-transparency", "RGB", "RGBA", "CMYK", "I;16", "1-bit"],
)
def test_every_mode_loads(encode, make, fmt, left, right):
    img = make()
    v = check_target(load_target(encode(img, fmt)))
    assert v[LEFT].mean() == pytest.approx(left, abs=2 / 255)
    assert v[RIGHT].mean() == pytest.approx(right, abs=2 / 255)


def test_exif_orientation_is_applied(encode):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the stored left side shows on top
    data = encode(halves(0, 255, "L"), "JPEG", quality=95, exif=exif.tobytes())
    v = check_target(load_target(data))
    assert v[64:448].mean() < 0.03  # top
    assert v[576:960].mean() > 0.97  # bottom
    assert abs(v[:, 64:448].mean() - 0.5) < 0.05  # left half is no longer all black


@pytest.mark.parametrize("size, box", [((300, 100), (100, 0, 200, 100)), ((100, 300), (0, 100, 100, 200))])
def test_centre_crop_of_non_square_picture(encode, size, box):
    img = Image.new("L", size, 0)
    img.paste(255, box)  # only the centre square is white
    v = check_target(load_target(encode(img, "PNG")))
    # The resampling filter reaches ~24 px past the crop (see report): check the rest.
    assert v[32:-32, 32:-32].min() > 0.99


def test_color_option_gives_three_channels(encode):
    data = encode(halves((255, 0, 0), (0, 0, 255), "RGB"), "PNG")
    v = check_target(load_target(data, color=True), channels=3)
    assert np.allclose(v[LEFT].reshape(-1, 3).mean(axis=0), [1, 0, 0], atol=1e-3)
    assert np.allclose(v[RIGHT].reshape(-1, 3).mean(axis=0), [0, 0, 1], atol=1e-3)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"this is a text file, not a picture" * 10, "not a picture"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "picture"),
    ],
    ids=["empty", "text", "png-signature-then-junk"],
)
def test_bad_bytes_raise_readable_error(data, words):
    with pytest.raises(ImageError, match=words):
        load_target(data)


def test_truncated_picture_raises(encode):
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "PNG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_target(data[: len(data) // 2])


def test_missing_file_and_limits(tmp_path, encode):
    with pytest.raises(ImageError, match="no such file"):
        load_target(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="not supported"):
        load_target(encode(Image.new("L", (64, 64)), "PPM"))
    with pytest.raises(ImageError, match="at least 8"):
        load_target(encode(Image.new("L", (4, 64)), "PNG"))
    with pytest.raises(ImageError, match="differ by more than"):
        load_target(encode(Image.new("L", (2000, 50)), "PNG"))


# -- sampling -------------------------------------------------------------------


def test_sampling_disjoint_without_replacement_and_seeded(ring_target):
    s = sample_points(ring_target, 5000, 1000, seed=3)
    flat = lambda px: px[:, 0] * 1024 + px[:, 1]  # noqa: E731
    train, val = flat(s.train_pixels), flat(s.val_pixels)
    assert len(np.unique(train)) == 5000 and len(np.unique(val)) == 1000
    assert not np.intersect1d(train, val).size
    again = sample_points(ring_target, 5000, 1000, seed=3)
    assert np.array_equal(s.train_pixels, again.train_pixels) and np.array_equal(s.val_x, again.val_x)
    other = sample_points(ring_target, 5000, 1000, seed=4)
    assert not np.array_equal(s.train_pixels, other.train_pixels)


def test_sampling_maps_pixels_to_coordinates_and_values():
    # Every pixel of an 8x8 target whose value encodes its index: exact checks, corner by corner.
    values = (np.arange(64, dtype=np.float32).reshape(8, 8, 1)) / 63
    s = sample_points(Target(values), 60, 4, seed=0)
    pixels = np.concatenate([s.train_pixels, s.val_pixels])
    points = np.concatenate([s.train_x, s.val_x])
    ys = np.concatenate([s.train_y, s.val_y])
    assert len({tuple(p) for p in pixels}) == 64
    for (row, col), point, y in zip(pixels, points, ys):
        assert point == pytest.approx([-1 + (2 * col + 1) / 8, 1 - (2 * row + 1) / 8])
        assert y[0] == values[row, col, 0]
    corner = {tuple(p): tuple(x) for p, x in zip(pixels, points)}
    assert corner[(0, 0)] == pytest.approx((-0.875, 0.875))  # top-left: x near -1, y near +1
    assert corner[(0, 7)] == pytest.approx((0.875, 0.875))  # top-right
    assert corner[(7, 0)] == pytest.approx((-0.875, -0.875))  # bottom-left
    assert pixel_to_point(np.array([0]), np.array([0]))[0] == pytest.approx((-1 + 1 / 1024, 1 - 1 / 1024))


def test_sample_values_match_the_target(ring_target):
    s = sample_points(ring_target, 2000, 500, seed=1)
    rows, cols = s.train_pixels.T
    assert np.array_equal(s.train_y, ring_target.values[rows, cols])
    r = np.hypot(s.train_x[:, 0], s.train_x[:, 1])
    inside = (r > 0.36) & (r < 0.59)
    assert np.all(s.train_y[inside] == 0) and np.all(s.train_y[(r < 0.34) | (r > 0.61)] == 1)
