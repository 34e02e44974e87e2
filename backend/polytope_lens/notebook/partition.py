"""``partition(model_or_file, plane=None, box=None)``: a network's exact linear regions as one object
for notebooks and scripts.

The regions are geometry/exact.py's ``ExactPartition``; a region's inequalities (one per hidden
neuron, the binding ones marked) are the inspector's (geometry/inspection.py); ``to_json()`` and
``to_svg()`` are the documents ``polytope-lens regions --out x.json|x.svg`` writes
(geometry/export.py), and Jupyter draws the SVG (``_repr_svg_``). Nothing here computes geometry of
its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..core.network import CLASSIFY, FrozenNetwork
from ..geometry.decision import decision_regions
from ..geometry.documents import DocumentTooLarge
from ..geometry.exact import DEFAULT_BOX, ExactPartition, check_box, exact_partition
from ..geometry.export import output_format, regions_text
from ..geometry.inspection import RegionInfo, inspect_point, region_inequalities
from ..geometry.patterns import bit_pattern_colors, pattern_strings
from .networks import as_network, source_name, view

REPR_SVG_SIZE = 480  # pixels of the picture a notebook shows
REPR_SVG_MAX_BYTES = 8 * 1024 * 1024  # past this a notebook shows the summary instead (a cell output that size is slow)


@dataclass(frozen=True, eq=False)
class Region:
    """One linear region: its polygon (counter-clockwise vertices), activation pattern ('0110|1001',
    1 = on), area, colour (the pattern's, as the panels paint it) and the affine map
    ``output = A @ (x, y) + c`` of the network there. :meth:`inequalities` gives the half-planes."""

    index: int
    polygon: np.ndarray
    pattern: str
    area: float
    color: str
    A: np.ndarray
    c: np.ndarray
    _owner: "Partition"

    def inequalities(self) -> RegionInfo:
        """One inequality per hidden neuron (``sign * (a @ x + b) > 0``), which of them carry an edge
        of the polygon (``binding``) and which box sides do (``box_binding``): the inspector's
        geometry/inspection.py ``RegionInfo``."""
        return self._owner._inequalities(self.index)

    def binding(self) -> list[tuple[int, int]]:
        """(layer, neuron) of every neuron whose line carries an edge of this region, layers from 1."""
        info = self.inequalities()
        starts = np.cumsum([0, *info.widths])
        layers = np.searchsorted(starts, np.flatnonzero(info.binding), side="right")  # 1-based
        return [(int(layer), int(k - starts[layer - 1])) for layer, k in zip(layers, np.flatnonzero(info.binding))]

    def __repr__(self) -> str:
        return f"Region({self.index}: {len(self.polygon)} edges, area {self.area:.4g}, pattern {self.pattern})"


class Regions(Sequence[Region]):
    """The regions of a partition, made on demand (a partition may have tens of thousands)."""

    def __init__(self, owner: "Partition"):
        self._owner = owner

    def __len__(self) -> int:
        return self._owner.region_count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        k = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= k < n:
            raise IndexError(f"region {i} of {n}")
        return self._owner._region(k)

    def __iter__(self) -> Iterator[Region]:
        return (self._owner._region(k) for k in range(len(self)))


class Partition:
    """The exact partition of one network on its box (and plane): built by :func:`partition`.

    ``region_count``, ``regions`` (each a :class:`Region`), ``exact`` (the ExactPartition arrays),
    ``network`` (the 2-input network whose regions these are: the plane folded in), ``source`` (the
    network as given), ``plane`` and ``box``; :meth:`region_at` and :meth:`inspect` find a point's
    region; :meth:`to_json`, :meth:`to_svg` and :meth:`save` write the CLI's documents.
    """

    def __init__(self, opened, exact: ExactPartition, *, name: str, seconds: float = 0.0):
        self.opened = opened  # sources.OpenedNetwork: the network as given, the one shown, the plane, its marks
        self.name = name
        self.network: FrozenNetwork = opened.shown
        self.source: FrozenNetwork = opened.network
        self.plane = opened.plane
        self.exact = exact
        self.box = tuple(exact.box)
        self.layers = len(exact.widths)
        self.seconds = seconds
        self._decision_regions = None

    # -- the regions ---------------------------------------------------------------------
    @property
    def region_count(self) -> int:
        return self.exact.region_count

    @property
    def complete(self) -> bool:
        """Whether every hidden layer is included (``layers`` not given or all of them)."""
        return self.exact.complete

    @cached_property
    def regions(self) -> Regions:
        return Regions(self)

    @cached_property
    def _patterns(self) -> list[str]:
        return pattern_strings(self.exact.patterns, self.exact.widths)

    @cached_property
    def _colors(self) -> list[str]:
        return ["#%02x%02x%02x" % tuple(int(v) for v in rgb[:3]) for rgb in bit_pattern_colors(self.exact.patterns)]

    @cached_property
    def _areas(self) -> np.ndarray:
        return self.exact.areas()

    def _region(self, k: int) -> Region:
        e = self.exact
        return Region(k, e.vertices[k, : e.counts[k]].copy(), self._patterns[k], float(self._areas[k]), self._colors[k],
                      e.A[k].copy(), e.c[k].copy(), self)

    def _inequalities(self, k: int) -> RegionInfo:
        return region_inequalities(self._inspected_network, self.exact.patterns[k], self.box)

    @cached_property
    def _inspected_network(self) -> FrozenNetwork:
        """The network the inspector reads: the shown one, or for a partition of its first k hidden
        layers, those layers with an identity output (the inspector takes a whole network; its map
        is then the k-th layer's activations, as the partial partition's A, c are)."""
        if self.complete:
            return self.network
        layers = self.network.affine_layers()[: self.layers]
        W, b = layers[-1]
        return FrozenNetwork([*layers, (np.eye(W.shape[0]), np.zeros(W.shape[0]))], self.network.slopes[: self.layers],
                             "regress")

    def region_at(self, x: float, y: float) -> Region:
        """The region containing the point (x, y) of the box."""
        k = int(self.exact.locate(np.array([[x, y]], dtype=np.float64))[0])
        if k < 0:
            raise ValueError(f"the point ({x:g}, {y:g}) is outside the box {list(self.box)}")
        return self._region(k)

    def inspect(self, x: float, y: float) -> dict:
        """Everything the page's inspector shows about the region at (x, y), as plain JSON (pattern per
        layer, f = A x + c with torch autograd's check, every inequality with the binding ones marked,
        and ``text``: the same as "copy as text")."""
        return inspect_point(self._inspected_network, (x, y), self.box)

    # -- documents ---------------------------------------------------------------------------
    def to_json(self) -> str:
        """The document ``polytope-lens regions FILE --out x.json`` writes (docs/protocol.md): the
        regions, the network as given (``source``: its name), the plane and its marked points, and a
        classifier's decision regions."""
        return self._document("json")

    def to_svg(self, size: int = 1024) -> str:
        """The picture ``polytope-lens regions FILE --out x.svg`` writes: every region in its pattern's
        colour, a classifier's decision boundary, the plane's three points as rings."""
        return self._document("svg", size=size)

    def save(self, path: str | Path, size: int = 1024) -> Path:
        """Write :meth:`to_json` or :meth:`to_svg` by the file's extension (.json, .svg)."""
        path = Path(path)
        path.write_text(self._document(output_format(path), size=size))
        return path

    def _repr_svg_(self) -> str | None:
        try:
            return self._document("svg", size=REPR_SVG_SIZE, max_bytes=REPR_SVG_MAX_BYTES)
        except DocumentTooLarge:  # too large for a cell's output: the summary (repr) stands instead
            return None

    def _document(self, fmt: str, size: int = 1024, max_bytes: int | None = None) -> str:
        extra, classes = self.opened.regions_fields(self.name)
        if classes and self.complete and self._decision_regions is None:
            self._decision_regions = decision_regions(self.exact)
        return regions_text(self.exact, fmt, hidden_layers=len(self.network.widths), extra=extra, classes=classes,
                            marks=self.opened.marks, size=size, decision=self._decision_regions if classes else None,
                            max_bytes=max_bytes)

    def __repr__(self) -> str:
        net = self.source
        where = "" if self.plane is None else (f" on the plane through rows {', '.join(map(str, self.opened.rows))}"
                                               if self.opened.rows else " on a plane") + f" of its {net.in_dim} inputs"
        layers = "" if self.complete else f", first {self.layers} of {len(net.widths)} hidden layers"
        return (f"<Partition: {self.region_count:,} linear regions of a {net.in_dim}-{'x'.join(map(str, net.widths))}-"
                f"{net.out_dim} {'classifier' if net.task == CLASSIFY else 'network'}{where} on the box "
                f"{list(self.box)}{layers}>")


def partition(model_or_file: Any, plane=None, box: Sequence[float] | None = None, *, layers: int | None = None,
              time_limit: float | None = None, max_regions: int | None = None, name: str | None = None,
              activation: str | None = None, negative_slope: float | None = None, task: str | None = None) -> Partition:
    """The exact linear regions of a network on ``box`` (default [-1, 1]²).

    ``model_or_file``: a torch ``nn.Sequential`` of Linear and (leaky) ReLU layers, a Polytope Lens
    network, or a model file (ONNX, a state dict, safetensors: a path or its bytes; ``activation``,
    ``negative_slope`` and ``name`` as for ``open_network``; ``task`` "regress" or "classify" says what the
    outputs are when the network does not). A network of more than 2 inputs is seen on ``plane``:
    a ``Plane`` (``plane_through(points, rows)``), a data array (N x D: the plane through its first
    three rows) or ``(points, rows)`` (those rows; then, as in the CLI, the three points are kept as
    ``marks`` and ringed in the SVG); with no plane, the plane of its first two inputs (the others 0).
    ``layers=k``: the partition of the first k hidden layers.
    ``time_limit`` (seconds) and ``max_regions`` stop a partition that grows too large
    (``PartitionTooLarge``). The same checks as ``polytope-lens regions``: a network that is not a
    (leaky) ReLU MLP, a bad box or layer count raise ValueError in words.
    """
    network = as_network(model_or_file, name=name, activation=activation, negative_slope=negative_slope, task=task)
    name = source_name(model_or_file, name)
    opened = view(network, plane, name)
    shown = opened.shown
    L = len(shown.widths)
    if layers is not None and not 1 <= int(layers) <= L:
        raise ValueError(f"layers must be 1..{L} (the network has {L} hidden layers), got {layers}")
    box = check_box(DEFAULT_BOX if box is None else box)
    start = time.perf_counter()
    deadline = None if time_limit is None else time.monotonic() + float(time_limit)
    exact = exact_partition(shown, box, max_layers=layers, max_regions=max_regions, deadline=deadline)
    return Partition(opened, exact, name=name, seconds=time.perf_counter() - start)
