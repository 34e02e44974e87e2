"""Layer-spec parsing and the MLP whose linear regions we draw.

The layer syntax is a comma-separated list of groups; each group is either a
width (``64``) or ``WIDTHxCOUNT`` (``14x6`` = six layers of 14 neurons).
It is parsed with a regular expression, never evaluated.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .network import REGRESS, FrozenNetwork, Network, Task, layer_arrays

# Documented limits (docs/guide.md "Limits"): they keep a live frame affordable on a
# 2-core machine and stop a typo such as 14x600 from eating the server.
MAX_DEPTH = 64
MAX_WIDTH = 1024
MAX_PARAMETERS = 2_000_000

_GROUP = re.compile(r"^\s*(\d+)\s*(?:[x×*]\s*(\d+))?\s*$", re.IGNORECASE)


class LayerSpecError(ValueError):
    """A layer string that cannot be turned into a network."""


def parse_layers(spec: str) -> list[int]:
    """Turn ``"10x10,2,10x3"`` into ``[10]*10 + [2] + [10]*3``."""
    if not isinstance(spec, str) or not spec.strip():
        raise LayerSpecError("layers must be a non-empty string such as '14x6' or '64,32,16'")
    widths: list[int] = []
    for group in spec.split(","):
        if not group.strip():
            raise LayerSpecError(f"empty group in layers '{spec}' (stray comma?)")
        if group.strip().startswith("-"):
            raise LayerSpecError(f"layer widths must be positive, got '{group.strip()}'")
        match = _GROUP.match(group)
        if not match:
            raise LayerSpecError(
                f"cannot read '{group.strip()}' in layers '{spec}': "
                "use a width like 64 or WIDTHxCOUNT like 14x6"
            )
        width = int(match.group(1))
        count = int(match.group(2)) if match.group(2) is not None else 1
        if width <= 0:
            raise LayerSpecError(f"layer widths must be positive, got {width}")
        if count <= 0:
            raise LayerSpecError(f"layer counts must be positive, got {count} in '{group.strip()}'")
        if width > MAX_WIDTH:
            raise LayerSpecError(f"width {width} is past the limit of {MAX_WIDTH} neurons per layer")
        if count > MAX_DEPTH or len(widths) + count > MAX_DEPTH:
            raise LayerSpecError(f"at most {MAX_DEPTH} hidden layers are allowed")
        widths.extend([width] * count)
    return widths


def format_layers(widths: list[int]) -> str:
    """The shortest spec string for a list of widths (inverse of parse_layers)."""
    groups: list[str] = []
    i = 0
    while i < len(widths):
        j = i
        while j < len(widths) and widths[j] == widths[i]:
            j += 1
        run = j - i
        groups.append(f"{widths[i]}x{run}" if run > 1 else str(widths[i]))
        i = j
    return ",".join(groups)


def count_parameters(widths: list[int], in_dim: int = 2, out_dim: int = 1) -> int:
    sizes = [in_dim, *widths, out_dim]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def check_parameter_budget(widths: list[int], out_dim: int = 1) -> None:
    n = count_parameters(widths, out_dim=out_dim)
    if n > MAX_PARAMETERS:
        raise LayerSpecError(
            f"this network has {n:,} parameters, past the limit of {MAX_PARAMETERS:,}"
        )


class MLP(nn.Module):
    """Hidden layers of (leaky) ReLU and a linear output: a ``network.Network`` that trains.

    ``negative_slope`` is 0 for ReLU, the same in every hidden layer. The linear
    layers are kept in ``self.linears``; tools that only read the network go
    through the Network contract (``affine_layers``, ``slopes``, ...), and
    ``freeze()`` gives the copy another thread or process reads while training
    goes on. ``task`` says what the outputs are (a plain attribute: checkpoints
    hold only the weights).
    """

    def __init__(self, widths: list[int], out_dim: int = 1, negative_slope: float = 0.0, in_dim: int = 2,
                 task: Task = REGRESS, layer_slopes: Sequence[float] | None = None):
        super().__init__()
        self.widths = list(widths)
        self.negative_slope = float(negative_slope)
        # one slope per hidden layer when given (a network opened from a file may mix them); else
        # ``negative_slope`` for all of them, read when used (setting it later changes them all)
        self._layer_slopes = tuple(float(s) for s in layer_slopes) if layer_slopes is not None else None
        if self._layer_slopes is not None and len(self._layer_slopes) != len(self.widths):
            raise ValueError(f"{len(self._layer_slopes)} slopes for {len(self.widths)} hidden layers")
        self.task: Task = task
        sizes = [in_dim, *widths, out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    @property
    def hidden_count(self) -> int:
        return sum(self.widths)

    @property
    def in_dim(self) -> int:
        """2 for a picture's (x, y), 3 for a clip's (x, y, t)."""
        return int(self.linears[0].in_features)

    @property
    def out_dim(self) -> int:
        return int(self.linears[-1].out_features)

    @property
    def layer_slopes(self) -> tuple[float, ...]:
        """The negative slope of each hidden layer."""
        if self._layer_slopes is not None:
            return self._layer_slopes
        return (self.negative_slope,) * len(self.widths)

    @property
    def slopes(self) -> tuple[float, ...]:
        """The negative slope of each hidden layer (the Network contract)."""
        return self.layer_slopes

    @staticmethod
    def activate(z: torch.Tensor, slope: float) -> torch.Tensor:
        if slope == 0.0:
            return torch.relu(z)
        return torch.nn.functional.leaky_relu(z, slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear, slope in zip(self.linears[:-1], self.layer_slopes):
            x = self.activate(linear(x), slope)
        return self.linears[-1](x)

    def forward_with_preactivations(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Output and the pre-activation of every hidden layer (their signs are the pattern)."""
        pre: list[torch.Tensor] = []
        for linear, slope in zip(self.linears[:-1], self.layer_slopes):
            z = linear(x)
            pre.append(z)
            x = self.activate(z, slope)
        return self.linears[-1](x), pre

    def affine_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(W, b) of every linear layer, hidden ones first, output last, detached."""
        return [(lin.weight.detach(), lin.bias.detach()) for lin in self.linears]

    def freeze(self) -> FrozenNetwork:
        """A frozen numpy copy of the network now (call it where nothing trains it meanwhile)."""
        return FrozenNetwork.of(self)

    @classmethod
    def from_network(cls, network: Network) -> "MLP":
        """A trainable float32 copy of any network (a file opened by polytope_lens.sources): same
        layers, slopes and task."""
        layers = layer_arrays(network)
        model = cls(network.widths, out_dim=network.out_dim, in_dim=network.in_dim, task=network.task,
                    negative_slope=next((s for s in network.slopes if s), 0.0), layer_slopes=network.slopes)
        with torch.no_grad():
            for linear, (W, b) in zip(model.linears, layers):
                linear.weight.copy_(torch.from_numpy(np.array(W, dtype=np.float32)))
                linear.bias.copy_(torch.from_numpy(np.array(b, dtype=np.float32)))
        return model


def build_mlp(
    widths: list[int],
    out_dim: int = 1,
    activation: str = "relu",
    negative_slope: float = 0.01,
    generator: torch.Generator | None = None,
    output_bias: torch.Tensor | float = 0.0,
    in_dim: int = 2,
    task: Task = REGRESS,
) -> MLP:
    """He-initialised MLP; ``generator`` makes initialisation reproducible.

    Hidden biases follow torch's default; the output layer starts small with
    bias ``output_bias`` (the trainer passes the targets' mean), so the first
    prediction is a flat guess instead of clipped noise.
    """
    slope = 0.0 if activation == "relu" else float(negative_slope)
    model = MLP(widths, out_dim=out_dim, negative_slope=slope, in_dim=in_dim, task=task)
    with torch.no_grad():
        for i, lin in enumerate(model.linears):
            is_output = i == len(model.linears) - 1
            # He (Kaiming) normal for the rectifier layers; the output layer is linear.
            gain_slope = 1.0 if is_output else slope
            fan_in = lin.weight.shape[1]
            std = (2.0 / ((1.0 + gain_slope**2) * fan_in)) ** 0.5
            if is_output:
                std = 0.1 / fan_in**0.5
            lin.weight.copy_(torch.randn(lin.weight.shape, generator=generator) * std)
            # Biases as in torch's default (uniform in +-1/sqrt(fan_in)): zero biases
            # would make every boundary pass through the origin at initialisation.
            bound = 1.0 / fan_in**0.5
            lin.bias.copy_((torch.rand(lin.bias.shape, generator=generator) * 2 - 1) * bound)
            if is_output:
                lin.bias.copy_(torch.as_tensor(output_bias, dtype=lin.bias.dtype).expand_as(lin.bias))
    return model
