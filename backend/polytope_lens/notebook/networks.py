"""Whatever a notebook hands over, as the 2-input ``FrozenNetwork`` every exact tool and the page's
renderer take: a network of the product's own (an ``MLP``, a ``FrozenNetwork``), a torch module, or a
model file (a path or its bytes), optionally seen on a plane through many inputs.

Reading files and modules is the sources' job (sources/: ``open_network``, ``from_module``), showing
a D-input network on a plane is theirs and geometry/plane.py's (``open_view``, ``fold_plane``): this
module only tells which one applies, the way ``polytope-lens regions`` does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.network import CLASSIFY, REGRESS, FrozenNetwork, Network, Task, freeze


def as_network(model_or_file: Any, *, name: str | None = None, activation: str | None = None,
               negative_slope: float | None = None, task: Task | None = None) -> FrozenNetwork:
    """A frozen copy of ``model_or_file``: a Network as it is (a live MLP frozen), a torch module
    through ``sources.from_module``, a path or bytes through ``sources.open_network`` (``name``,
    ``activation`` and ``negative_slope`` are its options for files that carry only tensors).
    ``task`` ("regress" or "classify") overrides what the outputs are taken to be.
    Raises ``NetworkRefused`` (a ValueError) naming what is not a (leaky) ReLU MLP, TypeError for
    anything else."""
    if isinstance(model_or_file, (str, os.PathLike, bytes, bytearray, memoryview)):
        from ..sources import open_network

        return open_network(model_or_file, name=name, activation=activation, negative_slope=negative_slope, task=task)
    if isinstance(model_or_file, FrozenNetwork):  # (first: the Protocol check below costs a little every update)
        network = model_or_file
    elif isinstance(model_or_file, Network):  # the product's MLP: it states its layers itself
        network = freeze(model_or_file)
    elif _is_torch_module(model_or_file):
        from ..sources import from_module

        return from_module(model_or_file, task=task, name=name)
    else:
        raise TypeError(f"expected a torch module, a Polytope Lens network or a model file (path or bytes), "
                        f"not {type(model_or_file).__name__}")
    if task is None or task == network.task:
        return network
    if task not in (REGRESS, CLASSIFY):
        raise ValueError(f"task must be {REGRESS!r} or {CLASSIFY!r}, not {task!r}")
    return FrozenNetwork(network.affine_layers(), network.slopes, task)


def _is_torch_module(value: Any) -> bool:
    """Whether ``value`` is a torch ``nn.Module``, without importing torch when it is not loaded."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def source_name(model_or_file: Any, name: str | None = None) -> str:
    """What a document calls the network: ``name``, a file's name, else the object's type."""
    if name:
        return name
    if isinstance(model_or_file, (str, os.PathLike)):
        return Path(model_or_file).name
    if isinstance(model_or_file, (bytes, bytearray, memoryview)):
        return "the model file"
    return type(model_or_file).__name__


def view(network: FrozenNetwork, plane: Any = None, name: str = "network"):
    """``network`` ready to show, as ``polytope-lens regions`` and the page show it (sources.OpenedNetwork:
    ``shown`` is the 2-input network): a 2-input network as it is; a D-input one on ``plane``, which is
    a ``Plane`` (input = origin + x·u + y·v), the points of a data array (N x D: the plane through its
    first three rows, marked on the square), or ``(points, rows)``; with no plane, the plane of its
    first two inputs. ValueError in words otherwise."""
    from ..geometry.plane import Plane, fold_plane
    from ..sources.opened import OpenedNetwork, open_view

    if plane is None:
        return open_view(network, name)
    if network.in_dim == 2:  # as the CLI says of --plane
        raise ValueError(f"{name} takes 2 inputs and is shown as it is; a plane is for networks of more inputs")
    if isinstance(plane, Plane):
        return OpenedNetwork(network, fold_plane(network, plane), name, plane)
    if isinstance(plane, tuple) and len(plane) == 2:
        points, rows = plane
    else:
        points, rows = plane, (0, 1, 2)
    return open_view(network, name, np.asarray(points, dtype=np.float64), tuple(int(r) for r in rows))
