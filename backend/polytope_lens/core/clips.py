"""Moving pictures: a short clip becomes a target f(x, y, t).

Animated GIF, PNG (APNG) and WebP are decoded with Pillow, MP4/WebM (and other
containers FFmpeg reads) with PyAV. Every kept frame is centre-cropped and
scaled to 1024x1024 exactly like a picture (images.normalise). A clip longer
than MAX_CLIP_FRAMES is sampled evenly (first and last frame kept); time runs
over the clip as t in [-1, 1], frame k of F at t = -1 + 2k/(F-1) (core/cliptime.py).

Limits (docs/guide.md "Moving pictures"), checked before pixels pile up:
- at most MAX_SOURCE_FRAMES frames in the source and MAX_SOURCE_CLIP_PIXELS
  pixels decoded in all (frames x width x height): decoding time;
- the kept frames as uint8 at 1024x1024 are at most MAX_CLIP_BYTES: memory.
Past a limit the clip is refused with an ImageError that says which and by how much.

Every count is checked before the decoder allocates for it, since a file of a few
kilobytes can declare anything: an MP4's sample tables are read from its boxes before
FFmpeg opens it (FFmpeg builds its index of every declared sample at open), a video's
packets are counted only up to the limit, each decoded frame's real size is checked
against the limits (a header may understate it), and each animation frame's size is
checked after Pillow reads its descriptor and before it decodes it. Decoding checks
``should_stop`` between frames, so an upload whose client has gone stops early.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .images import MAX_ASPECT_RATIO, MAX_SOURCE_PIXELS, MIN_SIDE, ImageError, Target, square_1024, to_rgb
from .settings import IMAGE_SIZE

MAX_CLIP_FRAMES = 32  # frames kept for training; longer clips are sampled evenly
MAX_SOURCE_FRAMES = 2000  # frames a source may have at all
MAX_SOURCE_CLIP_PIXELS = 600_000_000  # frames x width x height decoded for one clip
MAX_CLIP_BYTES = MAX_CLIP_FRAMES * IMAGE_SIZE * IMAGE_SIZE * 3  # 96 MiB: the kept frames, uint8 RGB
DEFAULT_FRAME_S = 0.1  # a frame without a stated duration lasts this long
MAX_FRAME_S = 10.0  # a frame that says it lasts longer is shown this long (timing never refuses a clip)
ANIMATED_FORMATS = {"GIF", "PNG", "WEBP"}


def even_indices(total: int, keep: int = MAX_CLIP_FRAMES) -> list[int]:
    """``keep`` frame indices spread evenly over ``total`` (all of them when total <= keep)."""
    if total <= keep:
        return list(range(total))
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, keep)})


class DecodeStopped(ImageError):
    """Decoding was stopped from outside (its client went away)."""


@dataclass(frozen=True)
class DecodedClip:
    """What decoding a clip gives: the kept frames (1024x1024 uint8 RGB), its length in seconds,
    and a note for the person when the file gave less than it declared (a video cut short)."""

    frames: list[np.ndarray]
    duration_s: float
    note: str | None = None


def _frame_delay_s(value) -> float:
    """A frame's delay in seconds from a file's stated milliseconds: missing, zero, negative or
    absurd values become DEFAULT_FRAME_S or MAX_FRAME_S, so a clip's timing never errors."""
    try:
        seconds = float(value) / 1000.0
    except (TypeError, ValueError):
        return DEFAULT_FRAME_S
    if not np.isfinite(seconds) or seconds <= 0:
        return DEFAULT_FRAME_S
    return min(seconds, MAX_FRAME_S)


def _stop_if_asked(should_stop) -> None:
    if should_stop is not None and should_stop():
        raise DecodeStopped("decoding stopped: the upload's client went away")


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


def _check_animation_frame(img: Image.Image, k: int, canvas: tuple[int, int]) -> None:
    """Frame ``k``'s size as Pillow read it from the frame's own descriptor, before decoding it:
    Pillow grows the picture to a frame that is larger than the canvas, so a tiny file whose
    second frame claims 9000x9000 would otherwise take gigabytes."""
    width, height = img.size
    extents = [tile[1] for tile in (img.tile or [])]
    right = max([width, *(int(e[2]) for e in extents)])
    bottom = max([height, *(int(e[3]) for e in extents)])
    if right > canvas[0] or bottom > canvas[1]:
        raise ImageError(f"frame {k + 1} of the animation is {right}x{bottom} pixels, larger than the "
                         f"animation's own {canvas[0]}x{canvas[1]} canvas; such a file is refused")


def decode_animation(img: Image.Image, should_stop=None) -> DecodedClip:
    """The evenly sampled frames of an animated picture as 1024x1024 uint8 RGB, and its duration."""
    total = animated_frame_count(img)
    canvas = img.size
    _check_source(total, *canvas)
    keep = set(even_indices(total))
    frames, duration_s = [], 0.0
    try:
        for k in range(total):
            _stop_if_asked(should_stop)
            img.seek(k)  # reads the frame's descriptor; its pixels are decoded on load
            _check_animation_frame(img, k, canvas)
            if img.format == "WEBP":
                img.load()  # Pillow reads a WebP frame's duration when it decodes it
            duration_s += _frame_delay_s(img.info.get("duration"))
            if k in keep:
                # Pillow composites each frame onto the ones before (disposal, blending) when it seeks.
                frames.append(_square_rgb(img.convert("RGBA")))
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError) as exc:
        raise ImageError(f"the animation is damaged or truncated ({str(exc)[:200]})") from None
    if not frames:
        raise ImageError("the animation has no readable frame")
    return DecodedClip(frames, duration_s)


# -- PyAV: MP4, WebM and other videos --------------------------------------------------------
def looks_like_video(data: bytes) -> bool:
    """Signatures of the video containers we try with PyAV (MP4/MOV, WebM/MKV, AVI, Ogg)."""
    head = bytes(data[:16])
    return (head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")
            or head.startswith(b"\x1a\x45\xdf\xa3")
            or (head.startswith(b"RIFF") and head[8:12] == b"AVI ")
            or head.startswith(b"OggS"))


# ISO base media (MP4, MOV, 3GP): where the sample tables are, and the boxes that hold them.
_SAMPLE_TABLE_PATH = (b"moov", b"trak", b"mdia", b"minf", b"stbl")


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, box end) of each ISO base media box between ``start`` and ``end``."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1 and at + 16 <= end:  # a 64-bit size follows the type
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:  # the box runs to the end of the file
            size = end - at
        if size < header:
            return
        yield kind, at + header, min(at + size, end)
        at += size


def declared_samples(data: bytes) -> int:
    """The most samples any track of an MP4/MOV file declares in its sample tables (stsz, stz2,
    stts), read from the boxes without FFmpeg; 0 when there are none (not ISO media, or a
    fragmented file, whose packets are counted as they are read)."""
    most = 0

    def walk(start: int, end: int, path: tuple[bytes, ...]) -> None:
        nonlocal most
        for kind, body, box_end in _boxes(data, start, end):
            if len(path) < len(_SAMPLE_TABLE_PATH):
                if kind == _SAMPLE_TABLE_PATH[len(path)]:
                    walk(body, box_end, path + (kind,))
            elif kind in (b"stsz", b"stz2") and body + 12 <= box_end:
                most = max(most, struct.unpack_from(">I", data, body + 8)[0])
            elif kind == b"stts" and body + 8 <= box_end:
                entries = struct.unpack_from(">I", data, body + 4)[0]
                last = min(entries, (box_end - body - 8) // 8)
                counts = struct.unpack_from(f">{2 * last}I", data, body + 8)[::2] if last else ()
                # entries beyond the box's bytes count as declared: FFmpeg reads the entry count first
                most = max(most, sum(counts) + max(0, entries - last))

    walk(0, len(data), ())
    return most


def _expected_frames(stream, container, av) -> int:
    """Frames the container says the video has (0 when it does not say)."""
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    if container.duration and rate:
        return int(round(float(container.duration / av.time_base) * float(rate)))
    return 0


def decode_video(data: bytes, should_stop=None) -> DecodedClip:
    """The evenly sampled frames of a video as 1024x1024 uint8 RGB, and its duration in seconds.

    Two passes: the first counts the frames from the packets (no decoding, and never past the
    limit), the second decodes and keeps only the sampled ones, so memory never holds more than
    MAX_CLIP_FRAMES frames. A video cut short keeps the frames that decode, with a note; one
    with no decodable frame is refused.
    """
    import av  # a dependency, imported here: pictures never need it

    declared = declared_samples(data)
    if declared > MAX_SOURCE_FRAMES:
        raise ImageError(f"the clip has {declared:,} frames, more than the limit of {MAX_SOURCE_FRAMES:,}; "
                         "shorten it first")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video or container.streams.video[0].codec_context is None:
                raise ImageError("the file has no video stream that can be decoded")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            total = 0
            for packet in container.demux(stream):
                total += 1 if packet.size else 0
                if total > MAX_SOURCE_FRAMES:
                    break
                if total % 64 == 0:
                    _stop_if_asked(should_stop)
            _check_source(total, width, height)
            expected = _expected_frames(stream, container, av)
            duration = float(container.duration / av.time_base) if container.duration else total * DEFAULT_FRAME_S
        keep = set(even_indices(total))
        frames, decoded = [], 0
        with av.open(io.BytesIO(data), mode="r") as container:
            for frame in container.decode(container.streams.video[0]):
                _stop_if_asked(should_stop)
                # the header may understate the frames' size: the real one counts against the limits
                _check_source(total, frame.width, frame.height)
                if decoded in keep:
                    frames.append(_square_rgb(frame.to_image()))
                decoded += 1
                if len(frames) == len(keep):
                    break
    except ImageError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, EOFError, IndexError, TypeError, ZeroDivisionError,
            AttributeError) as exc:
        raise ImageError(f"the video is damaged or cannot be decoded ({str(exc)[:200]})") from None
    except MemoryError:
        raise ImageError("the video is too large to decode") from None
    if not frames:
        raise ImageError("the video has no frame that can be decoded")
    note = None
    if expected and total < expected - 1:
        note = (f"the video ends early: {total} of the {expected} frames it declares could be read "
                "(the file may be cut short); those are used")
    return DecodedClip(frames, min(duration, MAX_FRAME_S * max(total, 1)), note)


def open_clip(source: str | Path | bytes, should_stop=None) -> DecodedClip | None:
    """The frames and duration of a clip, or None when ``source`` is a still picture (or not a clip
    at all: images.open_image then says what is wrong with it). ``should_stop()``, asked between
    frames, stops decoding with DecodeStopped."""
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    if looks_like_video(data):
        return decode_video(data, should_stop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if animated_frame_count(img) <= 1:
                return None
            return decode_animation(img, should_stop)
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
    return clip_target(clip.frames, clip.duration_s, color)


def clip_png(target: Target) -> bytes:
    """A clip target as an animated PNG (lossless; what the upload store keeps), a picture as PNG."""
    buf = io.BytesIO()
    images = [Image.fromarray(f[:, :, 0], "L") if f.shape[2] == 1 else Image.fromarray(f, "RGB")
              for f in target.frame_arrays()]
    per_frame_ms = (int(np.clip(round(1000 * target.duration_s / max(1, len(images))), 1, 1000 * MAX_FRAME_S))
                    if target.duration_s else 100)
    if len(images) == 1:
        images[0].save(buf, format="PNG", compress_level=3)
    else:
        images[0].save(buf, format="PNG", save_all=True, append_images=images[1:], duration=per_frame_ms, loop=0,
                       compress_level=3)
    return buf.getvalue()

