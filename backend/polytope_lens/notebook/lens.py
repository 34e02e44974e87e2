"""``Lens``: a live notebook widget (anywidget: JupyterLab, Notebook 7, VS Code) that shows a network's
partition and prediction panels, drawn in the browser by the page's own renderer, and follows the
user's training loop::

    lens = pl.Lens(model)            # shown as the cell's output
    for step in range(steps):
        ...                          # the user's own training step
        lens.update(model, loss=loss.item())

``update`` only freezes the weights and sends them (the flat float32 layout, kilobytes; the
drawing happens in the browser), at most ``max_rate`` times a second: calls in between record the
loss and leave the newest weights to be sent by the next call after the interval, or, when the
cell ends first, as it ends (IPython's post_run_cell event; the kernel's event loop where the
cell awaits). The widget's front end is
frontend/notebook/lens.js joined to frontend/drawing/renderer.js (notebook/frontend.py).

Needs the optional extra ``polytope-lens[notebook]`` (anywidget).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Sequence

import numpy as np

try:
    import anywidget
    import traitlets
except ImportError as exc:  # the optional extra is missing: say how to get it
    raise ImportError("the notebook widget needs anywidget: pip install 'polytope-lens[notebook]'") from exc

from ..core.classes import MAX_CLASSES, PALETTE
from ..core.network import CLASSIFY, FrozenNetwork
from ..core.settings import ViewSettings
from ..geometry.exact import DEFAULT_BOX, check_box
from .frontend import widget_module
from ..geometry.plane import fold_plane
from .networks import as_network, source_name, view

HISTORY_POINTS = 4096  # (step, loss) pairs kept; past this every other one is dropped (the newest kept)
DEFAULT_RATE = 30.0  # updates sent per second, at most


class Lens(anywidget.AnyWidget):
    """The partition and prediction panels of a network, redrawn from its weights by
    :meth:`update`; with losses, a chart of the loss and the region count over the steps.

    ``model``: anything :func:`polytope_lens.partition` takes (a torch ``nn.Sequential`` of Linear and
    (leaky) ReLU layers, a Polytope Lens network, a model file). A network of more than 2 inputs is
    shown on ``plane`` (as for :func:`polytope_lens.partition`: a ``Plane``, points, or ``(points,
    rows)``; default: the plane of its first two inputs), settled by the first network given. ``box``: the square shown (default [-1, 1]²).
    ``size``: CSS pixels of each panel. ``fill_regions`` / ``boundaries``: as the page's view
    settings (same defaults). ``class_colors``: a classifier's colours, one "#rrggbb" or (r, g, b)
    per output (default: the page's palette, which has 8). ``task``, ``name``, ``activation`` and
    ``negative_slope``: as for :func:`polytope_lens.partition`.
    """

    _esm = widget_module()
    weights = traitlets.Bytes(b"").tag(sync=True)  # the flat float32 layout (docs/protocol.md)
    network = traitlets.Dict().tag(sync=True)  # widths, out_dim, slopes (one per hidden layer), class_colors, box, step
    view = traitlets.Dict().tag(sync=True)  # size, fill_regions, boundaries
    history = traitlets.Bytes(b"").tag(sync=True)  # float64 (step, loss) pairs

    def __init__(self, model: Any, plane=None, box: Sequence[float] | None = None, *, size: int = 320,
                 fill_regions: bool | None = None, boundaries: bool | None = None,
                 class_colors: Sequence[Any] | None = None, max_rate: float = DEFAULT_RATE,
                 name: str | None = None, activation: str | None = None, negative_slope: float | None = None,
                 task: str | None = None):
        defaults = ViewSettings()
        if not size >= 16:
            raise ValueError(f"size must be at least 16 pixels, got {size}")
        if not max_rate > 0:
            raise ValueError(f"max_rate must be positive (updates per second), got {max_rate}")
        self._plane_given = plane
        self._plane = None  # the Plane shown (from the first model: plane_through of points, or the default)
        self._box = check_box(DEFAULT_BOX if box is None else box)
        self._class_colors = None if class_colors is None else [_rgb(c) for c in class_colors]
        self._file_options = {"name": name, "activation": activation, "negative_slope": negative_slope, "task": task}
        self._interval = 1.0 / float(max_rate)
        self._history = np.zeros((HISTORY_POINTS, 2))
        self._kept = 0
        self._step = 0
        self._last_sent = -np.inf
        self._model = model  # what update() shows when it is given nothing: read again each time
        self._pending = False  # an update is held back (sent by the next call after the interval, or the loop)
        self._flush_handle: asyncio.TimerHandle | None = None
        self._after_cell_registered = False
        self._shape: tuple | None = None
        self._shown: FrozenNetwork | None = None
        first = self._shown_network(model)  # refusals in words before any widget exists
        super().__init__(view={"size": int(size),
                               "fill_regions": defaults.fill_regions if fill_regions is None else bool(fill_regions),
                               "boundaries": defaults.boundaries if boundaries is None else bool(boundaries)})
        self._show(first)

    # -- the training loop's side ------------------------------------------------------------
    def update(self, model: Any = None, loss: float | None = None, step: int | None = None) -> None:
        """Show ``model``'s current weights (the model given last when None) and add ``loss`` at
        ``step`` (default: one more than the last) to the chart. Sent at once unless the last send
        was less than 1/max_rate s ago; then the next call, or the end of the cell, sends the newest."""
        self._step = self._step + 1 if step is None else int(step)
        if loss is not None:
            self._record(self._step, float(loss))
        if model is not None:
            self._model = model
        self._pending = True
        if time.monotonic() - self._last_sent >= self._interval:
            self.flush()
        else:
            self._flush_later()

    def flush(self) -> None:
        """Send what :meth:`update` holds back now (its newest weights and losses)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._pending:
            return
        self._pending = False
        self._show(self._shown_network(self._model))

    def partition(self, **options):
        """The exact partition of the network shown now (:func:`polytope_lens.partition`)."""
        from .partition import partition

        return partition(self._source, plane=self._plane, box=self._box, **options)

    @property
    def shown(self) -> FrozenNetwork:
        """The 2-input network on the panels now (the plane folded in)."""
        return self._shown

    # -- inside ----------------------------------------------------------------------------------
    def _shown_network(self, model: Any) -> FrozenNetwork:
        self._source = as_network(model, **self._file_options)
        if self._shape is None:  # the first network: where it is shown (its plane) is settled once
            self._plane = view(self._source, self._plane_given, source_name(model, self._file_options["name"])).plane
        if self._plane is None:
            network = self._source
            if network.in_dim != 2:
                raise ValueError(f"this network takes {network.in_dim} inputs; the first one shown took 2")
        else:
            network = fold_plane(self._source, self._plane)
        shape = (tuple(network.widths), network.out_dim, network.slopes, network.task)
        if shape != self._shape:
            self._describe(network)  # a new architecture: check it once
            self._shape = shape
        return network

    def _describe(self, network: FrozenNetwork) -> None:
        if network.out_dim > MAX_CLASSES:  # the renderer's output targets hold the scores of its class limit
            raise ValueError(f"the page's renderer draws networks of at most {MAX_CLASSES} outputs; this one has "
                             f"{network.out_dim} (polytope_lens.partition takes it)")
        colors = None
        if network.task == CLASSIFY:
            colors = self._class_colors or [list(c) for c in PALETTE[: network.out_dim]]
            if len(colors) != network.out_dim:
                given = "were given" if self._class_colors else "are in the page's palette"
                raise ValueError(f"a classifier of {network.out_dim} classes needs a colour for each; "
                                 f"{len(colors)} {given} (class_colors=[...])")
        self._network_fields = {"widths": list(network.widths), "out_dim": network.out_dim,
                                "slopes": [float(v) for v in network.slopes], "class_colors": colors, "box": list(self._box)}

    def _record(self, step: int, loss: float) -> None:
        if self._kept == HISTORY_POINTS:  # thin evenly, keeping the newest
            keep = self._history[HISTORY_POINTS - 1:: -2][::-1]
            self._kept = keep.shape[0]
            self._history[: self._kept] = keep
        self._history[self._kept] = (step, loss)
        self._kept += 1

    def _show(self, network: FrozenNetwork) -> None:
        self._shown = network
        with self.hold_sync():  # one message: the weights, what they are, the losses
            self.weights = network.flat()
            self.network = {**self._network_fields, "step": self._step}
            if self._kept:
                self.history = self._history[: self._kept].tobytes()
        self._last_sent = time.monotonic()

    def _flush_later(self) -> None:
        """Have the held-back update sent once the interval has passed: by the kernel's event loop,
        which runs when the cell lets it (an ``await`` in the loop), and at the latest when the cell
        ends (IPython's post_run_cell event: sent as the cell's own output). Outside IPython and
        without a running loop, the next update or flush() sends it."""
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                wait = max(0.0, self._interval - (time.monotonic() - self._last_sent))
                self._flush_handle = loop.call_later(wait, self.flush)
        shell = _ipython()
        if shell is not None and not self._after_cell_registered:
            shell.events.register("post_run_cell", self._after_cell)
            self._after_cell_registered = True

    def _after_cell(self, *_result) -> None:
        shell = _ipython()
        if shell is not None and self._after_cell_registered:
            shell.events.unregister("post_run_cell", self._after_cell)  # IPython calls a copy of its list: safe here
        self._after_cell_registered = False
        self.flush()


def _ipython():
    """The running IPython shell (a Jupyter kernel's), or None; IPython is not imported for this."""
    import sys

    module = sys.modules.get("IPython")
    return module.get_ipython() if module is not None else None


def _rgb(color: Any) -> list[int]:
    """(r, g, b) of "#rrggbb" or a triple of 0..255."""
    if isinstance(color, str):
        text = color.lstrip("#")
        if len(text) != 6:
            raise ValueError(f"a class colour is '#rrggbb' or (r, g, b), not {color!r}")
        return [int(text[i: i + 2], 16) for i in (0, 2, 4)]
    values = [int(v) for v in color]
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f"a class colour is '#rrggbb' or (r, g, b) with 0..255, not {color!r}")
    return values
