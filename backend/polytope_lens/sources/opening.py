"""Open a model file: ONNX, a PyTorch state dict or safetensors, told apart by the file's first
bytes (its name's extension only breaks a tie), size-checked before anything reads it."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Sequence

from ..core.network import FrozenNetwork, Task
from .chain import MAX_NETWORK_FILE_BYTES
from .onnxfile import read_onnx
from .refusal import NetworkRefused
from .tensors import read_safetensors, read_state_dict

FORMATS = ("onnx", "state_dict", "safetensors")
EXTENSIONS = {".onnx": "onnx", ".pt": "state_dict", ".pth": "state_dict", ".bin": "state_dict",
              ".safetensors": "safetensors"}


def file_format(data: bytes, name: str | None = None) -> str:
    """"onnx", "state_dict" or "safetensors": a zip (torch.save's format) or a pickle is a state dict,
    an 8-byte length then a JSON header is safetensors, anything else is tried as ONNX."""
    if data[:4] == b"PK\x03\x04" or data[:1] == b"\x80":
        return "state_dict"
    if len(data) >= 10 and data[8:9] == b"{":
        (length,) = struct.unpack("<Q", data[:8])
        if length <= len(data) - 8:
            return "safetensors"
    suffix = Path(name).suffix.lower() if name else ""
    return EXTENSIONS.get(suffix, "onnx")


def read_bytes(path: str | os.PathLike, limit: int = MAX_NETWORK_FILE_BYTES) -> bytes:
    """A file's bytes, refused unread when it is past ``limit``."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NetworkRefused(f"cannot read {path}: {exc.strerror or exc}", str(path)) from None
    check_size(size, path.name, limit)
    return path.read_bytes()


def check_size(size: int, name: str, limit: int = MAX_NETWORK_FILE_BYTES) -> None:
    if size > limit:
        raise NetworkRefused(f"{name} is {size / 2**20:.1f} MiB, past the limit of {limit / 2**20:.0f} MiB for a model "
                             "file", name)
    if size == 0:
        raise NetworkRefused(f"{name} is empty", name)


def open_network(path_or_bytes: str | os.PathLike | bytes, *, name: str | None = None, activation: str | None = None,
                 negative_slope: float | Sequence[float] | None = None, task: Task | None = None,
                 limit: int = MAX_NETWORK_FILE_BYTES) -> FrozenNetwork:
    """The network in a model file (a path, or its bytes with ``name`` for the messages and the
    extension). ``activation`` ("relu", "leaky_relu") and ``negative_slope`` (one, or one per hidden
    layer) are for state dicts and safetensors, which carry no activations; an ONNX file carries
    its own. ``task`` overrides the task read from the file (see chain.infer_task)."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
        source = name or "the model file"
        check_size(len(data), source, limit)
        folder = None
    else:
        data = read_bytes(path_or_bytes, limit)
        source = name or Path(path_or_bytes).name
        folder = Path(path_or_bytes).resolve().parent  # where an ONNX file's external weights may lie
    kind = file_format(data, source)
    if kind == "onnx":
        if activation is not None or negative_slope is not None:
            raise NetworkRefused(f"{source} is an ONNX file, which carries its own activations: leave activation "
                                 "and negative_slope out", "activation")
        return read_onnx(data, source, task, base_dir=folder, limit=limit)
    options = {"activation": activation, "negative_slope": negative_slope, "task": task}
    if kind == "safetensors":
        return read_safetensors(data, source, **options)
    return read_state_dict(data, source, **options)


def preload() -> None:
    """Import the readers' packages now (``import onnx`` takes seconds on a busy machine), so that the
    first model file a server is sent opens as fast as any other. Missing optional packages are
    left to the reader that needs one, which says how to install it."""
    import importlib

    for name in ("onnx", "onnx.numpy_helper", "safetensors.numpy"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
