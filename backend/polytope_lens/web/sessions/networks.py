"""The one place where the session code freezes a network and carries it between processes.

A frozen network is a ``WeightsSnapshot`` (geometry/weights.py). The session keeps its history as
``flat_weights`` bytes and rebuilds a kept step from them; a snapshot crosses a pipe or Ray as those
bytes with the shape that rebuilds it (plain bytes: no torch tensors through a pipe).
"""

from __future__ import annotations

from ...geometry.weights import WeightsSnapshot, flat_weights

# (hidden widths, outputs, negative slope, inputs): what rebuilds a network from its flat bytes
NetworkShape = tuple[list[int], int, float, int]


def network_shape(trainer) -> NetworkShape:
    model = trainer.model
    return list(trainer.config.widths), int(trainer.out_dim), float(model.negative_slope), int(model.in_dim)


def frozen_network(data: bytes, shape: NetworkShape) -> WeightsSnapshot:
    """The network of ``flat_weights`` bytes (the live model's now, or the history's at a kept step)."""
    widths, out_dim, negative_slope, in_dim = shape
    return WeightsSnapshot.from_flat(data, widths, out_dim, negative_slope, in_dim=in_dim)


def network_to_wire(found: tuple[WeightsSnapshot, int] | None) -> tuple[bytes, int, NetworkShape] | None:
    """A (snapshot, step) answer as plain bytes for another process; None stays None."""
    if found is None:
        return None
    snapshot, step = found
    layers = snapshot.affine_layers()
    shape = (snapshot.widths, int(layers[-1][0].shape[0]), float(snapshot.negative_slope), int(layers[0][0].shape[1]))
    return flat_weights(snapshot), step, shape


def network_from_wire(sent: tuple[bytes, int, NetworkShape] | None) -> tuple[WeightsSnapshot, int] | None:
    """The inverse of ``network_to_wire``."""
    if sent is None:
        return None
    data, step, shape = sent
    return frozen_network(data, shape), step
