"""Hostile and damaged files made in the test (nothing large is committed): clips that declare more
than they hold, run folders with links out of them, damaged run files.

Every maker writes a small file whose header claims something expensive; the server must refuse it
from the claim, before it pays for it.
"""

from __future__ import annotations

import fractions
import io
import struct

import av
import numpy as np
from PIL import Image

PALETTE = [0, 0, 0, 255, 0, 0] + [0] * 762


def video(frames: int = 6, size: int = 64, codec: str = "mpeg4", fmt: str = "mp4") -> bytes:
    """A real video: ``frames`` frames of ``size``², each a different gray."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for k in range(frames):
            picture = np.full((size, size, 3), (k * 40) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def _box(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> tuple[int, int]:
    """(offset, size) of the ISO media box at ``path`` (e.g. moov/trak/mdia/minf/stbl/stsz)."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        if kind == path[0]:
            return (at, size) if len(path) == 1 else _box(data, path[1:], at + 8, at + size)
        at += size
    raise KeyError(path[0])


SAMPLE_TABLE = [b"moov", b"trak", b"mdia", b"minf", b"stbl"]


def mp4_claiming_samples(samples: int) -> bytes:
    """A tiny MP4 whose sample tables (stsz and stts) claim ``samples`` one-byte samples."""
    data = bytearray(video(frames=3, size=16))
    at, _ = _box(data, SAMPLE_TABLE + [b"stsz"])
    struct.pack_into(">II", data, at + 12, 1, samples)  # constant sample size 1, sample count
    at, _ = _box(data, SAMPLE_TABLE + [b"stts"])
    struct.pack_into(">I", data, at + 16, samples)  # the first run's sample count
    return bytes(data)


def mp4_with_one_byte_samples(samples: int) -> bytes:
    """An MP4 whose compact sample table (stz2, 8-bit sizes) lists ``samples`` one-byte samples
    entry by entry: ``samples`` bytes of table."""
    data = bytearray(video(frames=3, size=16))
    at, size = _box(data, SAMPLE_TABLE + [b"stsz"])
    table = struct.pack(">4x3xBI", 8, samples) + b"\x01" * samples
    grown = struct.pack(">I4s", 8 + len(table), b"stz2") + table
    data[at:at + size] = grown
    growth = len(grown) - size
    for depth in range(len(SAMPLE_TABLE), 0, -1):  # the boxes around it grow as much
        parent, parent_size = _box(data, SAMPLE_TABLE[:depth])
        struct.pack_into(">I", data, parent, parent_size + growth)
    return bytes(data)


def _m4v(frames: int, size: int, shade: int) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="m4v") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = 1
        for k in range(frames):
            picture = np.full((size, size, 3), (shade + 40 * k) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def video_hiding_its_size(small: int = 16, big: int = 1024, small_frames: int = 3, big_frames: int = 5) -> bytes:
    """A Matroska video whose header (and first frames) say ``small``² while later frames are ``big``²."""
    raw = _m4v(small_frames, small, 0) + _m4v(big_frames, big, 100)
    out = io.BytesIO()
    with av.open(io.BytesIO(raw), format="m4v") as source, av.open(out, "w", format="matroska") as target:
        stream = source.streams.video[0]
        copy = target.add_stream_from_template(stream)
        for k, packet in enumerate(p for p in source.demux(stream) if p.size):
            packet.stream = copy
            packet.pts = packet.dts = k
            packet.time_base = fractions.Fraction(1, 10)
            target.mux(packet)
    return out.getvalue()


def _gif_blocks(data: bytes) -> tuple[bytes, list[bytes]]:
    """A GIF's header (signature, screen, global palette) and its frames (each with its control block)."""
    flags = data[10]
    at = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    head, frames, control = data[:at], [], b""
    while at < len(data) and data[at] != 0x3B:
        start = at
        if data[at] == 0x21:  # an extension: label, then sub-blocks
            at += 2
        else:  # an image: descriptor, optional palette, LZW minimum code size, then sub-blocks
            local = data[at + 9]
            at += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0) + 1
        while data[at]:
            at += data[at] + 1
        at += 1
        if data[start] == 0x21:
            control = data[start:at] if data[start + 1] == 0xF9 else control
        else:
            frames.append(control + data[start:at])
            control = b""
    return head, frames


def gif_with_huge_second_frame(width: int = 9000, height: int = 9000, canvas: int = 8) -> bytes:
    """An animated GIF on a ``canvas``² screen whose second frame is ``width`` x ``height`` (~60 KB)."""
    small = Image.new("P", (canvas, canvas), 1)
    small.putpalette(PALETTE)
    other = Image.new("P", (canvas, canvas), 0)
    other.putpalette(PALETTE)
    big = Image.new("P", (width, height), 1)
    big.putpalette(PALETTE)
    first, second = io.BytesIO(), io.BytesIO()
    small.save(first, "GIF", save_all=True, append_images=[other], duration=100, loop=0)
    big.save(second, "GIF")
    head, frames = _gif_blocks(first.getvalue())
    _, big_frames = _gif_blocks(second.getvalue())
    return head + frames[0] + big_frames[0] + b";"


def gif_with_delays(delays_ms: list[int], size: int = 8) -> bytes:
    """An animated GIF whose frames state these delays."""
    frames = []
    for k in range(len(delays_ms)):
        frame = Image.new("P", (size, size), k % 2)
        frame.putpalette(PALETTE)
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=delays_ms, loop=0)
    return buf.getvalue()


def colour_clip_with_classes(frames: int = 4, size: int = 96) -> bytes:
    """An animated GIF of three saturated colours (red, green, blue bands) moving frame by frame."""
    colours = [(230, 20, 20), (20, 200, 20), (20, 20, 230)]
    pictures = []
    for k in range(frames):
        rgb = np.full((size, size, 3), 255, np.uint8)
        for c, colour in enumerate(colours):
            top = (c * size // 3 + 4 * k) % size
            rgb[top:top + size // 4] = colour
        pictures.append(Image.fromarray(rgb).quantize(8))
    buf = io.BytesIO()
    pictures[0].save(buf, "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return buf.getvalue()
