"""Frozen copies of a network's weights, safe to read on another thread."""

from __future__ import annotations



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

