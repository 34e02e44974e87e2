"""A live run's files, made beside its session: the session hands out its data (the picture on
screen, the movie's frames, a frozen run, the checkpoint, a smoothing baseline) and this service
turns them into files, named as every download is (names.py).

It runs where the session runs (in the server's process, a session's process, a Ray actor), so
a download's drawing and encoding never take the server's time and only the file crosses to it.
"""

from __future__ import annotations

import io
from typing import Protocol

import numpy as np
from PIL import Image

from ...core.settings import RunConfig, ViewSettings
from ...core.smoothing import Baseline
from ...output.clipmovie import clip_movie_bytes
from ...output.movie import movie_bytes
from ...output.render import png_bytes
from ..names import download_name
from .contract import Download, Downloads

MOVIE_FPS = 12  # the live movie's frames are taken every few steps: 12 a second plays a run briskly
CLIP_MOVIE_RESOLUTION = 256  # largest grid side of a clip movie's panels (the learnt clip, every frame)


class SessionData(Protocol):
    """What a live session hands out for its files (local.py's LiveSession)."""

    def config(self) -> RunConfig | None: ...

    def step_count(self) -> int | None: ...

    def frame_picture(self) -> Image.Image | None:
        """The three panels on screen with their caption; None before the first frame."""

    def checkpoint_bytes(self) -> bytes | None: ...

    def movie_frames(self) -> tuple[list[bytes], int | None, int]:
        """The movie's frames so far (encoded pictures) with the first and last step."""

    def clip_run(self) -> tuple[object, object, ViewSettings] | None:
        """A clip's run, frozen (output/clipmovie.frozen_copy), its losses and the view; None
        for a picture's run or before configure."""

    def smoothing_baseline(self, sigma: float) -> tuple[Baseline, int, float | None] | None: ...


class SessionDownloads(Downloads):
    """The files of one local session."""

    def __init__(self, session: SessionData):
        self._session = session

    def _name(self, what: str, ext: str, step: int | str | None = None) -> str:
        session = self._session
        return download_name(session.config(), session.step_count() if step is None else step, what, ext)

    def frame_png(self) -> Download | None:
        picture = self._session.frame_picture()
        if picture is None:
            return None
        return Download(png_bytes(picture), "image/png", self._name("frame", "png"))

    def checkpoint(self) -> Download | None:
        data = self._session.checkpoint_bytes()
        if data is None:
            return None
        return Download(data, "application/octet-stream", self._name("checkpoint", "pt"))

    def movie(self) -> Download | None:
        frames, first, last = self._session.movie_frames()
        if not frames:
            return None
        data, media_type, ext = movie_bytes([Image.open(io.BytesIO(f)) for f in frames], fps=MOVIE_FPS)
        steps = f"{first}-{last}" if first is not None and first != last else last
        return Download(data, media_type, self._name("movie", ext, steps))

    def clip_movie(self) -> Download | None:
        found = self._session.clip_run()
        if found is None:
            return None
        frozen, losses, view = found
        view = view.model_copy(update={"resolution": min(view.resolution, CLIP_MOVIE_RESOLUTION)})
        data, media_type, ext = clip_movie_bytes(frozen, losses, view)
        return Download(data, media_type, f"polytope-lens-clip{ext}")

    def smoothing_png(self, sigma: float, size: int) -> bytes | None:
        found = self._session.smoothing_baseline(sigma)
        if found is None:
            return None
        pixels = np.rint(np.clip(found[0].values, 0.0, 1.0) * 255).astype(np.uint8)
        img = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
        if size != img.width:
            img = img.resize((size, size), Image.BILINEAR)
        return png_bytes(img)
