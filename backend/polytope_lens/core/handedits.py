"""Edits by hand: one number of a network, or a whole weight matrix or bias vector, set by a person.

Layers are numbered as the page's diagram numbers its columns: layer ``L`` (1-based) is the affine
map that computes column ``L`` (the inputs are column 0), so layers 1..depth are the hidden ones
and layer depth + 1 the output. ``row`` (0-based) is a neuron of that layer, ``col`` (0-based) a
neuron of the layer before (an input for layer 1). docs/protocol.md, message ``edit``.

``check_edit`` refuses, in words naming the field, anything that does not fit the network's
shapes or is not a finite number of at most ``MAX_ABS_VALUE``; ``apply_edit`` then writes it. The
two are separate so that a refused edit leaves the network exactly as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

Kind = Literal["weight", "bias"]
MAX_ABS_VALUE = 1e6  # a hand-set number past this is a typing slip, not an experiment


class EditRefused(ValueError):
    """An edit that does not fit the network; ``field`` names the part of the message at fault."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class WeightEdit:
    """One edit: ``value`` at (row, col) (a bias: at row), or ``values``, the whole matrix or vector."""

    layer: int
    kind: Kind
    row: int | None = None
    col: int | None = None
    value: float | None = None
    values: tuple | None = None  # a matrix as a tuple of row tuples, a bias as a tuple of numbers

    @property
    def whole(self) -> bool:
        return self.values is not None

    def describe(self, depth: int) -> str:
        """Short words for the timeline and the movie, e.g. 'layer 2 w[1,0] = 0.5'."""
        name = "output" if self.layer == depth + 1 else f"layer {self.layer}"
        if self.whole:
            return f"{name} {'W' if self.kind == 'weight' else 'b'} set whole"
        at = f"w[{self.row},{self.col}]" if self.kind == "weight" else f"b[{self.row}]"
        return f"{name} {at} = {self.value:g}"


def _finite(value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EditRefused(f"{field}: {value!r} is not a number", field)
    if not math.isfinite(value):
        raise EditRefused(f"{field}: {value} is not a finite number", field)
    if abs(value) > MAX_ABS_VALUE:
        raise EditRefused(f"{field}: {value:g} is past ±{MAX_ABS_VALUE:g}", field)
    return float(value)


def check_edit(edit: WeightEdit, shapes: Sequence[tuple[int, int]]) -> np.ndarray | float:
    """The number or array the edit writes, after checking it against ``shapes`` ((out, in) of each
    affine layer, hidden first); EditRefused names the field otherwise."""
    depth = len(shapes) - 1
    if not 1 <= edit.layer <= depth + 1:
        raise EditRefused(f"layer: {edit.layer} is not a layer of this network (1..{depth + 1}: "
                          f"{depth} hidden, then the output)", "layer")
    if edit.kind not in ("weight", "bias"):
        raise EditRefused(f"kind: {edit.kind!r} is neither 'weight' nor 'bias'", "kind")
    rows, cols = shapes[edit.layer - 1]
    if edit.whole:
        if edit.value is not None or edit.row is not None or edit.col is not None:
            raise EditRefused("values: give either 'values' (the whole matrix) or row/col/value, not both", "values")
        return _whole(edit, rows, cols)
    if edit.value is None:
        raise EditRefused("value: missing (or give 'values' for the whole matrix)", "value")
    value = _finite(edit.value, "value")
    if edit.row is None:
        raise EditRefused("row: missing: which neuron of the layer", "row")
    if not 0 <= edit.row < rows:
        raise EditRefused(f"row: {edit.row} is past the {rows} neurons of layer {edit.layer} (0..{rows - 1})", "row")
    if edit.kind == "bias":
        if edit.col is not None:
            raise EditRefused("col: a bias has no column", "col")
    else:
        if edit.col is None:
            raise EditRefused("col: missing: which input of the neuron", "col")
        if not 0 <= edit.col < cols:
            raise EditRefused(f"col: {edit.col} is past the {cols} inputs of layer {edit.layer} (0..{cols - 1})", "col")
    return value


def _whole(edit: WeightEdit, rows: int, cols: int) -> np.ndarray:
    values = edit.values
    want = f"{rows} numbers" if edit.kind == "bias" else f"{rows} rows of {cols} numbers"
    if len(values) != rows:
        raise EditRefused(f"values: layer {edit.layer}'s {edit.kind} takes {want}; got {len(values)}", "values")
    if edit.kind == "bias":
        return np.array([_finite(v, "values") for v in values], dtype=np.float32)
    out = np.empty((rows, cols), dtype=np.float32)
    for i, row in enumerate(values):
        if not isinstance(row, (list, tuple)) or len(row) != cols:
            got = len(row) if isinstance(row, (list, tuple)) else "a number"
            raise EditRefused(f"values: row {i} of layer {edit.layer}'s weight takes {cols} numbers; got {got}", "values")
        out[i] = [_finite(v, "values") for v in row]
    return out


def edited_mask(edit: WeightEdit, shape: tuple[int, ...]) -> tuple:
    """The index of what the edit writes in its parameter (W (out, in) or b (out,))."""
    if edit.whole:
        return (slice(None),) * len(shape)
    return (edit.row, edit.col) if edit.kind == "weight" else (edit.row,)
