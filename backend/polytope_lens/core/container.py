"""The binary container of every binary message (docs/protocol.md): live frames, surface messages
and the ``/surface`` route's body.

    bytes 0..3    magic "PLF1" (ASCII)
    bytes 4..7    header length L, uint32 little-endian
    bytes 8..8+L  header: UTF-8 JSON, with ``sections: [{"name", "offset", "length"}]``
    bytes 8+L..   payload: the sections, at offsets relative to the payload start

Plain bytes and JSON, no numerics and no web framework: the session (web/wire.py) and the
geometry worker processes (geometry/surface.py) pack with it, tests and Python clients unpack.
"""

from __future__ import annotations

import json
import struct

MAGIC = b"PLF1"


def pack(header: dict, sections: list[tuple[str, bytes]], align: int = 1) -> bytes:
    """``header`` (its ``sections`` table added) and the named byte sections as one message.

    ``align`` > 1 starts every section at a multiple of ``align`` bytes of the payload (zero
    padding after the section before), and pads the header with spaces so that the payload itself
    starts at such a multiple of the message: a reader may view each section as a typed array of
    that alignment without copying it.
    """
    table, parts, offset = [], [], 0
    for name, data in sections:
        pad = -offset % align
        if pad:
            parts.append(b"\0" * pad)
            offset += pad
        table.append({"name": name, "offset": offset, "length": len(data)})
        parts.append(data)
        offset += len(data)
    # allow_nan=False: browsers cannot parse NaN, so a non-finite value is a bug to hear about here
    head = json.dumps({**header, "sections": table}, separators=(",", ":"), allow_nan=False).encode()
    head += b" " * (-(8 + len(head)) % align)  # JSON allows trailing spaces
    return b"".join([MAGIC, struct.pack("<I", len(head)), head, *parts])


def unpack(message: bytes) -> tuple[dict, dict[str, bytes]]:
    """Inverse of :func:`pack`: the header and the sections by name."""
    if message[:4] != MAGIC:
        raise ValueError("not a Polytope Lens binary message (no PLF1 magic)")
    (length,) = struct.unpack("<I", message[4:8])
    header = json.loads(message[8 : 8 + length])
    payload = memoryview(message)[8 + length :]
    sections = {s["name"]: bytes(payload[s["offset"] : s["offset"] + s["length"]]) for s in header["sections"]}
    return header, sections
