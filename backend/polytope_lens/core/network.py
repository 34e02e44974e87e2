"""What a network is to every tool that reads one, and the one frozen form it travels in.

``Network`` is the contract: the affine layers (W, b) in order (hidden layers, then the
output layer), the activation of each hidden layer as its negative slope (0: ReLU, else
leaky ReLU with that slope; 1 would be the identity), the input and output sizes and the
task. Exact geometry, inspection, the grid partition, rendering, recording, the wire format,
the weight history and sweeps read networks only through it. The live torch MLP
(core/model.py) is one; ``FrozenNetwork`` is the other.

``FrozenNetwork`` is an immutable copy in numpy arrays: safe to read on another thread while
training goes on, picklable for another process without torch, and convertible to and from
the flat float32 layout the websocket sends, the weight history keeps and a sweep's
weights.bin holds (docs/protocol.md: per layer W (out x in, row-major), then b; float32
little-endian). A new source of networks (a file reader, a hand editor) only has to build one:
``FrozenNetwork(layers, slopes, task)``.

No torch here (a worker process unpickles networks without it); a torch tensor is read
through its ``detach``/``cpu``/``numpy`` methods.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, Sequence, runtime_checkable

import numpy as np

Task = Literal["regress", "classify"]
REGRESS: Task = "regress"
CLASSIFY: Task = "classify"
FLAT_DTYPE = np.dtype("<f4")  # the flat layout's numbers


@runtime_checkable
class Network(Protocol):
    """A feed-forward network of affine layers with a (leaky) ReLU after each hidden one.

    ``affine_layers()``: (W (out, in), b (out,)) of every layer, hidden layers first, the
    output layer last; numpy arrays, or the detached torch tensors of a live MLP (possibly on
    a GPU): read them with :func:`layer_arrays`. ``slopes``: one negative slope per hidden
    layer. ``task``: "regress" (outputs are values) or "classify" (outputs are the scores of
    ``out_dim`` classes).
    """

    @property
    def in_dim(self) -> int: ...

    @property
    def out_dim(self) -> int: ...

    @property
    def widths(self) -> list[int]: ...

    @property
    def slopes(self) -> tuple[float, ...]: ...

    @property
    def task(self) -> Task: ...

    def affine_layers(self) -> Sequence[tuple[Any, Any]]: ...


def as_array(value) -> np.ndarray:
    """A numpy view or copy of a weight: a numpy array as it is, a torch tensor brought to the CPU."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # a torch tensor, read without importing torch
        return value.detach().cpu().numpy()
    return np.asarray(value)


def layer_arrays(network: Network, dtype=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) of every layer as numpy arrays (in ``dtype`` when given, else their own)."""
    layers = [(as_array(W), as_array(b)) for W, b in network.affine_layers()]
    if dtype is None:
        return layers
    return [(W.astype(dtype, copy=False), b.astype(dtype, copy=False)) for W, b in layers]


def class_count(network: Network) -> int | None:
    """The classes of a classifier (one output each), None for a regression."""
    return network.out_dim if network.task == CLASSIFY else None


def shared_slope(network: Network) -> float:
    """The one negative slope of all hidden layers, for the formats that carry one (the websocket's
    weights frame, /weights, weights.json); a network whose layers differ raises ValueError."""
    slopes = set(network.slopes)
    if len(slopes) > 1:
        raise ValueError(f"the hidden layers have different negative slopes {list(network.slopes)}; "
                         "this format carries one")
    return slopes.pop() if slopes else 0.0


def slope_fields(network: Network) -> dict:
    """The activations as the formats that carry weights state them (the websocket's weights frame,
    /weights, weights.json): ``slopes``, one negative slope per hidden layer, and ``negative_slope``,
    the one slope of them all (where they differ, the first: readers that know only one slope predate
    networks opened from files, which may mix them; every reader here takes ``slopes``)."""
    slopes = [float(s) for s in network.slopes]
    return {"negative_slope": slopes[0] if slopes else 0.0, "slopes": slopes}


def flat_size(widths: Sequence[int], out_dim: int, in_dim: int = 2) -> int:
    """Bytes of the flat layout of a network of these hidden widths."""
    sizes = [in_dim, *widths, out_dim]
    return FLAT_DTYPE.itemsize * sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:]))


def flat_weights(network: Network) -> bytes:
    """The flat layout: every layer in order (hidden layers, then the output layer): W (out x in,
    row-major), then b; float32 little-endian."""
    if isinstance(network, FrozenNetwork):
        return network.flat()
    return b"".join(as_array(a).astype(FLAT_DTYPE, copy=False).tobytes()
                    for W, b in network.affine_layers() for a in (W, b))


def _slopes(slopes: float | Sequence[float], hidden_layers: int) -> tuple[float, ...]:
    """One slope for every hidden layer, or a slope per layer checked for count."""
    if isinstance(slopes, (int, float, np.floating, np.integer)):
        return (float(slopes),) * hidden_layers
    values = tuple(float(s) for s in slopes)
    if len(values) != hidden_layers:
        raise ValueError(f"{len(values)} slopes given for {hidden_layers} hidden layers")
    return values


class FrozenNetwork:
    """An immutable ``Network`` in numpy arrays (read-only), in the dtype it was given.

    Build it from (W, b) pairs, from any Network (:meth:`of`, :func:`freeze`; a live MLP has
    ``freeze()``) or from the flat layout (:meth:`from_flat`); :meth:`flat` gives the layout
    back byte for byte. Pickles as arrays: no torch needed to read it back.
    """

    __slots__ = ("_layers", "_slopes", "_task", "_flat", "__weakref__")

    def __init__(self, layers: Sequence[tuple[Any, Any]], slopes: float | Sequence[float], task: Task = REGRESS):
        owned = []
        for W, b in layers:
            W, b = np.array(as_array(W)), np.array(as_array(b))  # copies: nobody else can change them
            W.setflags(write=False)
            b.setflags(write=False)
            owned.append((W, b))
        self._init(owned, slopes, task, None)

    def _init(self, layers: list[tuple[np.ndarray, np.ndarray]], slopes, task: Task, flat: bytes | None) -> None:
        if not layers:
            raise ValueError("a network needs at least its output layer")
        inputs = layers[0][0].shape[1] if layers[0][0].ndim == 2 else None
        for i, (W, b) in enumerate(layers):
            if W.ndim != 2 or b.shape != (W.shape[0],) or W.shape[1] != inputs:
                raise ValueError(f"layer {i + 1}: W {W.shape} and b {b.shape} do not follow a layer of {inputs} outputs")
            inputs = W.shape[0]
        if task not in (REGRESS, CLASSIFY):
            raise ValueError(f"task must be {REGRESS!r} or {CLASSIFY!r}, not {task!r}")
        self._layers = tuple(layers)
        self._slopes = _slopes(slopes, len(layers) - 1)
        self._task = task
        self._flat = flat  # the flat layout: given (from_flat: the arrays are views of it) or made once by flat()

    @classmethod
    def of(cls, network: Network) -> "FrozenNetwork":
        """A frozen copy of any network (a live MLP: call it under the lock its trainer holds)."""
        if isinstance(network, FrozenNetwork):
            return network
        layers = layer_arrays(network)
        if all(a.dtype == FLAT_DTYPE for W, b in layers for a in (W, b)):  # one copy, into the flat layout
            data = b"".join(a.tobytes() for W, b in layers for a in (W, b))
            return cls.from_flat(data, network.widths, network.out_dim, network.slopes, network.in_dim,
                                 network.task)
        return cls(layers, network.slopes, network.task)

    @classmethod
    def from_flat(cls, data: bytes, widths: Sequence[int], out_dim: int, slopes: float | Sequence[float],
                  in_dim: int = 2, task: Task = REGRESS) -> "FrozenNetwork":
        """The network held by flat-layout bytes (``in_dim`` 3 for a clip's (x, y, t) network). The
        arrays are read-only views of ``data`` (bytes never change), and :meth:`flat` returns it."""
        data = bytes(data)
        if len(data) != flat_size(widths, out_dim, in_dim):
            raise ValueError(f"{len(data)} bytes do not hold the weights of a {in_dim}-{list(widths)}-{out_dim} network")
        values = np.frombuffer(data, dtype=FLAT_DTYPE)
        layers, at = [], 0
        sizes = [in_dim, *widths, out_dim]
        for i, o in zip(sizes[:-1], sizes[1:]):
            W = values[at: at + o * i].reshape(o, i)
            at += o * i
            layers.append((W, values[at: at + o]))
            at += o
        network = cls.__new__(cls)
        network._init(layers, slopes, task, data)
        return network

    def flat(self) -> bytes:
        """The flat layout (float32 little-endian): what the websocket and weights.bin carry."""
        if self._flat is None:
            self._flat = b"".join(a.astype(FLAT_DTYPE, copy=False).tobytes() for W, b in self._layers for a in (W, b))
        return self._flat

    def with_layers(self, layers: Sequence[tuple[Any, Any]]) -> "FrozenNetwork":
        """The same activations and task over other layers (a slice at t, an edited weight)."""
        return FrozenNetwork(layers, self._slopes, self._task)

    # -- the Network contract -------------------------------------------------------------
    def affine_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(self._layers)

    @property
    def slopes(self) -> tuple[float, ...]:
        return self._slopes

    @property
    def task(self) -> Task:
        return self._task

    @property
    def in_dim(self) -> int:
        return int(self._layers[0][0].shape[1])

    @property
    def out_dim(self) -> int:
        return int(self._layers[-1][0].shape[0])

    @property
    def widths(self) -> list[int]:
        return [int(W.shape[0]) for W, _ in self._layers[:-1]]

    # -- conveniences ---------------------------------------------------------------------
    @property
    def hidden_count(self) -> int:
        return sum(self.widths)

    @property
    def nbytes(self) -> int:
        return sum(W.nbytes + b.nbytes for W, b in self._layers)

    def __reduce__(self):
        return FrozenNetwork, (list(self._layers), self._slopes, self._task)

    def __repr__(self) -> str:
        return (f"FrozenNetwork({self.in_dim}-{self.widths}-{self.out_dim}, slopes={list(self._slopes)}, "
                f"task={self._task!r})")


def freeze(network: Network) -> FrozenNetwork:
    """``network`` as a FrozenNetwork: itself when it is one, else a frozen copy."""
    return FrozenNetwork.of(network)
