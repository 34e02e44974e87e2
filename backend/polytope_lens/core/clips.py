"""Moving pictures: a short clip becomes a target f(x, y, t).

Animated GIF, PNG (APNG) and WebP are decoded with Pillow, MP4/WebM (and other
containers FFmpeg reads) with PyAV. Every kept frame is centre-cropped and
scaled to 1024x1024 exactly like a picture (images.normalise). A clip longer
than MAX_CLIP_FRAMES is sampled evenly (first and last frame kept); time runs
over the clip as t in [-1, 1], frame k of F at t = -1 + 2k/(F-1) (core/cliptime.py).

Limits (README "Moving pictures"), checked before pixels pile up:
- at most MAX_SOURCE_FRAMES frames in the source and MAX_SOURCE_CLIP_PIXELS
  pixels decoded in all (frames x width x height): decoding time;
- the kept frames as uint8 at 1024x1024 are at most MAX_CLIP_BYTES: memory.
Past a limit the clip is refused with an ImageError that says which and by how much.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from .images import MAX_ASPECT_RATIO, MAX_SOURCE_PIXELS, MIN_SIDE, ImageError, Target, square_1024, to_rgb
from .settings import IMAGE_SIZE

MAX_CLIP_FRAMES = 32  # frames kept for training; longer clips are sampled evenly
MAX_SOURCE_FRAMES = 2000  # frames a source may have at all
MAX_SOURCE_CLIP_PIXELS = 600_000_000  # frames x width x height decoded for one clip
MAX_CLIP_BYTES = MAX_CLIP_FRAMES * IMAGE_SIZE * IMAGE_SIZE * 3  # 96 MiB: the kept frames, uint8 RGB
DEFAULT_FRAME_S = 0.1  # a frame without a stated duration lasts this long
ANIMATED_FORMATS = {"GIF", "PNG", "WEBP"}


def even_indices(total: int, keep: int = MAX_CLIP_FRAMES) -> list[int]:
    """``keep`` frame indices spread evenly over ``total`` (all of them when total <= keep)."""
    if total <= keep:
        return list(range(total))
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, keep)})


def _check_source(frames: int, width: int, height: int) -> None:
    if frames > MAX_SOURCE_FRAMES:
        raise ImageError(f"the clip has {frames:,} frames, more than the limit of {MAX_SOURCE_FRAMES:,}; "
                         "shorten it first")
    if width * height > MAX_SOURCE_PIXELS:
        raise ImageError(f"the clip's frames are {width}x{height} pixels, more than the "
                         f"{MAX_SOURCE_PIXELS:,}-pixel limit")
    if frames * width * height > MAX_SOURCE_CLIP_PIXELS:
        raise ImageError(
            f"the clip has {frames:,} frames of {width}x{height}: {frames * width * height:,} pixels to decode, "
            f"more than the limit of {MAX_SOURCE_CLIP_PIXELS:,}; make it shorter or smaller")
    if max(width, height) > MAX_ASPECT_RATIO * max(1, min(width, height)):
        raise ImageError(f"the clip is {width}x{height}; its sides differ by more than {MAX_ASPECT_RATIO:g}:1")
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"the clip is {width}x{height}; each side must be at least {MIN_SIDE} pixels")


def _square_rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(square_1024(to_rgb(img)), dtype=np.uint8)


def clip_target(frames_rgb: list[np.ndarray], duration_s: float, color: bool) -> Target:
    """A Target from kept 1024x1024 uint8 RGB frames (gray unless ``color``)."""
    stack = np.stack(frames_rgb)
    if stack.nbytes > MAX_CLIP_BYTES:  # cannot happen within MAX_CLIP_FRAMES, kept as the stated bound
        raise ImageError(f"the clip needs {stack.nbytes / 2**20:.0f} MiB, more than {MAX_CLIP_BYTES / 2**20:.0f} MiB")
    if not color:
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # as PIL's convert("L")
        stack = np.clip(np.rint(stack.astype(np.float32) @ weights), 0, 255).astype(np.uint8)[..., None]
    first = stack[0].astype(np.float32) / 255.0
    if len(stack) == 1:
        return Target(np.ascontiguousarray(first))
    return Target(np.ascontiguousarray(first), frames=np.ascontiguousarray(stack), duration_s=float(duration_s))


# -- Pillow: animated GIF, APNG, WebP --------------------------------------------------------
def animated_frame_count(img: Image.Image) -> int:
    """Frames of an opened Pillow picture (1 for a still one)."""
    if img.format not in ANIMATED_FORMATS:
        return 1
    return int(getattr(img, "n_frames", 1) or 1)


def decode_animation(img: Image.Image) -> tuple[list[np.ndarray], float]:
    """The evenly sampled frames of an animated picture as 1024x1024 uint8 RGB, and its duration."""
    total = animated_frame_count(img)
    width, height = img.size
    _check_source(total, width, height)
    keep = set(even_indices(total))
    frames, duration_ms = [], 0.0
    try:
        for k, frame in enumerate(ImageSequence.Iterator(img)):
            if img.format == "WEBP":
                frame.load()  # Pillow reads a WebP frame's duration when it decodes it
            duration_ms += float(frame.info.get("duration") or DEFAULT_FRAME_S * 1000)
            if k in keep:
                # Pillow composites each frame onto the ones before (disposal, blending) when it seeks.
                frames.append(_square_rgb(frame.convert("RGBA")))
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError) as exc:
        raise ImageError(f"the animation is damaged or truncated ({str(exc)[:200]})") from None
    if not frames:
        raise ImageError("the animation has no readable frame")
    return frames, duration_ms / 1000.0


# -- PyAV: MP4, WebM and other videos --------------------------------------------------------
def looks_like_video(data: bytes) -> bool:
    """Signatures of the video containers we try with PyAV (MP4/MOV, WebM/MKV, AVI, Ogg)."""
    head = bytes(data[:16])
    return (head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")
            or head.startswith(b"\x1a\x45\xdf\xa3")
            or (head.startswith(b"RIFF") and head[8:12] == b"AVI ")
            or head.startswith(b"OggS"))


def decode_video(data: bytes) -> tuple[list[np.ndarray], float]:
    """The evenly sampled frames of a video as 1024x1024 uint8 RGB, and its duration in seconds.

    Two passes: the first counts the frames from the packets (no decoding), the second decodes
    and keeps only the sampled ones, so memory never holds more than MAX_CLIP_FRAMES frames.
    """
    import av  # a dependency, imported here: pictures never need it

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise ImageError("the file has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            total = sum(1 for packet in container.demux(stream) if packet.size)
            _check_source(total, width, height)
            duration = float(container.duration / av.time_base) if container.duration else total * DEFAULT_FRAME_S
        keep = set(even_indices(total))
        frames = []
        with av.open(io.BytesIO(data), mode="r") as container:
            for k, frame in enumerate(container.decode(container.streams.video[0])):
                if k in keep:
                    frames.append(_square_rgb(frame.to_image()))
                if len(frames) == len(keep):
                    break
    except ImageError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, EOFError, IndexError, TypeError, ZeroDivisionError) as exc:
        raise ImageError(f"the video is damaged or cannot be decoded ({str(exc)[:200]})") from None
    except MemoryError:
        raise ImageError("the video is too large to decode") from None
    if not frames:
        raise ImageError("the video has no frame that can be decoded")
    return frames, duration


def open_clip(source: str | Path | bytes) -> tuple[list[np.ndarray], float] | None:
    """The frames and duration of a clip, or None when ``source`` is a still picture (or not a clip
    at all: images.open_image then says what is wrong with it)."""
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    if looks_like_video(data):
        return decode_video(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if animated_frame_count(img) <= 1:
                return None
            return decode_animation(img)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"the clip declares more pixels than the {MAX_SOURCE_PIXELS:,}-pixel limit") from None
    except Exception:  # noqa: BLE001 - not readable as an animation: the picture path reports why
        return None


def load_clip_or_picture(source: str | Path | bytes, color: bool = False) -> Target:
    """A Target from a clip or a still picture (images.load_target for the latter)."""
    from .images import load_target

    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise ImageError(f"no such file: {source}")
    clip = open_clip(source)
    if clip is None:
        return load_target(source, color=color)
    frames, duration = clip
    return clip_target(frames, duration, color)


def clip_png(target: Target) -> bytes:
    """A clip target as an animated PNG (lossless; what the upload store keeps), a picture as PNG."""
    buf = io.BytesIO()
    images = [Image.fromarray(f[:, :, 0], "L") if f.shape[2] == 1 else Image.fromarray(f, "RGB")
              for f in target.frame_arrays()]
    per_frame_ms = max(1, int(round(1000 * target.duration_s / max(1, len(images))))) if target.duration_s else 100
    if len(images) == 1:
        images[0].save(buf, format="PNG", compress_level=3)
    else:
        images[0].save(buf, format="PNG", save_all=True, append_images=images[1:], duration=per_frame_ms, loop=0,
                       compress_level=3)
    return buf.getvalue()

