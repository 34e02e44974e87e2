"""Issue 5: bad pictures, bad configs, many sessions and dropped connections, against a real
server. Every bad file here is made by the test itself; nothing is downloaded."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import socket
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from live_server import SMALL_CONFIG, LiveClient, client_frame, raw_websocket, running_server, serving_here
from PIL import Image
from websockets.exceptions import ConnectionClosed, InvalidStatus

from polytope_lens.web.store import ImageStore, StoreLimits

UPLOAD_LIMIT = 1024 * 1024
MAX_SESSIONS = 4
TINY = dict(layers="8x2", train_points=300, val_points=100, batch_size=128, resolution=16)
TINY_CONFIG = {k: v for k, v in TINY.items() if k != "resolution"}  # resolution goes with 'view', not 'configure'


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hardening-data")


def server_data_dir(server) -> Path:
    return server.data_dir


@pytest.fixture(scope="module")
def server(data_dir):
    with running_server(
        data_dir=data_dir,
        max_upload_bytes=UPLOAD_LIMIT,
        max_sessions=MAX_SESSIONS,
        send_timeout_s=1.0,  # a reader that stalls is dropped by the send timeout ...
        ping_interval_s=1.0,  # ... well before a silent peer is dropped by the pings
        ping_timeout_s=4.0,
        resume_grace_s=0,  # a dropped session ends at once here; test_resume.py covers keeping it for its page
        store_limits=StoreLimits(max_uploads=4),
    ) as url:
        url.data_dir = data_dir
        yield url
        assert url.alive(), "the server died"


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


def sessions_open(http) -> int:
    return http.get("/api/health").json()["sessions"]


def wait_sessions(http, expected: int, within: float) -> float:
    """Seconds until the server reports ``expected`` open sessions; fails after ``within``."""
    t0 = time.monotonic()
    while True:
        n = sessions_open(http)
        if n == expected:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < within, f"{n} sessions open after {within:g} s, expected {expected}"
        time.sleep(0.05)


# -- the corpus of bad files --------------------------------------------------------------
def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG file whose header declares width x height pixels (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def gif_declaring(width: int, height: int) -> bytes:
    screen = b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00"
    image = b"\x2c" + struct.pack("<HHHH", 0, 0, width, height) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return screen + image + b"\x3b"


def zip_file() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("picture.png", encode(Image.new("RGB", (32, 32)), "PNG"))
    return buf.getvalue()


def noise(size=(64, 64), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def corrupt_png() -> bytes:
    data = bytearray(encode(noise(), "PNG"))
    start = data.index(b"IDAT") + 4
    for i in range(start + 10, start + 400):
        data[i] ^= 0x5A  # scramble the compressed pixels (CRC left wrong too)
    return bytes(data)


GOOD_PNG = encode(noise(), "PNG")
GOOD_JPEG = encode(noise(), "JPEG", quality=90)

BAD_FILES = [
    # (name, bytes, status, words in the detail)
    ("empty", b"", 415, "empty"),
    ("text", b"Dear server,\nthis is not a picture.\n" * 20, 415, "text"),
    ("zip", zip_file(), 415, "ZIP"),
    ("pdf-renamed.png", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", 415, "PDF"),
    ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>', 415, "SVG"),
    ("svg-xml", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', 415, "SVG"),
    ("html", b"<!DOCTYPE html><html><body>hi</body></html>", 415, "HTML"),
    ("binary-noise", bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8)), 415, "not a picture"),
    ("png-signature-only", GOOD_PNG[:8], 422, "damaged or truncated"),
    ("jpeg-signature-then-junk", b"\xff\xd8\xff" + b"junk" * 50, 422, "damaged or truncated"),
    ("truncated-png", GOOD_PNG[: len(GOOD_PNG) // 2], 422, "damaged or truncated"),
    ("png-header-only", GOOD_PNG[:33], 422, "damaged or truncated"),
    ("corrupted-png", corrupt_png(), 422, "damaged"),
    ("truncated-jpeg", GOOD_JPEG[: len(GOOD_JPEG) // 3], 422, "damaged or truncated"),
    ("png-bomb-100000x100000", png_declaring(100_000, 100_000), 422, "pixel"),
    ("png-bomb-30000x30000", png_declaring(30_000, 30_000), 422, "pixel"),
    ("png-8000x8000-declared", png_declaring(8000, 8000), 422, "50,000,000-pixel limit"),
    ("gif-bomb", gif_declaring(65535, 65535), 422, "pixel"),
    ("aspect-1x100000", encode(Image.new("L", (1, 100_000), 128), "PNG"), 422, "20:1"),
    ("aspect-100000x1", encode(Image.new("L", (100_000, 1), 128), "PNG"), 422, "20:1"),
    ("aspect-30x1000", encode(Image.new("L", (30, 1000), 128), "PNG"), 422, "20:1"),
    ("tiny-4x4", encode(Image.new("RGB", (4, 4)), "PNG"), 422, "at least 8"),
    ("ppm", encode(noise(), "PPM"), 415, "not supported"),
    ("ico", encode(noise((32, 32)), "ICO"), 415, "not supported"),
    # issue 11, problem 8: floating-point pictures without a single usable value
    ("tiff-all-nan", encode(Image.fromarray(np.full((64, 64), np.nan, np.float32), "F"), "TIFF"), 422, "NaN or infinite"),
    ("tiff-all-inf", encode(Image.fromarray(np.full((64, 64), np.inf, np.float32), "F"), "TIFF"), 422, "NaN or infinite"),
    ("tiff-all-minus-inf", encode(Image.fromarray(np.full((64, 64), -np.inf, np.float32), "F"), "TIFF"), 422, "NaN or infinite"),
]


@pytest.mark.parametrize("name, data, status, words", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_upload_is_answered_in_words(http, name, data, status, words):
    r = http.post("/api/images", files={"file": (name, data, "image/png")})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    detail = r.json()["detail"]
    assert isinstance(detail, str) and 10 < len(detail) < 400
    assert words.lower() in detail.lower(), detail
    assert "Traceback" not in detail and "/tmp" not in detail and "site-packages" not in detail  # no internals


def _pixel(http, image_id: str, xy=(512, 512)):
    img = Image.open(io.BytesIO(http.get(f"/api/images/{image_id}").content)).convert("RGB")
    return img.getpixel(xy)


def test_16_bit_png_is_scaled_not_clipped(http):
    data = encode(Image.fromarray(np.full((64, 64), 32768, np.uint16)), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    r = http.post("/api/images", files={"file": ("deep.png", data, "image/png")})
    assert r.status_code == 201, r.text
    assert all(abs(v - 128) <= 1 for v in _pixel(http, r.json()["image_id"]))


def test_cmyk_jpeg_keeps_its_colour(http):
    data = encode(Image.new("CMYK", (64, 64), (255, 0, 0, 0)), "JPEG")  # pure cyan ink
    r = http.post("/api/images", files={"file": ("cmyk.jpg", data, "image/jpeg")})
    assert r.status_code == 201, r.text
    red, green, blue = _pixel(http, r.json()["image_id"])
    assert red < 40 and green > 215 and blue > 215


def test_palette_with_transparency_goes_onto_white(http):
    img = Image.new("P", (64, 64), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.paste(1, (32, 0, 64, 64))  # right half: palette entry 1, declared transparent
    r = http.post("/api/images", files={"file": ("p.png", encode(img, "PNG", transparency=1), "image/png")})
    assert r.status_code == 201, r.text
    image_id = r.json()["image_id"]
    assert _pixel(http, image_id, (100, 512)) == (255, 0, 0)
    assert _pixel(http, image_id, (900, 512)) == (255, 255, 255)


def test_animated_gif_uses_its_first_frame(http):
    red, blue = Image.new("RGB", (64, 64), (255, 0, 0)), Image.new("RGB", (64, 64), (0, 0, 255))
    data = encode(red, "GIF", save_all=True, append_images=[blue, blue], duration=100, loop=0)
    r = http.post("/api/images", files={"file": ("anim.gif", data, "image/gif")})
    assert r.status_code == 201, r.text
    assert _pixel(http, r.json()["image_id"]) == (255, 0, 0)


@pytest.mark.parametrize(
    "img, fmt",
    [
        (Image.new("RGBA", (80, 60), (0, 0, 0, 0)), "PNG"),
        (Image.new("LA", (80, 60), (10, 255)), "PNG"),
        (Image.fromarray(np.linspace(0, 3, 64 * 64, dtype=np.float32).reshape(64, 64), "F"), "TIFF"),
        (noise(), "WEBP"),
        (noise(), "BMP"),
        (Image.new("1", (64, 64), 1), "PNG"),
    ],
    ids=["rgba", "la", "float-tiff", "webp", "bmp", "1-bit"],
)
def test_other_modes_are_accepted(http, img, fmt):
    r = http.post("/api/images", files={"file": (f"x.{fmt.lower()}", encode(img, fmt), "application/octet-stream")})
    assert r.status_code == 201, r.text


# -- requests that are not uploads ---------------------------------------------------------
def test_multipart_without_file(http):
    r = http.post("/api/images", files={"picture": ("a.png", GOOD_PNG, "image/png")})
    assert r.status_code == 422 and "'file'" in r.json()["detail"]
    r = http.post("/api/images", data={"file": "a picture, honestly"})
    assert r.status_code == 422 and "file" in r.json()["detail"]
    r = http.post("/api/images")
    assert r.status_code == 422 and "file" in r.json()["detail"]
    r = http.post("/api/images", json={"file": "x"})
    assert r.status_code == 422 and "file" in r.json()["detail"]
    r = http.post("/api/images", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"})
    assert 400 <= r.status_code < 500 and isinstance(r.json()["detail"], str)


def test_file_past_the_size_limit_gets_413(http):
    big = b"\x89PNG\r\n\x1a\n" + os.urandom(UPLOAD_LIMIT + 100)
    r = http.post("/api/images", files={"file": ("big.png", big, "image/png")})
    assert r.status_code == 413
    assert f"{UPLOAD_LIMIT:,}" in r.json()["detail"]
    # just past the limit, inside the allowance for multipart overhead: the handler counts too
    r = http.post("/api/images", files={"file": ("big.png", big[: UPLOAD_LIMIT + 1], "image/png")})
    assert r.status_code == 413


def test_chunked_upload_past_the_limit_is_cut_off(http):
    boundary = "polytopeboundary"

    def body():
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'.encode()
        yield b"Content-Type: image/png\r\n\r\n"
        for _ in range(40):  # 40 x 128 KiB = 5 MiB, sent without a Content-Length
            yield os.urandom(128 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = http.post(
        "/api/images", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]


def test_huge_declared_upload_is_refused_before_it_is_sent(server):
    """A client announcing 10 GB gets 413 at once: the server does not wait for (or store) the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            (
                "POST /api/images HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {10 * 1024**3}\r\n\r\n"
            ).encode()
            + b"--b\r\n"
        )
        t0 = time.monotonic()
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        assert time.monotonic() - t0 < 3
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"nosniff" in head.lower()
    assert "limit" in json.loads(body)["detail"]


def test_client_file_names_are_never_paths(http, data_dir):
    names = ["../../../escape.png", "/tmp/escape.png", "..\\..\\escape.png", "evil\x00.png", "a/b/c.png"]
    ids = []
    for name in names:
        r = http.post("/api/images", files={"file": (name, GOOD_PNG, "image/png")})
        assert r.status_code == 201, r.text
        ids.append(r.json()["image_id"])
    uploads = data_dir / "uploads"
    for path in data_dir.rglob("*"):
        assert "escape" not in path.name and "evil" not in path.name
        assert path.parent == uploads or path == uploads, path
        if path.is_file():
            assert path.suffix == ".png" and len(path.stem) >= 20
    for image_id in ids:
        assert all(ch.isalnum() or ch in "-_" for ch in image_id)


def test_upload_store_is_bounded_oldest_evicted(http, data_dir):
    ids = []
    for seed in range(6):
        r = http.post("/api/images", files={"file": ("n.png", encode(noise(seed=seed), "PNG"), "image/png")})
        assert r.status_code == 201
        ids.append(r.json()["image_id"])
    assert http.get(f"/api/images/{ids[0]}").status_code == 404
    assert http.get(f"/api/images/{ids[1]}").status_code == 404
    for image_id in ids[2:]:
        assert http.get(f"/api/images/{image_id}", params={"size": 16}).status_code == 200
    assert len(list((data_dir / "uploads").glob("*.png"))) == 4


def test_store_evicts_by_bytes_and_reindexes_a_persistent_folder(tmp_path):
    pictures = [encode(noise(seed=s), "PNG") for s in range(3)]
    store = ImageStore(uploads_dir=tmp_path, limits=StoreLimits(max_uploads=10, max_upload_store_bytes=10**9))
    ids = [store.add_upload(p) for p in pictures]
    one = store.upload_bytes() // 3
    store.close()  # a folder the store was given is not deleted
    (tmp_path / "not-an-upload.png").write_bytes(b"x")  # stray files are neither served nor evicted
    limits = StoreLimits(max_uploads=10, max_upload_store_bytes=2 * one + one // 2)
    again = ImageStore(uploads_dir=tmp_path, limits=limits)
    assert again.upload_count() == 2  # re-indexed and trimmed to the byte limit, oldest first
    assert again.path(ids[2]).exists()
    assert (tmp_path / "not-an-upload.png").exists()
    with pytest.raises(KeyError):
        again.path("not-an-upload")


def test_float_picture_with_some_non_finite_pixels_is_usable(http):
    values = np.linspace(0.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    values[:8] = np.nan
    values[8:16] = np.inf
    r = http.post("/api/images", files={"file": ("f.tif", encode(Image.fromarray(values, "F"), "TIFF"), "image/tiff")})
    assert r.status_code == 201, r.text
    png = Image.open(io.BytesIO(http.get(f"/api/images/{r.json()['image_id']}", params={"size": 64}).content))
    column = np.asarray(png.convert("L"))[:, 32]
    assert column[:7].max() <= 5 and column[9:15].min() >= 250  # NaN black, +inf the brightest


def test_unfinished_and_unreadable_uploads_are_removed_at_start_up(tmp_path, caplog):
    store = ImageStore(uploads_dir=tmp_path)
    good = store.add_upload(encode(noise(seed=1), "PNG"))
    store.close()
    stale = tmp_path / f".{'p' * 24}.part"  # a write a killed server never finished
    stale.write_bytes(b"half a picture")
    empty = tmp_path / f"{'e' * 24}.png"
    empty.write_bytes(b"")
    damaged = tmp_path / f"{'d' * 24}.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    small = tmp_path / f"{'s' * 24}.png"  # a readable PNG the store never wrote (not 1024x1024)
    small.write_bytes(encode(noise(), "PNG"))
    stray = tmp_path / "notes.txt"  # not the store's: left alone
    stray.write_text("mine")
    with serving_here(uploads_dir=tmp_path) as url:
        for path in (stale, empty, damaged, small):
            assert not path.exists(), path
        assert stray.exists()
        assert httpx.get(f"{url}/api/images/{good}", params={"size": 16}).status_code == 200
        for name in ("e" * 24, "d" * 24, "s" * 24):
            assert httpx.get(f"{url}/api/images/{name}").status_code == 404
    assert not [r for r in caplog.records if r.exc_info], "the server logged a traceback"


def test_an_upload_damaged_on_disk_later_is_forgotten(tmp_path):
    store = ImageStore(uploads_dir=tmp_path)
    image_id = store.add_upload(encode(noise(seed=2), "PNG"))
    path = store.path(image_id)
    path.write_bytes(path.read_bytes()[:200])  # damaged behind the store's back
    with pytest.raises(KeyError, match="no longer available"):
        store.target(image_id)
    assert not path.exists() and store.upload_count() == 0
    store.close()


# -- issue 11, problem 7: live sessions together stay within a memory budget -----------------------------
def test_configure_past_the_live_memory_budget_is_refused_naming_the_field(tmp_path):
    from polytope_lens.web.budget import estimate_session_bytes
    from polytope_lens.core.settings import RunConfig

    big = dict(layers="14x6", resolution=1024, color=True, train_points=1000, val_points=200)
    big_config = {k: v for k, v in big.items() if k != "resolution"}
    need = estimate_session_bytes(RunConfig(**big_config), 1024)
    limit = need + need // 2  # one such session fits, two do not
    with running_server(live_memory_bytes=limit, uploads_dir=tmp_path) as url:
        assert httpx.get(f"{url}/api/options").json()["limits"]["max_live_memory_bytes"] == limit
        with LiveClient(url) as first, LiveClient(url) as second:
            first.configure(**big)
            second.send("view", resolution=1024)
            second.send("configure", config=big_config)
            error = second.expect("error")
            assert error["field"] == "resolution", error
            assert "memory" in error["message"] and "MiB" in error["message"]
            assert second.status["config"] is None  # nothing was built
            second.configure(**TINY)  # a small one still fits
            first.configure(**TINY)  # a session that shrinks frees its share ...
            second.configure(**big)  # ... for another
        with LiveClient(url) as third:  # and a session that ends frees all of its share
            third.configure(**big)


# -- bad websocket messages -----------------------------------------------------------------
def configure(config) -> str:
    return json.dumps({"type": "configure", "config": config})


BAD_MESSAGES = [
    # (id, message, field or None, words in the message)
    ("unknown-field", configure({"colour": True}), "colour", "unknown field"),
    ("unknown-nested", configure({"layers": "8", "extra": {"a": [1, 2]}}), "extra", "unknown field"),
    ("layers-number", configure({"layers": 14}), "layers", "string"),
    ("lr-string", configure({"lr": "0.1"}), "lr", "number"),
    ("color-yes", configure({"color": "yes"}), "color", "boolean"),
    ("batch-float", configure({"batch_size": 1.5}), "batch_size", "integer"),
    ("seed-bool", configure({"seed": True}), "seed", "integer"),
    ("config-list", json.dumps({"type": "configure", "config": [1, 2]}), "config", "dict"),
    ("batch-zero", configure({"batch_size": 0}), "batch_size", "greater than"),
    ("batch-negative", configure({"batch_size": -5}), "batch_size", "greater than"),
    ("val-zero", configure({"val_points": 0}), "val_points", "greater than"),
    ("resolution-zero", json.dumps({"type": "view", "resolution": 0}), "resolution", "greater than"),
    ("resolution-huge", json.dumps({"type": "view", "resolution": 4096}), "resolution", "less than"),
    ("resolution-in-config", configure({"resolution": 64}), "resolution", "'view' message"),
    ("width-zero", configure({"layers": "0"}), "layers", "positive"),
    ("width-negative", configure({"layers": "-3"}), "layers", "positive"),
    ("count-zero", configure({"layers": "14x0"}), "layers", "positive"),
    ("layers-empty", configure({"layers": ""}), "layers", "layers"),
    ("layers-code", configure({"layers": "__import__('os')"}), "layers", "cannot read"),
    ("too-deep", configure({"layers": "4x65"}), "layers", "at most 64"),
    ("too-wide", configure({"layers": "2000"}), "layers", "1024"),
    ("too-many-parameters", configure({"layers": "1000x3"}), "layers", "parameters"),
    (
        "batch-too-costly",
        configure({"layers": "1024,1024", "batch_size": 500_000, "train_points": 500_000}),
        "batch_size",
        "live limit",
    ),
    ("lr-zero", configure({"lr": 0}), "lr", "greater than"),
    ("lr-negative", configure({"lr": -0.001}), "lr", "greater than"),
    ("lr-huge", configure({"lr": 11}), "lr", "less than"),
    ("lr-nan", '{"type": "configure", "config": {"lr": NaN}}', "lr", "lr"),
    ("lr-infinity", '{"type": "configure", "config": {"lr": Infinity}}', "lr", "lr"),
    ("momentum-one", configure({"momentum": 1.0}), "momentum", "less than"),
    ("slope-zero", configure({"negative_slope": 0}), "negative_slope", "greater than"),
    ("optimizer", configure({"optimizer": "Adam"}), "optimizer", "adam"),
    ("activation", configure({"activation": "tanh"}), "activation", "relu"),
    ("points-past-pixels", configure({"train_points": 1_048_576, "val_points": 1}), "val_points", "1,048,576 pixels"),
    ("points-way-past", configure({"train_points": 2_000_000}), "train_points", "less than"),
    ("image-unknown", configure({"image": "no-such-picture"}), "image", "no picture"),
    ("image-path", configure({"image": "/etc/passwd"}), "image", "no picture"),
    ("image-traversal", configure({"image": "../../sample_images/ring"}), "image", "no picture"),
    ("image-file-name", configure({"image": "ring.png"}), "image", "no picture"),
    ("image-empty", configure({"image": ""}), "image", "at least 1"),
    ("image-long", configure({"image": "x" * 300}), "image", "at most 200"),
    ("seed-negative", configure({"seed": -1}), "seed", "greater than"),
    ("not-json", "{configure", None, "not valid JSON"),
    ("plain-word", "configure", None, "not valid JSON"),
    ("empty-text", "", None, "not valid JSON"),
    ("json-null", "null", None, "JSON object"),
    ("json-list", "[1, 2]", None, "JSON object"),
    ("json-number", "42", None, "JSON object"),
    ("no-type", "{}", "type", "unknown message type"),
    ("type-number", '{"type": 5}', "type", "unknown message type"),
    ("type-list", '{"type": ["configure"]}', "type", "unknown message type"),
    ("type-unknown", '{"type": "train"}', "type", "expected one of"),
    ("type-case", '{"type": "CONFIGURE"}', "type", "unknown message type"),
    ("extra-in-start", '{"type": "start", "now": true}', "now", "unknown field"),
    ("step-zero", '{"type": "step", "n": 0}', "n", "greater than"),
    ("step-huge", '{"type": "step", "n": 100001}', "n", "less than"),
    ("step-string", '{"type": "step", "n": "10"}', "n", "integer"),
    ("step-giant-int", '{"type": "step", "n": ' + "9" * 5000 + "}", None, "JSON"),
    ("set-lr-zero", '{"type": "set", "lr": 0}', "lr", "greater than"),
    ("set-optimizer", '{"type": "set", "optimizer": "lbfgs"}', "optimizer", "adam"),
    ("view-fps", '{"type": "view", "max_fps": 0}', "max_fps", "greater than"),
    ("view-visible", '{"type": "view", "visible": "yes"}', "visible", "boolean"),
    ("deep-nesting", "[" * 30000 + "]" * 30000, None, "nested too deeply"),
    ("deep-config", '{"type": "configure", "config": {"layers": ' + "[" * 20000 + "]" * 20000 + "}}", None, "deep"),
    ("big-text", "x" * (2 * 1024 * 1024), None, "too large"),
    ("big-json", configure({"layers": "8", "x": "y" * 70_000}), None, "too large"),
    ("binary-garbage", os.urandom(1000), None, "binary"),
    ("binary-empty", b"", None, "binary"),
    ("binary-megabytes", b"\x00" * (3 * 1024 * 1024), None, "binary"),
]


@pytest.fixture(scope="module")
def wsc(server):
    """One session for the whole corpus: it has to survive every bad message."""
    with LiveClient(server) as client:
        client.configure(**TINY)
        yield client


@pytest.mark.parametrize("name, message, field, words", BAD_MESSAGES, ids=[m[0] for m in BAD_MESSAGES])
def test_bad_message_gets_an_error_and_the_session_stays_usable(wsc, name, message, field, words):
    wsc.send_raw(message)
    error = wsc.expect("error", timeout=20)
    assert words.lower() in error["message"].lower(), error
    assert error.get("field") == field, error
    assert len(error["message"]) <= 400  # never echoes a megabyte back
    step = wsc.status["step"]
    wsc.send("step", n=1)
    status = wsc.expect("status", where=lambda m: m["step"] == step + 1, timeout=20)
    assert status["config"]["layers"] == "8x2"  # the bad configure did not replace the network


def test_message_past_the_socket_limit_closes_with_a_reason(server, http):
    before = sessions_open(http)
    client = LiveClient(server)
    client.send_raw("x" * (5 * 1024 * 1024))  # past max_ws_message_bytes (4 MiB)
    with pytest.raises(ConnectionClosed) as info:
        client.quiet(5)
        client.recv(timeout=5)
    close = info.value.rcvd
    assert close is not None and close.code == 1009
    assert "limit" in close.reason
    wait_sessions(http, before, 2.0)
    with LiveClient(server) as again:  # the server goes on
        assert again.configure(**TINY)["state"] == "paused"


def test_flood_of_commands_is_bounded(wsc):
    flood = json.dumps({"type": "configure", "config": {**TINY_CONFIG, "seed": 7}})
    for _ in range(200):
        wsc.send_raw(flood)
    slow_down = []
    deadline = time.monotonic() + 60
    next_try = 0.0
    while True:  # like a client told to slow down: retry now and then until the session answers
        assert time.monotonic() < deadline, "the session never came back after the flood"
        if time.monotonic() >= next_try:
            wsc.send("configure", config=TINY_CONFIG)
            next_try = time.monotonic() + 0.5
        try:
            message = wsc.recv(timeout=0.5)
        except TimeoutError:
            continue
        if message["type"] == "error":
            slow_down.append(message)
        if message["type"] == "status" and message["config"] and message["config"]["seed"] == 0:
            break
    assert slow_down, "200 configures at once should overflow the command queue"
    assert all("slow down" in m["message"] for m in slow_down), slow_down[:3]
    wsc.quiet(1.0)
    wsc.send("step", n=2)
    wsc.expect("status", where=lambda m: m["step"] == 2 and m["config"]["seed"] == 0)


def test_diverging_training_pauses_with_a_message(wsc):
    wsc.send("configure", config={**TINY_CONFIG, "optimizer": "sgd", "lr": 10.0})
    wsc.expect("status", where=lambda m: m["config"]["lr"] == 10.0)
    wsc.send("start")
    error = wsc.expect("error", where=lambda m: "diverged" in m["message"])
    assert "learning rate" in error["message"]
    status = wsc.expect("status", where=lambda m: m["state"] == "diverged")
    frames = [m for m in wsc.quiet(1.0) if m["type"] == "frame"]
    for frame in wsc.frames[-3:] + frames:
        assert math.isfinite(frame["train_loss"]) and math.isfinite(frame["val_loss"])
    assert all(f["step"] <= status["step"] for f in frames)  # no training after divergence
    wsc.send("set", lr=0.01)
    wsc.send("start")
    wsc.expect("status", where=lambda m: m["state"] == "running" and m["config"]["lr"] == 0.01)
    frame = wsc.expect("frame", where=lambda f: f["step"] > status["step"] + 5)
    assert math.isfinite(frame["val_loss"])
    wsc.send("pause")
    wsc.expect("status", where=lambda m: m["state"] == "paused")


# -- sessions: limits and dropped connections --------------------------------------------------
def test_busy_when_the_session_limit_is_reached(server, http):
    open_now = sessions_open(http)
    clients = [LiveClient(server) for _ in range(MAX_SESSIONS - open_now)]
    try:
        wait_sessions(http, MAX_SESSIONS, 2.0)
        t0 = time.monotonic()
        extra = LiveClient(server, read_status=False)
        error = extra.expect("error", timeout=5)
        assert time.monotonic() - t0 < 2  # an answer, not a hang
        assert error["field"] == "busy" and "busy" in error["message"] and str(MAX_SESSIONS) in error["message"]
        with pytest.raises(ConnectionClosed) as info:
            extra.recv(timeout=5)
        assert info.value.rcvd.code == 1013
        clients.pop().close()
        wait_sessions(http, MAX_SESSIONS - 1, 2.0)
        with LiveClient(server) as admitted:
            assert admitted.configure(**TINY)["state"] == "paused"
    finally:
        for client in clients:
            client.close()
    wait_sessions(http, open_now, 3.0)


KILLED_CLIENT = textwrap.dedent(
    """
    import json, sys, time
    from websockets.sync.client import connect
    ws = connect(sys.argv[1], max_size=None).__enter__()
    ws.send(json.dumps({"type": "view", "resolution": 256}))
    ws.send(json.dumps({"type": "configure", "config": {"layers": "16x4"}}))
    ws.send(json.dumps({"type": "start"}))
    while True:
        message = ws.recv()
        if isinstance(message, bytes) and b'"step":0,' not in message[:200]:
            print("training", flush=True)
            break
    time.sleep(60)
    """
)


def test_killed_client_stops_its_training(server, http):
    before = sessions_open(http)
    process = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, server.ws], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "training"
        assert sessions_open(http) == before + 1
        process.kill()  # no close handshake: the OS resets the connection
        process.wait(5)
        took = wait_sessions(http, before, 2.0)
        assert took < 1.5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def test_client_that_stops_reading_is_dropped_and_others_keep_their_frames(server, http):
    before = sessions_open(http)
    process = psutil.Process(server.pid)
    rss_before = process.memory_info().rss
    with LiveClient(server) as good:
        good.configure(**{**SMALL_CONFIG, "resolution": 32})
        good.send("start")
        good.expect("frame", where=lambda f: f["step"] > 0)
        stalled = raw_websocket(server, rcvbuf=4096)
        try:
            stalled.sendall(client_frame(json.dumps({"type": "view", "fill_regions": True})))
            stalled.sendall(client_frame(configure(TINY_CONFIG)))  # drawn at the default 512
            stalled.sendall(client_frame(json.dumps({"type": "start"})))
            # ... and never reads again
            wait_sessions(http, before + 2, 3.0)
            t0 = time.monotonic()
            frame_times = []
            peak = 0
            while sessions_open(http) > before + 1:
                assert time.monotonic() - t0 < 30, "the stalled client was never dropped"
                for message in good.quiet(0.25):
                    if message["type"] == "frame":
                        frame_times.append(time.monotonic())
                peak = max(peak, process.memory_info().rss)
            dropped_after = time.monotonic() - t0
        finally:
            stalled.close()
        # the other session was served all along: frames kept coming, no long gaps
        assert len(frame_times) >= 5
        gaps = np.diff([t0, *frame_times])
        assert gaps.max() < 3.0, gaps
        good.send("pause")
        good.expect("status", where=lambda m: m["state"] == "paused")
    wait_sessions(http, before, 2.0)
    assert dropped_after < 25
    assert "client stopped reading" in server.log()  # by the send timeout, not the pings
    # one 512² session's working memory (about 120 MiB measured) and a frame or two of buffers, no backlog
    assert peak - rss_before < 250 * 1024 * 1024, f"+{(peak - rss_before) >> 20} MiB"


def test_stalled_network_is_detected_by_pings(server, http):
    """A peer that neither reads nor answers pings (a pulled cable) is dropped after the ping timeout."""
    before = sessions_open(http)
    sock = raw_websocket(server)
    try:
        wait_sessions(http, before + 1, 2.0)
        took = wait_sessions(http, before, 8.0)  # ping_interval 1 s + ping_timeout 4 s + slack
        assert took > 3.0
    finally:
        sock.close()


def test_foreign_origin_cannot_open_a_session(server, http):
    with pytest.raises(InvalidStatus) as info:
        LiveClient(server, origin="http://evil.example")
    assert info.value.response.status_code == 403
    assert b"origin" in info.value.response.body
    with LiveClient(server, origin=server) as same_origin:  # the app's own page may
        assert same_origin.token


# -- issue 11, problem 3: other sites may not use this server ---------------------------------------
def handshake(server, host: str, origin: str | None = None) -> bytes:
    """The server's answer to a websocket handshake sent with these Host and Origin headers."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        extra = f"Origin: {origin}\r\n" if origin else ""
        sock.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: {host}\r\n{extra}Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        with contextlib.suppress(OSError):
            sock.settimeout(0.5)
            reply += sock.recv(4096)
        return reply


def test_foreign_host_is_refused_for_rest_and_websocket(server, http):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends Host: evil.example."""
    before = sessions_open(http)
    for path in ("/api/health", "/api/options", "/", "/api/samples"):
        r = httpx.get(f"{server}{path}", headers={"Host": "evil.example"}, timeout=10)
        assert r.status_code == 403, (path, r.status_code)
        assert "host name" in r.json()["detail"] and "--allow-host" in r.json()["detail"]
    reply = handshake(server, "evil.example:%d" % server.port, origin="http://evil.example:%d" % server.port)
    assert reply.startswith(b"HTTP/1.1 403"), reply[:200]
    assert b"host name" in reply
    assert sessions_open(http) <= before  # none opened (an earlier test's closing session may end meanwhile)
    # the names this server is reached by are answered
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"[::1]:{server.port}", "LOCALHOST"):
        assert httpx.get(f"{server}/api/health", headers={"Host": host}, timeout=10).status_code == 200, host
    assert handshake(server, f"localhost:{server.port}").startswith(b"HTTP/1.1 101")


def test_upload_from_a_foreign_page_is_refused(server, http):
    count = len(list((Path(server_data_dir(server)) / "uploads").glob("*.png")))
    files = {"file": ("a.png", GOOD_PNG, "image/png")}
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{server.port + 1}"):
        r = http.post("/api/images", files=files, headers={"Origin": origin})
        assert r.status_code == 403, (origin, r.text)
        assert "another site" in r.json()["detail"] and "--allow-origin" in r.json()["detail"]
    assert len(list((Path(server_data_dir(server)) / "uploads").glob("*.png"))) == count  # nothing stored
    assert http.post("/api/images", files=files, headers={"Origin": server}).status_code == 201  # its own page
    assert http.post("/api/images", files=files).status_code == 201  # no Origin: not a browser page


def test_allow_host_and_allow_origin_open_the_door(tmp_path):
    with serving_here(allowed_hosts=("lens.example",), allowed_origins=("https://friend.example",),
                      uploads_dir=tmp_path) as url:
        assert httpx.get(f"{url}/api/health", headers={"Host": "lens.example:8000"}).status_code == 200
        assert httpx.get(f"{url}/api/health", headers={"Host": "evil.example"}).status_code == 403
        files = {"file": ("a.png", GOOD_PNG, "image/png")}
        assert httpx.post(f"{url}/api/images", files=files, headers={"Origin": "https://friend.example"}).status_code == 201
        assert httpx.post(f"{url}/api/images", files=files, headers={"Origin": "https://evil.example"}).status_code == 403
    with serving_here(allowed_hosts=("*",), uploads_dir=tmp_path) as url:
        assert httpx.get(f"{url}/api/health", headers={"Host": "anything.example"}).status_code == 200


def test_refused_origins_are_logged_quietly(server):
    for _ in range(3):
        with pytest.raises(InvalidStatus):
            LiveClient(server, origin="http://evil.example")
    time.sleep(0.2)
    log = server.log()
    assert "without completing handshake" not in log and "ERROR" not in log, log[-2000:]


def test_server_is_still_healthy(server, http):
    assert server.alive()
    assert http.get("/api/health").json()["status"] == "ok"
    assert "Traceback" not in server.log(), server.log()[-3000:]
