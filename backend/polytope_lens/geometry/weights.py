"""A network's weights as data: frozen copies safe to read on another thread or in another process,
and the flat float32 layout the websocket sends and the weight history keeps (docs/protocol.md)."""

from __future__ import annotations

import numpy as np
import torch


def flat_weights(model) -> bytes:
    """Every layer in order (hidden layers, then the output layer): W (out x in, row-major), then b;
    float32 little-endian."""
    parts = []
    for W, b in model.affine_layers():
        parts.append(W.detach().to("cpu", torch.float32).numpy().astype("<f4", copy=False).tobytes())
        parts.append(b.detach().to("cpu", torch.float32).numpy().astype("<f4", copy=False).tobytes())
    return b"".join(parts)


def flat_size(widths: list[int], out_dim: int, in_dim: int = 2) -> int:
    """Bytes of ``flat_weights`` for a network of these hidden widths."""
    sizes = [in_dim, *widths, out_dim]
    return 4 * sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:]))


class WeightsSnapshot:
    """A frozen CPU copy of an MLP's weights: what the geometry modules read (``affine_layers``,
    ``negative_slope``), safe to use on another thread while the model trains on."""

    def __init__(self, model):
        self._layers = [(W.detach().to("cpu", copy=True), b.detach().to("cpu", copy=True))
                        for W, b in model.affine_layers()]
        self.negative_slope = float(model.negative_slope)

    @classmethod
    def from_flat(cls, data: bytes, widths: list[int], out_dim: int, negative_slope: float,
                  in_dim: int = 2) -> "WeightsSnapshot":
        """The inverse of ``flat_weights`` (``in_dim`` 3 for a clip's (x, y, t) network)."""
        if len(data) != flat_size(widths, out_dim, in_dim):
            raise ValueError(f"{len(data)} bytes do not hold the weights of a {in_dim}-{widths}-{out_dim} network")
        values = np.frombuffer(data, dtype="<f4")
        layers, at = [], 0
        sizes = [in_dim, *widths, out_dim]
        for i, o in zip(sizes[:-1], sizes[1:]):
            W = torch.from_numpy(values[at : at + o * i].reshape(o, i).copy())
            at += o * i
            b = torch.from_numpy(values[at : at + o].copy())
            at += o
            layers.append((W, b))
        snapshot = cls.__new__(cls)
        snapshot._layers = layers
        snapshot.negative_slope = float(negative_slope)
        return snapshot

    def affine_layers(self):
        return self._layers

    @property
    def widths(self) -> list[int]:
        return [int(W.shape[0]) for W, _ in self._layers[:-1]]

    def arrays(self) -> "ArrayWeights":
        """The same weights as numpy arrays: picklable without torch, for a worker process."""
        return ArrayWeights([(W.numpy().copy(), b.numpy().copy()) for W, b in self._layers], self.negative_slope)


class ArrayWeights:
    """Weights as plain numpy arrays (``affine_layers``, ``negative_slope``, ``widths``): what the
    exact-geometry code reads, and cheap to send to another process (no torch needed there)."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], negative_slope: float):
        self._layers = [(np.asarray(W), np.asarray(b)) for W, b in layers]
        self.negative_slope = float(negative_slope)

    def affine_layers(self):
        return self._layers

    @property
    def widths(self) -> list[int]:
        return [int(W.shape[0]) for W, _ in self._layers[:-1]]

    @property
    def hidden(self) -> int:
        return sum(self.widths)
