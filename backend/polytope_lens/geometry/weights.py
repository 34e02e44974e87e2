"""Frozen copies of a network's weights, safe to read on another thread or in another process."""

from __future__ import annotations

import numpy as np


class WeightsSnapshot:
    """A frozen CPU copy of an MLP's weights: what this module reads (``affine_layers``,
    ``negative_slope``), safe to use on another thread while the model trains on."""

    def __init__(self, model):
        self._layers = [(W.detach().to("cpu", copy=True), b.detach().to("cpu", copy=True))
                        for W, b in model.affine_layers()]
        self.negative_slope = float(model.negative_slope)

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
