"""Whatever a notebook hands over, as the 2-input ``FrozenNetwork`` every exact tool and the page's
renderer take: a network of the product's own (an ``MLP``, a ``FrozenNetwork``), a torch module, or a
model file (a path or its bytes), optionally seen on a plane through many inputs.

Reading files and modules is the sources' job (sources/: ``open_network``, ``from_module``) and the
plane's fold is geometry/plane.py's (``fold_plane``); this module only tells which one applies and
says in words what cannot be shown.
"""

from __future__ import annotations

import os
from typing import Any

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
    if isinstance(model_or_file, Network):  # a FrozenNetwork, the product's MLP: they state their layers themselves
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


def on_plane(network: FrozenNetwork, plane=None) -> FrozenNetwork:
    """The 2-input network shown: ``network`` itself (2 inputs, no plane), or its fold onto ``plane``
    (geometry/plane.py: input = origin + x·u + y·v). ValueError in words otherwise."""
    if plane is None:
        if network.in_dim != 2:
            raise ValueError(f"this network takes {network.in_dim} inputs: show it on a plane through three of "
                             "them, e.g. plane=polytope_lens.plane_through(points)")
        return network
    from ..geometry.plane import fold_plane

    return fold_plane(network, plane)
