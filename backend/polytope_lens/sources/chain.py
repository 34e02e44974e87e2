"""A chain of affine layers and activations, checked and turned into a ``FrozenNetwork``.

Every file reader (ONNX, a state dict, safetensors, a torch module) says what it found as a list of
steps — ``Affine`` (W (out, in), b (out,)) and ``Activation`` (a negative slope: 0 ReLU, s leaky
ReLU) in order, then an optional ``ScoresEnd`` (a final softmax: the outputs are class scores) —
each with the name of the node, module or tensor it came from, so that every refusal names it.
``build`` checks the chain and makes the network:

- consecutive affine steps (a MatMul then an Add, a Linear then a Linear) are one affine map,
  multiplied out; consecutive activations are one (leaky(a) after leaky(b) is leaky(a·b));
- weights must be finite, sizes must follow each other, and the network must fit the limits below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..core.model import MAX_DEPTH, MAX_PARAMETERS, MAX_WIDTH, count_parameters
from ..core.network import CLASSIFY, REGRESS, FrozenNetwork, Task
from .refusal import NetworkRefused

MAX_INPUTS = 4096  # a D-input network is shown on a plane (geometry/plane.py); D up to this
MAX_OUTPUTS = 1024  # class scores or values
MAX_NETWORK_FILE_BYTES = 64 * 1024 * 1024  # a model file past this is refused unread (/api/options)


@dataclass(frozen=True)
class Affine:
    W: np.ndarray  # (out, in)
    b: np.ndarray  # (out,)
    name: str


@dataclass(frozen=True)
class Activation:
    slope: float  # 0: ReLU; s: leaky ReLU with negative slope s
    name: str


@dataclass(frozen=True)
class ScoresEnd:
    """A final softmax or log-softmax: the affine output before it is the class scores (its argmax
    is the class), so the network is a classifier and the softmax itself is left out."""
    name: str


Step = Affine | Activation | ScoresEnd


def weight_array(value, name: str) -> np.ndarray:
    """A tensor as a float array (float32, or float64 when it was float64), refused by name when it
    is not a number array or holds NaN or infinity."""
    array = np.asarray(value)
    if array.dtype == np.float64:
        out = array
    elif array.dtype.kind in "fiu" or array.dtype.name == "bfloat16":
        out = array.astype(np.float32)
    else:
        raise NetworkRefused(f"tensor '{name}' holds {array.dtype} values, not numbers", name)
    if not np.all(np.isfinite(out)):
        bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
        raise NetworkRefused(f"tensor '{name}' holds {bad} NaN or infinite value{'s' * (bad != 1)}", name)
    return out


def infer_task(out_dim: int, scores: bool, task: Task | None) -> Task:
    """The task: as given; a classifier after a final softmax; else a regression of 1 (gray) or
    3 (colour) values, and a classifier of the class scores for any other output count."""
    if task is not None:
        if task not in (REGRESS, CLASSIFY):
            raise NetworkRefused(f"task must be '{REGRESS}' or '{CLASSIFY}', not {task!r}", "task")
        return task
    if scores:
        return CLASSIFY
    return REGRESS if out_dim in (1, 3) else CLASSIFY


def build(steps: Sequence[Step], source: str, task: Task | None = None) -> FrozenNetwork:
    """The network of a chain of steps read from ``source`` (a file's name, for the messages)."""
    layers: list[Affine] = []
    slopes: list[float] = []
    pending: Activation | None = None  # an activation waiting for the next affine step
    scores: ScoresEnd | None = None
    for step in steps:
        if scores is not None:
            raise NetworkRefused(f"'{step.name}' follows the final softmax '{scores.name}': a softmax must be last", step.name)
        if isinstance(step, ScoresEnd):
            if not layers or pending is not None:
                where = "after an activation" if pending is not None else "before any layer"
                raise NetworkRefused(f"softmax '{step.name}' comes {where}: it may only follow the output layer", step.name)
            scores = step
        elif isinstance(step, Activation):
            if not layers:
                raise NetworkRefused(f"activation '{step.name}' comes before any layer", step.name)
            if pending is None:
                pending = step
            else:  # leaky(a) after leaky(b) is leaky(a*b): one activation
                pending = Activation(pending.slope * step.slope, f"{pending.name}+{step.name}")
        else:
            W, b = step.W, step.b
            if W.ndim != 2 or b.shape != (W.shape[0],):
                raise NetworkRefused(f"'{step.name}': weight {W.shape} and bias {b.shape} are not a layer", step.name)
            if layers and W.shape[1] != layers[-1].W.shape[0]:
                raise NetworkRefused(f"'{step.name}' takes {W.shape[1]} inputs but the layer before gives "
                                     f"{layers[-1].W.shape[0]}", step.name)
            if pending is not None and pending.slope == 1.0:  # a leaky ReLU of slope 1 is the identity
                pending = None
            if layers and pending is None:  # two affine maps in a row are one: W2 (W1 x + b1) + b2
                last = layers[-1]
                dtype = np.result_type(last.W, W)
                layers[-1] = Affine((W @ last.W).astype(dtype), (W @ last.b + b).astype(dtype), last.name)
            else:
                if pending is not None:
                    slopes.append(float(pending.slope))
                    pending = None
                layers.append(step)
    if not layers:
        raise NetworkRefused(f"{source} holds no layer (no Gemm, MatMul or Linear weights)", source)
    if pending is not None and pending.slope != 1.0:
        raise NetworkRefused(f"activation '{pending.name}' comes after the last layer: the output layer must be "
                             "linear (leave the activation out of the file)", pending.name)
    if len(layers) < 2:
        raise NetworkRefused(f"{source} is one affine map with no hidden layer: it has a single linear region", source)
    for slope, layer in zip(slopes, layers[1:]):
        if not -1e6 < slope < 1e6:
            raise NetworkRefused(f"the activation before '{layer.name}' has negative slope {slope}: it must be a "
                                 "finite number", layer.name)
    network = FrozenNetwork([(L.W, L.b) for L in layers], slopes,
                            infer_task(layers[-1].W.shape[0], scores is not None, task))
    check_limits(network, [L.name for L in layers])
    return network


def check_limits(network: FrozenNetwork, names: Sequence[str]) -> None:
    """The product's limits, by layer: inputs, depth, width, outputs and parameters past the first
    layer (the first layer folds into a 2-input one on a plane, so its D inputs are not counted)."""
    if network.in_dim > MAX_INPUTS:
        raise NetworkRefused(f"'{names[0]}' takes {network.in_dim} inputs, past the limit of {MAX_INPUTS}", names[0])
    if len(network.widths) > MAX_DEPTH:
        raise NetworkRefused(f"{len(network.widths)} hidden layers, past the limit of {MAX_DEPTH}", names[-1])
    for width, name in zip(network.widths, names):
        if width > MAX_WIDTH:
            raise NetworkRefused(f"'{name}' has {width} neurons, past the limit of {MAX_WIDTH} per layer", name)
    if network.out_dim > MAX_OUTPUTS:
        raise NetworkRefused(f"'{names[-1]}' has {network.out_dim} outputs, past the limit of {MAX_OUTPUTS}", names[-1])
    params = count_parameters(network.widths, in_dim=2, out_dim=network.out_dim)
    if params > MAX_PARAMETERS:
        raise NetworkRefused(f"the network has {params:,} parameters on its plane, past the limit of "
                             f"{MAX_PARAMETERS:,}", names[-1])
