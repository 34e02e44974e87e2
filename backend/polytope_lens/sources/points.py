"""Data files of points (N x D): ``.npy`` (read with allow_pickle=False) or ``.csv`` (numbers,
comma, semicolon, tab or space separated, an optional header row). The three points of a plane
(geometry/plane.py) are rows of one."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .refusal import NetworkRefused

MAX_POINTS_FILE_BYTES = 64 * 1024 * 1024


def read_points(path_or_bytes: str | os.PathLike | bytes, name: str | None = None,
                limit: int = MAX_POINTS_FILE_BYTES) -> np.ndarray:
    """An (N, D) float64 array of the rows of a .npy or .csv file (a path, or bytes and a name)."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, source = bytes(path_or_bytes), name or "the points file"
    else:
        path = Path(path_or_bytes)
        source = name or path.name
        try:
            if path.stat().st_size > limit:
                raise NetworkRefused(f"{source} is past the limit of {limit / 2**20:.0f} MiB for a points file", source)
            data = path.read_bytes()
        except OSError as exc:
            raise NetworkRefused(f"cannot read {path}: {exc.strerror or exc}", source) from None
    if len(data) > limit:
        raise NetworkRefused(f"{source} is past the limit of {limit / 2**20:.0f} MiB for a points file", source)
    if data[:6] == b"\x93NUMPY":
        try:
            points = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as exc:
            raise NetworkRefused(f"{source} is not a numeric .npy array ({exc})", source) from None
    else:
        points = _read_csv(data, source)
    points = np.asarray(points)
    if points.dtype.kind not in "fiu":
        raise NetworkRefused(f"{source} holds {points.dtype} values, not numbers", source)
    if points.ndim == 1:
        points = points[None, :]
    if points.ndim != 2 or points.shape[0] < 1:
        raise NetworkRefused(f"{source} has shape {points.shape}: rows of points (N x D) are needed", source)
    points = points.astype(np.float64)
    if not np.all(np.isfinite(points)):
        raise NetworkRefused(f"{source} holds NaN or infinite values", source)
    return points


def _read_csv(data: bytes, source: str) -> np.ndarray:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NetworkRefused(f"{source} is neither a .npy array nor a text (CSV) file", source) from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = line.replace(";", ",").replace("\t", ",").split(",") if any(c in line for c in ",;\t") else line.split()
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            if not rows:  # a header row
                continue
            raise NetworkRefused(f"{source}, line {number}: not a row of numbers", source) from None
    if not rows:
        raise NetworkRefused(f"{source} has no rows of numbers", source)
    if len({len(r) for r in rows}) != 1:
        raise NetworkRefused(f"{source}: the rows have different lengths", source)
    return np.array(rows, dtype=np.float64)
