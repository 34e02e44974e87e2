"""Networks from bare tensors: a PyTorch state dict (``.pt``/``.pth`` of ``model.state_dict()`` of a
plain ``nn.Sequential``), a safetensors file, or a live ``nn.Sequential`` module.

A state dict carries weights only, so the activation comes as an option (``activation``: "relu"
or "leaky_relu"; ``negative_slope``: one number, or one per hidden layer for mixed activations).
The layers are the ``PREFIX.weight`` / ``PREFIX.bias`` pairs in the natural order of their
prefixes ("0", "2", "10" or "net.0", "linears.1"). Files from users are data: a state dict is
read with ``torch.load(..., weights_only=True)`` only, which refuses any pickle that would build
an object other than tensors and plain containers, and never runs it.
"""

from __future__ import annotations

import io
import re
from typing import Any, Mapping, Sequence

import numpy as np

from ..core.network import FrozenNetwork, Task
from .chain import Activation, Affine, ScoresEnd, Step, build, weight_array
from .refusal import NetworkRefused

ACTIVATIONS = ("relu", "leaky_relu")
DEFAULT_LEAKY_SLOPE = 0.01  # torch's LeakyReLU default
WRAPPERS = ("state_dict", "model", "model_state_dict")  # {"state_dict": {...}, ...} as training scripts save


def hidden_slopes(activation: str | None, negative_slope: float | Sequence[float] | None, hidden: int,
                  source: str) -> list[float]:
    """The negative slope of each hidden layer from the options (ReLU when neither is given)."""
    if isinstance(negative_slope, (list, tuple)):
        slopes = [float(s) for s in negative_slope]
        if len(slopes) != hidden:
            raise NetworkRefused(f"{len(slopes)} negative slopes given for the {hidden} hidden layers of {source}",
                                 "negative_slope")
        return slopes
    if activation is not None and activation not in ACTIVATIONS:
        raise NetworkRefused(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}", "activation")
    if activation == "relu" or (activation is None and negative_slope is None):
        if negative_slope not in (None, 0, 0.0):
            raise NetworkRefused("a negative slope was given with activation 'relu'", "negative_slope")
        return [0.0] * hidden
    slope = DEFAULT_LEAKY_SLOPE if negative_slope is None else float(negative_slope)
    if not np.isfinite(slope):
        raise NetworkRefused(f"negative_slope must be a finite number, not {negative_slope!r}", "negative_slope")
    return [slope] * hidden


def _natural(prefix: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", prefix)]


def _numpy(value) -> np.ndarray:
    """A tensor's values in numpy (a half or bfloat16 torch tensor widened to float32 first)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if not value.dtype.is_floating_point or value.dtype.itemsize < 4:
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def from_state_dict(state: Mapping[str, Any], *, activation: str | None = None,
                    negative_slope: float | Sequence[float] | None = None, task: Task | None = None,
                    name: str | None = None) -> FrozenNetwork:
    """The network of a state dict of Linear layers (tensor or array values), the activation given."""
    source = name or "the state dict"
    for key in WRAPPERS:  # a training script's {"state_dict": {...}, "epoch": ...}
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not state:
        raise NetworkRefused(f"{source} is not a state dict (a mapping of tensor names to tensors)", source)
    layers: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state.items():
        if not isinstance(key, str) or "." not in key and key not in ("weight", "bias"):
            raise NetworkRefused(f"tensor '{key}' is not the weight or bias of a layer", str(key))
        prefix, _, kind = key.rpartition(".")
        if kind not in ("weight", "bias"):
            raise NetworkRefused(f"tensor '{key}' is not the weight or bias of a Linear layer (a batch norm, an "
                                 "embedding?): only Linear layers are read from a state dict", key)
        if not hasattr(value, "shape"):
            raise NetworkRefused(f"'{key}' is not a tensor", key)
        array = weight_array(_numpy(value), key)
        layers.setdefault(prefix, {})[kind] = array
    steps: list[Step] = []
    for prefix in sorted(layers, key=_natural):
        parts = layers[prefix]
        label = f"{prefix}.weight" if prefix else "weight"
        if "weight" not in parts:
            raise NetworkRefused(f"'{prefix}.bias' has no weight beside it", f"{prefix}.bias")
        W = parts["weight"]
        if W.ndim != 2:
            raise NetworkRefused(f"tensor '{label}' has shape {tuple(W.shape)}: not a Linear layer's weight "
                                 "(a convolution?)", label)
        b = parts.get("bias", np.zeros(W.shape[0], dtype=W.dtype))
        if b.shape != (W.shape[0],):
            raise NetworkRefused(f"tensor '{prefix}.bias' has shape {tuple(b.shape)} for {W.shape[0]} outputs",
                                 f"{prefix}.bias")
        if steps and W.shape[1] != steps[-1].W.shape[0]:
            raise NetworkRefused(f"tensor '{label}' takes {W.shape[1]} inputs but the layer before gives "
                                 f"{steps[-1].W.shape[0]}: not a chain of layers", label)
        steps.append(Affine(W, b, label))
    slopes = hidden_slopes(activation, negative_slope, len(steps) - 1, source)
    chain: list[Step] = []
    for i, step in enumerate(steps):
        if i:
            chain.append(Activation(slopes[i - 1], f"activation {i}"))
        chain.append(step)
    return build(chain, source, task)


def read_state_dict(data: bytes, source: str = "the state dict", **options) -> FrozenNetwork:
    """A ``torch.save``d state dict's bytes, loaded with ``weights_only=True`` (never running code)."""
    import pickle

    import torch

    try:
        state = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))  # torch names the callable the pickle asked for
        what = f" (it asks for {found.group(1)})" if found else ""
        raise NetworkRefused(f"{source} holds Python objects beyond tensors{what} and was refused without running "
                             "it: only state dicts are read, with torch.load(weights_only=True)", source) from None
    except Exception as exc:
        raise NetworkRefused(f"{source} is not a PyTorch file torch.load can read safely ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})", source) from None
    return from_state_dict(state, name=source, **options)


def read_safetensors(data: bytes, source: str = "the safetensors file", **options) -> FrozenNetwork:
    """A safetensors file's bytes: tensors by name, the activation given as for a state dict."""
    try:
        from safetensors.numpy import load
    except ImportError as exc:
        raise NetworkRefused("reading safetensors files needs the 'safetensors' package: pip install "
                             "'polytope-lens[networks]'", source) from exc
    try:
        state = load(bytes(data))
    except Exception as exc:
        raise NetworkRefused(f"{source} is not a safetensors file ({type(exc).__name__}: {exc})", source) from None
    return from_state_dict(state, name=source, **options)


def from_module(module, *, task: Task | None = None, name: str | None = None) -> FrozenNetwork:
    """The network of a live torch module: a plain ``nn.Sequential`` (nested ones are flattened) of
    Linear and ReLU / LeakyReLU / Identity / Dropout / Flatten, optionally a final Softmax /
    LogSoftmax; or any object with the Network contract (the product's own MLP)."""
    from torch import nn

    from ..core.network import Network, freeze

    if isinstance(module, Network) and not isinstance(module, nn.Sequential):
        return freeze(module)
    if not isinstance(module, nn.Sequential):
        raise NetworkRefused(f"{type(module).__name__} is not an nn.Sequential: pass a plain nn.Sequential of Linear "
                             "and ReLU layers, or its state_dict() with the activation", type(module).__name__)
    steps: list[Step] = []

    def walk(seq: nn.Sequential, prefix: str) -> None:
        for key, child in seq.named_children():
            label = f"{prefix}{key} ({type(child).__name__})"
            if isinstance(child, nn.Sequential):
                walk(child, f"{prefix}{key}.")
            elif isinstance(child, nn.Linear):
                W = weight_array(child.weight.detach().cpu().numpy(), f"{prefix}{key}.weight")
                b = (weight_array(child.bias.detach().cpu().numpy(), f"{prefix}{key}.bias") if child.bias is not None
                     else np.zeros(W.shape[0], dtype=W.dtype))
                steps.append(Affine(W, b, label))
            elif isinstance(child, nn.ReLU):
                steps.append(Activation(0.0, label))
            elif isinstance(child, nn.LeakyReLU):
                steps.append(Activation(float(child.negative_slope), label))
            elif isinstance(child, (nn.Identity, nn.Dropout, nn.Flatten)):
                continue
            elif isinstance(child, (nn.Softmax, nn.LogSoftmax)):
                if child.dim not in (None, -1, 1):
                    raise NetworkRefused(f"module {label} is over dim {child.dim}: only over the class scores", label)
                steps.append(ScoresEnd(label))
            else:
                raise NetworkRefused(f"module {label} is not a layer of a (leaky) ReLU MLP: only Linear, ReLU, "
                                     "LeakyReLU, Identity, Dropout, Flatten and a final Softmax are read", label)

    walk(module, "")
    return build(steps, name or f"the {type(module).__name__}", task)
