"""Frames to a movie: MP4 (H.264, else MPEG-4 Part 2) with PyAV, else an animated GIF.

Frames may be PIL images, uint8 arrays or PNG paths, as a list or any
iterable (paths are opened one at a time, so a long run never sits in memory).
"""

from __future__ import annotations

import io
import math
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ..geometry.grid import GridPartition
from .render import GAP, caption_height_for

# Tried in order; the first one whose encoder opens is used.
MP4_CODECS = ("libx264", "mpeg4")
# x264 CRF 23: one-pixel boundary lines stay clear; CRF 18 was 1.4x the size for no visible gain. Preset
# veryfast: a 121-frame 3072-wide movie in 11 s instead of 16 s (fast), and no larger.
_CODEC_OPTIONS = {"libx264": {"crf": "23", "preset": "veryfast"}}
_MPEG4_BIT_RATE = 8_000_000
PAD_COLOR = (255, 255, 255)  # white bars where a frame is padded to even sides for H.264
MOVIE_MAX_FRAMES = 240  # a live session keeps at most this many small frames for its movie
MOVIE_PANEL = 256  # side of a movie panel in pixels

Frame = Image.Image | np.ndarray | str | Path


def _to_rgb(frame: Frame) -> Image.Image:
    if isinstance(frame, (str, Path)):
        with Image.open(frame) as img:
            return img.convert("RGB")
    if isinstance(frame, np.ndarray):
        return Image.fromarray(frame).convert("RGB")
    return frame.convert("RGB")


def _fit(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Pad (right/bottom) or crop to ``size``: yuv420p needs even sides and all frames one size."""
    if img.size == size:
        return img
    canvas = Image.new("RGB", size, PAD_COLOR)
    canvas.paste(img, (0, 0))
    return canvas


def _open_mp4(path: Path, codec: str, size: tuple[int, int], fps: float):
    """Container and stream for ``codec``, or raise if that encoder is missing or refuses to open."""
    av.codec.Codec(codec, "w")  # raises UnknownCodecError when FFmpeg lacks the encoder
    container = av.open(str(path), mode="w", format="mp4")
    try:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if codec in _CODEC_OPTIONS:
            stream.options = dict(_CODEC_OPTIONS[codec])
        else:
            stream.bit_rate = _MPEG4_BIT_RATE
        stream.codec_context.open()  # fail here, before any frame is used, if the encoder will not start
    except Exception:
        container.close()
        raise
    return container, stream


class MovieWriter:
    """A movie written one frame at a time, so a recorder can encode each frame as it draws it
    (no second pass over PNG files). The encoder opens with the first frame, whose size (padded
    to even sides) every frame takes; a ``.gif`` path, or no usable MP4 encoder among ``codecs``,
    gives an animated GIF next to ``path`` (same stem, ``.gif``), written by ``close``."""

    def __init__(self, path: str | Path, fps: float = 10, codecs=MP4_CODECS):
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.path = Path(path)
        self.fps, self.codecs = fps, codecs
        self.count = 0
        self._size: tuple[int, int] | None = None
        self._mp4 = None  # (container, stream) once opened
        self._gif: list[Image.Image] | None = None  # quantised frames, when there is no MP4

    def add(self, frame: Frame) -> None:
        img = _to_rgb(frame)
        if self._size is None:
            self._open(img.size)
        if self._mp4 is not None:
            container, stream = self._mp4
            container.mux(stream.encode(av.VideoFrame.from_image(_fit(img, self._size))))
        else:  # quantise as frames arrive: a palette frame is a third of an RGB one in memory
            self._gif.append(_fit(img, self._size).quantize(colors=256, dither=Image.Dither.NONE))
        self.count += 1

    def close(self) -> Path:
        """Finish the file and return the path actually written."""
        if self._size is None:
            raise ValueError("a movie needs at least one frame")
        if self._mp4 is not None:
            container, stream = self._mp4
            self._mp4 = None
            with container:
                container.mux(stream.encode())  # flush delayed frames
        elif self._gif is not None:
            frames, self._gif = self._gif, None
            duration = max(20, round(1000 / self.fps))  # ms; browsers treat < 20 ms as slow
            frames[0].save(self.path, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0)
        return self.path

    def _open(self, size: tuple[int, int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.suffix.lower() != ".gif":
            self._size = (size[0] + size[0] % 2, size[1] + size[1] % 2)  # yuv420p: even sides
            for codec in self.codecs:
                try:
                    self._mp4 = _open_mp4(self.path, codec, self._size, self.fps)
                    return
                except Exception:  # missing or broken encoder: try the next one
                    self.path.unlink(missing_ok=True)
            self.path = self.path.with_suffix(".gif")
        self._size = size
        self._gif = []


def write_movie(frames: Iterable[Frame], path: str | Path, fps: float = 10, codecs=MP4_CODECS) -> Path:
    """Write ``frames`` to ``path`` and return the path actually written (see MovieWriter)."""
    writer = MovieWriter(path, fps=fps, codecs=codecs)
    for frame in frames:
        writer.add(frame)
    return writer.close()


def movie_bytes(frames: Iterable[Frame], fps: float = 10, codecs=MP4_CODECS) -> tuple[bytes, str, str]:
    """The movie in memory for a download: (data, MIME type, file extension with dot)."""
    with tempfile.TemporaryDirectory(prefix="polytope-movie-") as tmp:
        written = write_movie(frames, Path(tmp) / "movie.mp4", fps=fps, codecs=codecs)
        data = written.read_bytes()
    if written.suffix == ".gif":
        return data, "image/gif", ".gif"
    return data, "video/mp4", ".mp4"


def movie_partition(partition: GridPartition) -> GridPartition:
    """The partition subsampled to about MOVIE_PANEL pixels a side, for the movie's small frames.

    Every k-th pixel of the prediction and the region ids; a boundary pixel wherever
    the k x k block it stands for has one, so no boundary is lost.
    """
    k = partition.resolution // MOVIE_PANEL
    if k <= 1:
        return partition
    n = partition.resolution // k
    m = n * k
    boundary = np.zeros((n, n), dtype=bool)
    for i in range(k):  # k*k strided ORs: ~10x faster than any() over a (n, k, n, k) view
        for j in range(k):
            boundary |= partition.boundary[i:m:k, j:m:k]
    return GridPartition(
        resolution=n,
        hidden=partition.hidden,
        region_ids=partition.region_ids[:m:k, :m:k],
        region_words=partition.region_words,
        boundary=boundary,
        prediction=partition.prediction[:m:k, :m:k],
    )


@dataclass
class MovieRecorder:
    """Keeps at most MOVIE_MAX_FRAMES small frames; when full, every other one is dropped
    and the recording interval doubles, so a long run still fits. A frame is recorded
    at most every ``min_interval_s`` of wall time (a live view draws many more)."""

    interval_steps: int = 10
    frames: list[bytes] = field(default_factory=list)
    last_step: int = -(10**9)
    min_interval_s: float = 0.2
    last_time: float = -math.inf
    steps: list[int] = field(default_factory=list)  # the step of each frame kept

    def due(self, step: int) -> bool:
        return step - self.last_step >= self.interval_steps and time.monotonic() - self.last_time >= self.min_interval_s

    def first_step(self) -> int | None:
        return self.steps[0] if self.steps else None

    def add(self, step: int, image: Image.Image) -> None:
        small = image
        # frames drawn from movie_partition are small already; a full-size one (with its caption,
        # as the frame PNG has it) is scaled down whole, caption included
        small_height = MOVIE_PANEL + 2 * GAP + caption_height_for(MOVIE_PANEL)
        if image.height > small_height:
            small = image.resize((image.width * small_height // image.height, small_height))
        # JPEG: ~6x faster to encode than PNG here, and the movie itself is lossy (H.264/GIF).
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=92)
        self.frames.append(buf.getvalue())
        self.steps.append(step)
        self.last_step = step
        self.last_time = time.monotonic()
        if len(self.frames) > MOVIE_MAX_FRAMES:
            self.frames = self.frames[::2]
            self.steps = self.steps[::2]
            self.interval_steps *= 2

    def clear(self) -> None:
        self.frames.clear()
        self.steps.clear()
        self.last_step = -(10**9)
        self.last_time = -math.inf
        self.interval_steps = 10
