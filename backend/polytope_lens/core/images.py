"""Pictures become targets: decode, normalise, sample training and validation points.

Coordinates: the 1024x1024 target covers the square [-1, 1]^2. Pixel (row, col)
has its centre at x = -1 + (2*col + 1)/1024 (left to right) and
y = 1 - (2*row + 1)/1024 (top row is y close to +1), i.e. the usual maths
orientation with y pointing up.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .cliptime import frame_times
from .settings import IMAGE_SIZE

# Limits for pictures (docs/guide.md "Limits").
MAX_SOURCE_PIXELS = 50_000_000  # a decompression bomb declares far more than this
MAX_ASPECT_RATIO = 20.0
MIN_SIDE = 8
SUPPORTED_FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF", "MPO"}


class ImageError(ValueError):
    """A picture that cannot become a target; the message is for a person."""


class UnsupportedImage(ImageError):
    """Not a picture at all, or a kind of file that is not supported (HTTP 415)."""


@dataclass(frozen=True, eq=False)
class Target:
    """A normalised target: values in [0, 1], shape (1024, 1024, channels).

    A clip (core/clips.py) also holds all its frames as uint8 (F, H, W, C) in ``frames``;
    ``values`` is then its first frame, and the network takes (x, y, t) instead of (x, y).
    """

    values: np.ndarray  # float32 (H, W, C), C = 1 or 3
    frames: np.ndarray | None = None  # uint8 (F, H, W, C) of a clip, F >= 2; None for a picture
    duration_s: float = 0.0  # a clip's length in seconds

    @property
    def channels(self) -> int:
        return self.values.shape[2]

    @property
    def frame_count(self) -> int:
        return 1 if self.frames is None else int(self.frames.shape[0])

    @property
    def in_dim(self) -> int:
        """Inputs of a network learning this target: (x, y), or (x, y, t) for a clip."""
        return 2 if self.frames is None else 3

    def frame_arrays(self) -> list[np.ndarray]:
        """Every frame as uint8 (H, W, C)."""
        return [self.to_uint8()] if self.frames is None else list(self.frames)

    def frame(self, k: int) -> "Target":
        """Frame k as a still target (a picture is its own only frame)."""
        if self.frames is None:
            return self
        return Target(np.ascontiguousarray(self.frames[k].astype(np.float32) / 255.0))

    def to_uint8(self) -> np.ndarray:
        return np.clip(np.rint(self.values * 255.0), 0, 255).astype(np.uint8)

    def to_pil(self) -> Image.Image:
        arr = self.to_uint8()
        return Image.fromarray(arr[:, :, 0], "L") if self.channels == 1 else Image.fromarray(arr, "RGB")


def open_image(source: str | Path | bytes) -> Image.Image:
    """Decode a picture (first frame of an animation), checking it before pixels are read.

    Raises UnsupportedImage for files that are not (supported) pictures and
    ImageError for damaged pictures and pictures past the limits above.
    """
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    if isinstance(source, (bytes, bytearray)) and len(source) == 0:
        raise UnsupportedImage("the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream)
            fmt = img.format
            if fmt not in SUPPORTED_FORMATS:
                raise UnsupportedImage(
                    f"{fmt or 'this'} pictures are not supported; use PNG, JPEG, WebP, BMP, TIFF or GIF"
                )
            width, height = img.size
            if width * height > MAX_SOURCE_PIXELS:
                raise ImageError(
                    f"the picture declares {width}x{height} pixels, more than the "
                    f"{MAX_SOURCE_PIXELS:,}-pixel limit"
                )
            if max(width, height) > MAX_ASPECT_RATIO * max(1, min(width, height)):
                raise ImageError(
                    f"the picture is {width}x{height}; its sides differ by more than {MAX_ASPECT_RATIO:g}:1"
                )
            if min(width, height) < MIN_SIDE:
                raise ImageError(f"the picture is {width}x{height}; each side must be at least {MIN_SIDE} pixels")
            img.seek(0)  # first frame of GIF/WebP/TIFF animations
            img.load()
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"no such file: {source}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"the picture declares more pixels than the {MAX_SOURCE_PIXELS:,}-pixel limit "
            "(it could be a decompression bomb)"
        ) from None
    except UnidentifiedImageError:
        kind = _picture_kind(source)
        if kind:  # the signature of a supported format, but the rest cannot be read
            raise ImageError(f"the {kind} picture is damaged or truncated (its header cannot be read)") from None
        raise UnsupportedImage(_unidentified(source)) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError) as exc:
        # Pillow's decoders raise a zoo of exceptions for damaged files.
        raise ImageError(f"the picture is damaged or truncated ({str(exc)[:200]})") from None
    except MemoryError:
        raise ImageError("the picture is too large to decode") from None
    return img


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _picture_kind(source) -> str | None:
    """The supported format whose signature the bytes start with, if any."""
    if not isinstance(source, (bytes, bytearray)):
        return None
    head = bytes(source[:16])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    for magic, kind in _SIGNATURES:
        if head.startswith(magic) and (kind != "BMP" or len(source) > 26):
            return kind
    return None


def _unidentified(source) -> str:
    """Words for a file Pillow does not recognise, naming common mix-ups."""
    head = b""
    if isinstance(source, (bytes, bytearray)):
        head = bytes(source[:1024])
    lowered = head.lstrip().lower()
    kinds = [
        (b"%pdf", "a PDF document"),
        (b"pk\x03\x04", "a ZIP archive"),
        (b"<svg", "an SVG drawing"),
        (b"<?xml", "an SVG drawing" if b"<svg" in lowered else "an XML document"),
        (b"<!doctype html", "an HTML page"),
        (b"<html", "an HTML page"),
    ]
    for magic, kind in kinds:
        if lowered.startswith(magic):
            what = kind
            break
    else:
        what = None
    if what is None and head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        what = "text"
    accepted = "PNG, JPEG, WebP, BMP, TIFF or GIF"
    if what and "SVG" in what:
        return f"the file is {what}; vector pictures are not supported, export it as PNG first ({accepted})"
    if what:
        return f"the file is {what}, not a picture ({accepted})"
    return f"the file is not a picture that can be read ({accepted})"


def to_rgb(img: Image.Image) -> Image.Image:
    """Any mode to RGB, transparent parts composited onto white, EXIF orientation applied."""
    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16/32-bit integer gray: scale by the actual bit depth, not a clip to 8 bits.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        finite = np.isfinite(arr)
        if not finite.any():
            raise ImageError(
                "the picture has no usable pixel values: every pixel of this floating-point picture "
                "is NaN or infinite"
            )
        lo, hi = float(arr[finite].min()), float(arr[finite].max())
        # what is not a number counts as the darkest value, infinities as the ends of the range
        arr = np.where(np.isnan(arr), lo, np.clip(arr, lo, hi))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        img = Image.fromarray(((arr - lo) * scale).astype(np.uint8), "L")
    elif mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        ground = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(ground, rgba)
    return img.convert("RGB")


def square_1024(img: Image.Image) -> Image.Image:
    """Centre-crop to a square and resize to 1024x1024."""
    # Crop first: resizing with a crop box lets LANCZOS read pixels outside the square.
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = img.crop((left, top, left + side, top + side))
    return square.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)


def normalise(img: Image.Image, color: bool = False) -> Target:
    rgb = square_1024(to_rgb(img))
    if color:
        values = np.asarray(rgb, dtype=np.float32) / 255.0
    else:
        values = (np.asarray(rgb.convert("L"), dtype=np.float32) / 255.0)[:, :, None]
    return Target(np.ascontiguousarray(values))


def load_target(source: str | Path | bytes, color: bool = False) -> Target:
    return normalise(open_image(source), color=color)


def pixel_to_point(rows: np.ndarray, cols: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """(row, col) indices to points (x, y) in [-1, 1]^2, y up: the one pixel-centre formula
    (docs/guide.md "Coordinates"), used for training points and every grid."""
    x = -1.0 + (2.0 * np.asarray(cols, dtype=np.float64) + 1.0) / size
    y = 1.0 - (2.0 * np.asarray(rows, dtype=np.float64) + 1.0) / size
    return np.stack([x, y], axis=-1).astype(np.float32)


@dataclass(frozen=True)
class PointSample:
    """Disjoint training and validation pixels of a target."""

    train_pixels: np.ndarray  # int64 (N, 2): row, col
    val_pixels: np.ndarray  # int64 (M, 2)
    train_x: np.ndarray  # float32 (N, 2), or (N, 3) = (x, y, t) for a clip
    train_y: np.ndarray  # float32 (N, C)
    val_x: np.ndarray
    val_y: np.ndarray
    train_frames: np.ndarray | None = None  # int64 (N,): each point's frame of a clip; None for a picture
    val_frames: np.ndarray | None = None


def sample_points(target: Target, train_points: int, val_points: int, seed: int) -> PointSample:
    """Draw N + M distinct pixels without replacement, reproducibly from ``seed``. For a clip the
    pixels are drawn across all its frames, (frame, row, col) distinct, and each point is (x, y, t)."""
    if target.frames is not None:
        return _sample_clip_points(target, train_points, val_points, seed)
    size = target.values.shape[0]
    total = size * size
    if train_points + val_points > total:
        raise ValueError(f"cannot draw {train_points + val_points} distinct points from {total} pixels")
    rng = np.random.default_rng(seed)
    flat = rng.choice(total, size=train_points + val_points, replace=False)
    rows, cols = np.divmod(flat, size)
    pixels = np.stack([rows, cols], axis=1).astype(np.int64)
    points = pixel_to_point(rows, cols, size)
    values = target.values[rows, cols]
    n = train_points
    return PointSample(pixels[:n], pixels[n:], points[:n], values[:n], points[n:], values[n:])


def _sample_clip_points(target: Target, train_points: int, val_points: int, seed: int) -> PointSample:
    count, size = target.frame_count, target.values.shape[0]
    total = count * size * size
    if train_points + val_points > total:
        raise ValueError(f"cannot draw {train_points + val_points} distinct points from {total} pixels")
    rng = np.random.default_rng(seed)
    flat = rng.choice(total, size=train_points + val_points, replace=False)
    frames, rest = np.divmod(flat, size * size)
    rows, cols = np.divmod(rest, size)
    pixels = np.stack([rows, cols], axis=1).astype(np.int64)
    t = frame_times(count)[frames].astype(np.float32)
    points = np.concatenate([pixel_to_point(rows, cols, size), t[:, None]], axis=1)
    values = target.frames[frames, rows, cols].astype(np.float32) / 255.0
    n = train_points
    frames = frames.astype(np.int64)
    return PointSample(pixels[:n], pixels[n:], points[:n], values[:n], points[n:], values[n:], frames[:n], frames[n:])
