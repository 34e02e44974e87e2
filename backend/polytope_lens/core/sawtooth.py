"""The sawtooth: a hand-set network whose linear regions double with every layer (depth beats width).

``init: "sawtooth"`` builds, instead of random weights, one of two networks of
the input's x coordinate (y is ignored), u = (x + 1) / 2 in [0, 1]:

Deep, layers ``2xL``
    Every layer applies the tent map t(v) = 2v for v <= 1/2, 2 - 2v above, as
    t(v) = 2 relu(v + 1) - 4 relu(v - 1/2) - 2 on [0, 1]: the first neuron of a
    layer is on everywhere (its pre-activation is at least 1, so it never
    makes a boundary), the second switches where the previous layer's value
    crosses 1/2. The output is t applied L times, a sawtooth with 2^(L-1)
    teeth: the square is cut into exactly 2^L vertical strips of width 2^(1-L).
    (A single layer of width 2 is this net with L = 1.) Every number involved is a small dyadic fraction, so float32 computes the
    boundaries exactly.

Shallow, one layer of n neurons
    The comparison: n neurons make at most n + 1 pieces along any line (each
    switches once), so at most 2L + 1 with the 2L neurons of the deep net. This
    one reaches the bound: neuron k switches at u = k / (n + 1), and the output
    zigzags between 0 and 1 over the n + 1 strips (flat on the first).

Both use ReLU (a leaky slope would bend the flat sides).
"""

from __future__ import annotations

import torch

from .model import MLP


def sawtooth_problem(widths: list[int] | None, activation: str | None) -> str | None:
    """Why these layers and activation cannot carry the sawtooth, or None when they can."""
    if activation is not None and activation != "relu":
        return "the sawtooth needs activation relu"
    if widths is None:
        return None  # the layers themselves were refused; that error says why
    if len(widths) == 1 or all(w == 2 for w in widths):
        return None
    return "the sawtooth needs layers 2xL (the deep tent map, e.g. 2x6) or a single layer (the shallow comparison, e.g. 12)"


def deep_region_count(depth: int) -> int:
    """Exact linear regions of the deep sawtooth of ``depth`` layers."""
    return 2**depth


def shallow_piece_bound(neurons: int) -> int:
    """Most pieces a one-layer net of ``neurons`` neurons makes along a line (reached by the shallow sawtooth)."""
    return neurons + 1


@torch.no_grad()
def set_sawtooth(model: MLP) -> MLP:
    """Overwrite ``model``'s weights with the sawtooth network for its widths (see the module docstring)."""
    problem = sawtooth_problem(model.widths, "relu" if model.negative_slope == 0.0 else "leaky_relu")
    if problem:
        raise ValueError(problem)
    hidden, output = model.linears[:-1], model.linears[-1]
    out_dim = output.out_features
    if all(w == 2 for w in model.widths):  # a single layer of 2 is the deep net with L = 1
        _deep(hidden, output, out_dim)
    else:
        _shallow(hidden[0], output, out_dim)
    return model


def _deep(hidden, output, out_dim: int) -> None:
    first = hidden[0]
    # u = (x + 1) / 2; neuron a = relu(u + 1), neuron b = relu(u - 1/2)
    first.weight.copy_(torch.tensor([[0.5, 0.0], [0.5, 0.0]]))
    first.bias.copy_(torch.tensor([1.5, 0.0]))
    for layer in hidden[1:]:
        # v = 2a - 4b - 2 (the tent of the previous value); a' = relu(v + 1), b' = relu(v - 1/2)
        layer.weight.copy_(torch.tensor([[2.0, -4.0], [2.0, -4.0]]))
        layer.bias.copy_(torch.tensor([-1.0, -2.5]))
    output.weight.copy_(torch.tensor([[2.0, -4.0]]).expand(out_dim, 2))
    output.bias.fill_(-2.0)


def _shallow(layer, output, out_dim: int) -> None:
    n = layer.out_features
    knots = torch.arange(1, n + 1, dtype=torch.float64) / (n + 1)
    layer.weight.copy_(torch.tensor([[0.5, 0.0]]).expand(n, 2))
    layer.bias.copy_((0.5 - knots).float())
    # slope on [u_k, u_k+1] alternates +-(n + 1): values 0, 1, 0, 1, ... at the knots
    slopes = (n + 1) * torch.tensor([1.0 if k % 2 == 0 else -1.0 for k in range(n)], dtype=torch.float64)
    coefficients = torch.diff(slopes, prepend=torch.zeros(1, dtype=torch.float64))
    output.weight.copy_(coefficients.float().expand(out_dim, n))
    output.bias.fill_(0.0)
