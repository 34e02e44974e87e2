"""Movies from frames: MP4 with either codec, odd sizes padded, GIF fallback, in-memory bytes."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from polytope_lens.output.movie import movie_bytes, write_movie


def frames(n: int = 5, size=(101, 61)) -> list[Image.Image]:
    """Odd-sized frames with a moving black bar, so consecutive frames differ."""
    out = []
    for i in range(n):
        a = np.full((size[1], size[0], 3), 255, np.uint8)
        a[:, i * 10 : i * 10 + 8] = 0
        out.append(Image.fromarray(a))
    return out


@pytest.mark.parametrize("codec, name", [("libx264", "h264"), ("mpeg4", "mpeg4")])
def test_mp4_with_each_codec(tmp_path, codec, name):
    path = write_movie(frames(), tmp_path / "m.mp4", fps=12, codecs=(codec,))
    assert path == tmp_path / "m.mp4"
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == name
        assert (stream.width, stream.height) == (102, 62)  # padded to even sides for yuv420p
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
    assert len(decoded) == 5
    assert decoded[2][:, 20:28].mean() < 60 and decoded[2][:, 60:].mean() > 200  # the bar is where it was drawn


def test_png_paths_and_gif_fallback(tmp_path):
    paths = []
    for i, img in enumerate(frames()):
        paths.append(tmp_path / f"frame_{i:06d}.png")
        img.save(paths[-1])
    gif = write_movie(iter(paths), tmp_path / "m.mp4", fps=10, codecs=("no-such-encoder",))
    assert gif == tmp_path / "m.gif" and not (tmp_path / "m.mp4").exists()
    with Image.open(gif) as g:
        assert g.n_frames == 5 and g.size == (101, 61) and g.info["duration"] == 100


def test_movie_bytes_and_errors():
    data, mime, ext = movie_bytes(frames(3), fps=5)
    assert (mime, ext) == ("video/mp4", ".mp4") and data[4:8] == b"ftyp"
    data, mime, ext = movie_bytes(frames(3), fps=5, codecs=())
    assert (mime, ext) == ("image/gif", ".gif") and Image.open(io.BytesIO(data)).n_frames == 3
    with pytest.raises(ValueError, match="at least one frame"):
        movie_bytes([])
