"""Clips as targets (core/clips.py, the upload store and POST/GET /api/images): animated GIF, APNG,
WebP and MP4 load with the right frame counts, a still picture stays a picture, clips past the
limits are refused in words, and a corrupt video is a 4xx, never a 5xx."""

from __future__ import annotations

import io

import av
import httpx
import numpy as np
import pytest
from live_server import running_server
from PIL import Image

from polytope_lens.core import clips
from polytope_lens.core.clips import even_indices, load_clip_or_picture
from polytope_lens.core.cliptime import frame_times, nearest_frame
from polytope_lens.core.images import ImageError, sample_points
from polytope_lens.core.samples import sample_path


def frames_rgb(count: int, size=(64, 48)) -> list[Image.Image]:
    """A white bar that moves right, one step per frame, on black."""
    out = []
    for k in range(count):
        arr = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        left = 4 + k * (size[0] - 16) // max(1, count - 1)
        arr[:, left: left + 8] = 255
        out.append(Image.fromarray(arr, "RGB"))
    return out


def animated(fmt: str, count: int, duration=80, size=(64, 48)) -> bytes:
    images = frames_rgb(count, size)
    buf = io.BytesIO()
    images[0].save(buf, format=fmt, save_all=True, append_images=images[1:], duration=duration, loop=0)
    return buf.getvalue()


def mp4(count: int, size=(64, 48), fps=10) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        for codec in ("libx264", "mpeg4"):
            try:
                stream = container.add_stream(codec, rate=fps)
                break
            except Exception:  # noqa: BLE001 - the next encoder
                continue
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for img in frames_rgb(count, size):
            for packet in stream.encode(av.VideoFrame.from_image(img)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def bar_position(frame: np.ndarray) -> float:
    """Mean column of the bright pixels (the bar) of a 1024-wide frame."""
    cols = np.nonzero(frame[..., 0] > 128)[1]
    return float(cols.mean())


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animated_pictures_load_with_their_frames(fmt):
    target = load_clip_or_picture(animated(fmt, 5))
    assert target.frame_count == 5 and target.in_dim == 3
    assert target.frames.shape == (5, 1024, 1024, 1)
    assert target.duration_s == pytest.approx(0.4, abs=0.01)
    positions = [bar_position(f) for f in target.frames]
    assert all(a < b for a, b in zip(positions, positions[1:]))  # the bar moves right, frame by frame


def test_mp4_loads_with_its_frames():
    target = load_clip_or_picture(mp4(6), color=True)
    assert target.frame_count == 6 and target.frames.shape == (6, 1024, 1024, 3)
    positions = [bar_position(f) for f in target.frames]
    assert all(a < b for a, b in zip(positions, positions[1:]))
    assert 0.3 <= target.duration_s <= 1.0


def test_still_picture_stays_a_picture():
    buf = io.BytesIO()
    frames_rgb(1)[0].save(buf, format="PNG")
    target = load_clip_or_picture(buf.getvalue())
    assert target.frame_count == 1 and target.frames is None and target.in_dim == 2
    one_frame_gif = animated("GIF", 1)
    assert load_clip_or_picture(one_frame_gif).frames is None


def test_long_clips_are_sampled_evenly():
    assert even_indices(10) == list(range(10))
    picked = even_indices(100, 32)
    assert len(picked) == 32 and picked[0] == 0 and picked[-1] == 99
    target = load_clip_or_picture(animated("GIF", 40, size=(120, 30)))  # all differ: GIF merges equal frames
    assert target.frame_count == clips.MAX_CLIP_FRAMES == 32
    assert target.duration_s == pytest.approx(40 * 0.08, abs=0.05)  # the whole clip's duration


def test_clip_past_the_limits_is_refused_in_words(monkeypatch):
    monkeypatch.setattr(clips, "MAX_SOURCE_FRAMES", 6)
    with pytest.raises(ImageError, match="7 frames, more than the limit of 6"):
        load_clip_or_picture(animated("GIF", 7))
    with pytest.raises(ImageError, match="more than the limit of 6"):
        load_clip_or_picture(mp4(7))
    monkeypatch.setattr(clips, "MAX_SOURCE_FRAMES", 2000)
    monkeypatch.setattr(clips, "MAX_SOURCE_CLIP_PIXELS", 64 * 48 * 4)
    with pytest.raises(ImageError, match="pixels to decode, more than the limit"):
        load_clip_or_picture(animated("PNG", 5))


def test_corrupt_video_is_an_image_error():
    data = mp4(6)
    with pytest.raises(ImageError, match="video"):
        load_clip_or_picture(data[:48] + b"\x00" * 200 + data[-100:])


def test_times_and_points_across_frames():
    assert list(frame_times(3)) == [-1.0, 0.0, 1.0]
    assert nearest_frame(-1.0, 16) == 0 and nearest_frame(1.0, 16) == 15 and nearest_frame(0.0, 5) == 2
    target = load_clip_or_picture(sample_path("moving-disk"))
    assert target.frame_count == 16
    sample = sample_points(target, 3000, 500, seed=3)
    assert sample.train_x.shape == (3000, 3)
    keys = set(zip(*np.concatenate([np.c_[sample.train_frames, sample.train_pixels],
                                    np.c_[sample.val_frames, sample.val_pixels]]).T))
    assert len(keys) == 3500  # (frame, row, col) disjoint across training and validation
    assert set(np.unique(sample.train_frames)) == set(range(16))  # drawn across all frames
    assert np.allclose(sample.train_x[:, 2], frame_times(16)[sample.train_frames])
    f, (r, c) = sample.val_frames[0], sample.val_pixels[0]
    assert sample.val_y[0, 0] == pytest.approx(target.frames[f, r, c, 0] / 255.0)
    again = sample_points(target, 3000, 500, seed=3)
    assert np.array_equal(again.train_pixels, sample.train_pixels)


# -- over HTTP --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def http(tmp_path_factory):
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client


def upload(http, data: bytes, name: str, mime: str):
    return http.post("/api/images", files={"file": (name, data, mime)})


@pytest.mark.parametrize("fmt,name,mime,count", [
    ("GIF", "a.gif", "image/gif", 4), ("PNG", "a.png", "image/png", 3), ("WEBP", "a.webp", "image/webp", 5),
    ("MP4", "a.mp4", "video/mp4", 6),
])
def test_upload_clip_answers_frames_and_duration(http, fmt, name, mime, count):
    data = mp4(count) if fmt == "MP4" else animated(fmt, count, duration=100)
    answer = upload(http, data, name, mime)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["frames"] == count and body["duration_s"] > 0
    first = http.get(body["url"], params={"frame": 0, "size": 64})
    last = http.get(body["url"], params={"frame": count - 1, "size": 64})
    assert first.status_code == last.status_code == 200
    assert first.content != last.content
    past = http.get(body["url"], params={"frame": count})
    assert past.status_code == 422 and f"0..{count - 1}" in past.json()["detail"]


def test_upload_still_picture_has_one_frame(http):
    buf = io.BytesIO()
    frames_rgb(1)[0].save(buf, format="PNG")
    body = upload(http, buf.getvalue(), "a.png", "image/png").json()
    assert body["frames"] == 1 and body["duration_s"] == 0
    assert http.get(body["url"], params={"frame": 1}).status_code == 422


def test_upload_corrupt_video_is_4xx(http):
    data = mp4(6)
    for broken in (data[:48] + b"\x00" * 300, data[:len(data) // 3], b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 500):
        answer = upload(http, broken, "broken.mp4", "video/mp4")
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
        assert answer.json()["detail"]
    assert http.get("/api/health").status_code == 200


def test_sample_clip_is_served(http):
    samples = {s["id"]: s for s in http.get("/api/samples").json()}
    assert samples["moving-disk"]["frames"] == 16
    assert http.get("/api/images/moving-disk", params={"frame": 15, "size": 32}).status_code == 200


def test_sample_clip_is_learnt():
    """The learning check (docs/guide.md, "Moving pictures"): 14x6 with the defaults on the moving-disk
    sample reaches a validation MSE below 0.01 in 1000 steps (measured: about 0.003)."""
    from polytope_lens.core.settings import RunConfig
    from polytope_lens.core.training import Trainer

    torch_target = load_clip_or_picture(sample_path("moving-disk"))
    trainer = Trainer(RunConfig(image="moving-disk", layers="14x6"), torch_target, device="cpu")
    start = trainer.losses().val
    trainer.step(1000)
    val = trainer.losses().val
    assert val < 0.01 and val < start / 4, (start, val)
