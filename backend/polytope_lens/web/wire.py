"""Binary frame encoding for the websocket (format in docs/protocol.md).

Plain bytes, no web framework: the session builds frames, the server only
forwards them.
"""

from __future__ import annotations

import numpy as np

from ..core.container import pack, unpack
from ..core.network import Network, flat_weights, slope_fields
from ..geometry.grid import GridPartition
from ..output.classmap import class_map_rgb, decision_mask, softmax_confidence
from ..output.boundaries import boundary_lines


def prediction_bytes(prediction: np.ndarray) -> bytes:
    """float (R, R, C) -> R*R*C uint8, clipped to [0, 1] * 255, row 0 at the top."""
    scaled = np.empty(prediction.shape, dtype=np.float32)
    np.multiply(prediction, 255.0, out=scaled)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint8).tobytes()


def boundary_bytes(boundary: np.ndarray) -> bytes:
    """bool (R, R) -> one bit per pixel, row-major, most significant bit first."""
    return np.packbits(boundary.ravel(), bitorder="big").tobytes()


def encode_frame(header: dict, sections: list[tuple[str, bytes]]) -> bytes:
    """Pack a JSON header and named byte sections into one binary message (core/container.py)."""
    return pack({**header, "type": "frame"}, sections)


def decode_frame(message: bytes) -> tuple[dict, dict[str, bytes]]:
    """Inverse of encode_frame (used by tests, benchmarks and Python clients); reads surface
    messages too."""
    return unpack(message)


def partition_frame(partition: GridPartition, header: dict, fill_regions: bool = False) -> bytes:
    """The websocket frame for one partition: prediction, boundary bits, the boundary pixels painted
    (render.py boundary_lines: the page fades them as render.py does), optional region colours."""
    sections = [
        ("prediction", prediction_bytes(partition.prediction)),
        ("boundary", boundary_bytes(partition.boundary)),
        ("lines", boundary_bytes(boundary_lines(partition))),
    ]
    if fill_regions:
        sections.append(("regions", partition.color_image().tobytes()))
    meta = {
        "resolution": partition.resolution,
        "channels": int(partition.prediction.shape[2]),
        "regions": partition.region_count,
    }
    # a header's own count wins: a live update's measured fields (its regions too) may be of an
    # earlier step than its picture (measured_step)
    return encode_frame({**meta, **header}, sections)


def class_frame(partition: GridPartition, colors, header: dict, fill_regions: bool = False) -> bytes:
    """The websocket frame of a classifier's partition: ``prediction`` is the class map already in
    colour (output/classmap.py: the winner's colour shaded by confidence, 3 channels), ``boundary``
    the region boundaries, ``decision`` the decision boundary's pixels (its heavier line), and the
    optional region colours."""
    confidence = softmax_confidence(partition.prediction)  # once: the class map and the decision boundary
    winner, _ = confidence
    sections = [
        ("prediction", class_map_rgb(partition.prediction, colors, confidence).tobytes()),
        ("boundary", boundary_bytes(partition.boundary)),
        ("lines", boundary_bytes(boundary_lines(partition))),
        ("decision", boundary_bytes(decision_mask(winner))),
    ]
    if fill_regions:
        sections.append(("regions", partition.color_image().tobytes()))
    meta = {"resolution": partition.resolution, "channels": 3, "regions": partition.region_count}
    return encode_frame({**meta, **header}, sections)  # the header's measured count wins (partition_frame)


def weights_frame(header: dict, network: Network) -> bytes:
    """The websocket update of the client renderer: the network itself (its flat layout,
    core.network.flat_weights) instead of pictures, with what the page needs to read it (``in_dim`` 3:
    a clip's (x, y, t) network, which the page slices at its t itself), and the negative slope of each
    hidden layer (core.network.slope_fields: ``slopes``, and ``negative_slope``)."""
    meta = {"render": "client", "widths": list(network.widths), "out_dim": int(network.out_dim),
            **slope_fields(network), "in_dim": int(network.in_dim)}
    return encode_frame({**header, **meta}, [("weights", flat_weights(network))])
