"""Networks set by hand at the start: the ``init`` setting's choices other than ``random``.

- ``sawtooth``: tent maps whose regions double with every layer (core/sawtooth.py).
- ``zeros``: every weight and bias 0, any shape: a blank network to build by hand in the page
  (a ReLU net of zeros is one region; nothing trains until a person sets some weights).
- ``xor``: a classifier of the quadrants of ``classes-xor`` made of four ReLU neurons, one hidden
  layer of 4: n0 = relu(x + y), n1 = relu(-x - y), n2 = relu(x - y), n3 = relu(y - x). Class 0's
  score is K (n0 + n1) = K |x + y|, class 1's K (n2 + n3) = K |x - y|; their difference
  K (|x + y| - |x - y|) has the sign of x·y, so class 0 wins where x·y > 0 (on ``classes-xor``:
  red, the upper-right and lower-left quadrants) and class 1 where x·y < 0. Exact on every pixel
  off the axes; its partition is the two diagonals (4 regions).

``init_problem`` says why a choice cannot build a network of these settings (the settings check
calls it, so a configure is refused in words naming ``init``); ``set_initial`` writes it.
"""

from __future__ import annotations

import torch

from .model import MLP
from .sawtooth import sawtooth_problem, set_sawtooth

HAND_SET = ("sawtooth", "zeros", "xor")  # inits whose weights are the point of the run
XOR_SCALE = 4.0  # K above: the softmax is confident away from the axes (cross-entropy ~0.14 on classes-xor)
XOR_HIDDEN = ((1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0))  # rows of the hidden W: x+y, -x-y, x-y, y-x


def init_problem(init: str, widths: list[int] | None, activation: str | None, task: str | None) -> str | None:
    """Why ``init`` cannot build a network of these settings, or None when it can."""
    if init == "sawtooth":
        return sawtooth_problem(widths, activation)
    if init == "xor":
        if activation is not None and activation != "relu":
            return "the XOR network needs activation relu"
        if task is not None and task != "classify":
            return "the XOR network is a classifier: choose task classify (e.g. on classes-xor)"
        if widths is not None and widths != [4]:
            return "the XOR network has one hidden layer of 4 neurons: layers 4"
    return None


@torch.no_grad()
def set_initial(model: MLP, init: str) -> MLP:
    """Overwrite ``model``'s weights with the hand-set network ``init`` (random: left as it is)."""
    if init == "sawtooth":
        return set_sawtooth(model)
    if init == "zeros":
        for p in model.parameters():
            p.zero_()
    elif init == "xor":
        _set_xor(model)
    return model


def _set_xor(model: MLP) -> None:
    hidden, output = model.linears[0], model.linears[-1]
    if model.widths != [4] or model.in_dim != 2:
        raise ValueError("the XOR network has one hidden layer of 4 neurons on (x, y): layers 4 on a still picture")
    if output.out_features != 2:
        raise ValueError(f"the XOR network scores 2 classes; this picture has {output.out_features}")
    hidden.weight.copy_(torch.tensor(XOR_HIDDEN))
    hidden.bias.zero_()
    output.weight.copy_(XOR_SCALE * torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]))
    output.bias.zero_()
