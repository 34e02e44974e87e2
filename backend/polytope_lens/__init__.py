"""Polytope Lens: watch a ReLU network learn a picture through its linear regions.

In a notebook or a script (``import polytope_lens as pl``)::

    pl.partition(model)                      # exact linear regions; Jupyter draws them
    pl.partition("model.onnx", plane=pl.plane_through(X, rows=[0, 1, 7]))
    lens = pl.Lens(model)                    # a live widget; in the training loop:
    lens.update(model, loss=loss.item())

The names below load on first use (``__getattr__``), so ``import polytope_lens`` imports neither
torch nor the web server.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> (module, attribute): the notebook and script API, imported when first asked for
_LAZY = {
    "partition": ("notebook.partition", "partition"),
    "Partition": ("notebook.partition", "Partition"),
    "Region": ("notebook.partition", "Region"),
    "Lens": ("notebook.lens", "Lens"),
    "open_network": ("sources", "open_network"),
    "from_module": ("sources", "from_module"),
    "NetworkRefused": ("sources", "NetworkRefused"),
    "Plane": ("geometry.plane", "Plane"),
    "plane_through": ("geometry.plane", "plane_through"),
    "fold_plane": ("geometry.plane", "fold_plane"),
    "FrozenNetwork": ("core.network", "FrozenNetwork"),
    "PartitionTooLarge": ("geometry.exact", "PartitionTooLarge"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'polytope_lens' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value  # asked once: later lookups find it without __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
