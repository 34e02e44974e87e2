"""ONNX files: a chain of Gemm / MatMul+Add, Relu, LeakyRelu, Identity, Dropout, Flatten and a final
Softmax or LogSoftmax, read with the ``onnx`` package (an optional extra: ``[networks]``).

The graph is walked in its (topological) node order, following one data tensor from the graph's
input to its output; weights come from the initializers and Constant nodes. A node that reads any
other non-constant tensor (a skip connection, a branch), an operator outside the list (Conv,
Sigmoid, ...) or a second graph input is refused by name. Nothing in the file runs: ONNX is
protocol-buffer data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.network import FrozenNetwork, Task
from .chain import MAX_NETWORK_FILE_BYTES, Activation, Affine, ScoresEnd, Step, build, weight_array
from .refusal import NetworkRefused

PASS_THROUGH = {"Identity", "Dropout", "Flatten"}  # the data passes unchanged (a flat vector already)
WHY_NOT = {
    "Conv": "a convolution", "ConvTranspose": "a convolution", "Sigmoid": "a sigmoid, not piecewise linear",
    "Tanh": "a tanh, not piecewise linear", "Softplus": "a softplus, not piecewise linear",
    "Gelu": "a GELU, not piecewise linear", "Elu": "an ELU, not piecewise linear", "Selu": "a SELU, not piecewise linear",
    "MaxPool": "a max pooling", "AveragePool": "a pooling", "BatchNormalization": "a batch normalisation",
    "Concat": "a concatenation (a branch)", "Max": "a maximum", "Mul": "a product",
}


def _node_name(node, index: int) -> str:
    return node.name or f"#{index} {node.op_type}"


def _attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _external_file(t, base_dir: Path | None) -> tuple[str, int]:
    """The folder holding a tensor's external data and the bytes it reads there: only a plain file
    name beside the model file (torch.onnx.export writes MODEL.onnx.data there), never a path."""
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if base_dir is None:
        raise NetworkRefused(f"tensor '{t.name}' is stored in a separate file ('{location}'): upload a model with its "
                             "weights inside (torch.onnx.export(..., external_data=False), or onnx.save(..., "
                             "save_as_external_data=False))", t.name)
    if not location or Path(location).name != location or location in (".", ".."):
        raise NetworkRefused(f"tensor '{t.name}' points to '{location}', not to a file beside the model", t.name)
    path = base_dir / location
    if not path.is_file():
        raise NetworkRefused(f"tensor '{t.name}' is stored in '{location}', which is not beside the model file", t.name)
    try:
        length = int(info.get("length", path.stat().st_size))
    except ValueError:
        raise NetworkRefused(f"tensor '{t.name}' has an unreadable external length", t.name) from None
    return str(base_dir), length


def read_onnx(data: bytes, source: str = "the ONNX file", task: Task | None = None, base_dir: str | Path | None = None,
              limit: int = MAX_NETWORK_FILE_BYTES) -> FrozenNetwork:
    """The network held by an ONNX file's bytes, or NetworkRefused naming the node or tensor.
    ``base_dir``: the model file's folder, where its external weights may lie (files opened by path);
    without it, a model whose weights are in a separate file is refused."""
    base_dir = Path(base_dir) if base_dir is not None else None
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:  # the optional extra is missing
        raise NetworkRefused("reading ONNX files needs the 'onnx' package: pip install 'polytope-lens[networks]'",
                             source) from exc
    try:
        model = onnx.load_model_from_string(bytes(data))
    except Exception as exc:  # not protocol-buffer data, or not a model
        raise NetworkRefused(f"{source} is not an ONNX model ({type(exc).__name__})", source) from None
    graph = model.graph
    if not graph.node:
        raise NetworkRefused(f"{source} is not an ONNX model with a graph (no nodes)", source)

    constants: dict[str, np.ndarray] = {}

    external_bytes = 0

    def tensor(t) -> np.ndarray:
        nonlocal external_bytes
        folder = None
        if t.data_location == onnx.TensorProto.EXTERNAL:
            folder, size = _external_file(t, base_dir)
            external_bytes += size
            if external_bytes > limit:
                raise NetworkRefused(f"the external weights of {source} are past the limit of {limit / 2**20:.0f} MiB",
                                     t.name)
        try:
            return numpy_helper.to_array(t, folder or "")
        except Exception as exc:
            raise NetworkRefused(f"tensor '{t.name}' cannot be read ({type(exc).__name__}: {exc})", t.name) from None

    for init in graph.initializer:
        constants[init.name] = tensor(init)
    inputs = [i.name for i in graph.input if i.name not in constants]
    if len(inputs) != 1:
        raise NetworkRefused(f"{source} has {len(inputs)} data inputs ({', '.join(inputs) or 'none'}); a network "
                             "here has one", inputs[1] if len(inputs) > 1 else source)
    if len(graph.output) != 1:
        raise NetworkRefused(f"{source} has {len(graph.output)} outputs; a network here has one",
                             graph.output[1].name if len(graph.output) > 1 else source)

    current = inputs[0]  # the tensor the chain has reached
    steps: list[Step] = []

    def weight(name: str, node: str) -> np.ndarray:
        if name not in constants:
            raise NetworkRefused(f"node '{node}' reads '{name}' as a weight, but it is computed, not stored "
                                 "(a skip connection or a branch)", node)
        return weight_array(constants[name], name)

    def data_input(node, name: str) -> None:
        if node.input[0] != current:
            raise NetworkRefused(f"node '{name}' ({node.op_type}) takes '{node.input[0]}', not the previous node's "
                                 f"output '{current}': a skip connection or a branch", name)

    for index, node in enumerate(graph.node):
        name = _node_name(node, index)
        op, attrs = node.op_type, _attributes(node)
        if node.domain not in ("", "ai.onnx"):
            raise NetworkRefused(f"node '{name}' is {op} from the operator set '{node.domain}', not a layer of an MLP", name)
        if op == "Constant":
            if "value" not in attrs:
                raise NetworkRefused(f"constant node '{name}' has no tensor value", name)
            constants[node.output[0]] = tensor(attrs["value"])
            continue
        if op in ("Identity", "Dropout") and node.input and node.input[0] in constants and node.input[0] != current:
            constants[node.output[0]] = constants[node.input[0]]  # an alias of a weight
            continue
        if not node.input:
            raise NetworkRefused(f"node '{name}' ({op}) has no input", name)
        if op in PASS_THROUGH:
            data_input(node, name)
            if op == "Flatten" and attrs.get("axis", 1) != 1:
                raise NetworkRefused(f"Flatten '{name}' with axis {attrs['axis']}: only a flat batch of vectors is a "
                                     "network input here", name)
        elif op == "Gemm":
            data_input(node, name)
            if attrs.get("transA", 0):
                raise NetworkRefused(f"Gemm '{name}' transposes its data input (transA): not a layer", name)
            B = weight(node.input[1], name)
            if B.ndim != 2:
                raise NetworkRefused(f"Gemm '{name}': weight '{node.input[1]}' has shape {B.shape}", node.input[1])
            alpha = float(attrs.get("alpha", 1.0))
            W = B if attrs.get("transB", 0) else B.T
            W = W if alpha == 1.0 else (alpha * W).astype(W.dtype)
            b = np.zeros(W.shape[0], dtype=W.dtype)
            if len(node.input) > 2 and node.input[2]:
                C = weight(node.input[2], name)
                if C.size not in (1, W.shape[0]):
                    raise NetworkRefused(f"Gemm '{name}': bias '{node.input[2]}' has shape {C.shape}, the layer has "
                                         f"{W.shape[0]} outputs", node.input[2])
                b = (float(attrs.get("beta", 1.0)) * np.broadcast_to(C.reshape(-1), (W.shape[0],))).astype(C.dtype)
            steps.append(Affine(W, b, name))
        elif op == "MatMul":
            data_input(node, name)
            B = weight(node.input[1], name)
            if B.ndim != 2:
                raise NetworkRefused(f"MatMul '{name}': weight '{node.input[1]}' has shape {B.shape}", node.input[1])
            steps.append(Affine(B.T, np.zeros(B.shape[1], dtype=B.dtype), name))
        elif op in ("Add", "Sub"):
            if len(node.input) != 2:
                raise NetworkRefused(f"{op} '{name}' has {len(node.input)} inputs", name)
            if current not in node.input:
                data_input(node, name)
            other = node.input[1] if node.input[0] == current else node.input[0]
            if other == current or other not in constants:
                raise NetworkRefused(f"{op} '{name}' adds '{other}', a computed tensor, to '{current}': a skip "
                                     "connection", name)
            c = weight(other, name).reshape(-1)
            if op == "Sub" and node.input[0] != current:
                raise NetworkRefused(f"Sub '{name}' subtracts the data from a constant: not a bias", name)
            width = steps[-1].W.shape[0] if steps and isinstance(steps[-1], Affine) else c.size
            if c.size not in (1, width):
                raise NetworkRefused(f"{op} '{name}': bias '{other}' has {c.size} values for {width} outputs", other)
            c = np.broadcast_to(c, (width,)).astype(c.dtype)
            steps.append(Affine(np.eye(width, dtype=c.dtype), -c if op == "Sub" else c, name))
        elif op == "Relu":
            data_input(node, name)
            steps.append(Activation(0.0, name))
        elif op == "LeakyRelu":
            data_input(node, name)
            # ONNX keeps alpha in float32: 0.1 is read back as 0.1, not 0.10000000149
            steps.append(Activation(float(str(np.float32(attrs.get("alpha", 0.01)))), name))
        elif op in ("Softmax", "LogSoftmax"):
            data_input(node, name)
            if attrs.get("axis", -1) not in (-1, 1):
                raise NetworkRefused(f"{op} '{name}' over axis {attrs['axis']}: only over the class scores", name)
            steps.append(ScoresEnd(name))
        else:
            why = WHY_NOT.get(op, "not a layer of a (leaky) ReLU MLP")
            raise NetworkRefused(f"node '{name}' is {op}: {why}; only chains of Gemm/MatMul+Add, Relu, LeakyRelu, "
                                 "Identity, Dropout, Flatten and a final Softmax are read", name)
        if len(node.output) < 1:
            raise NetworkRefused(f"node '{name}' has no output", name)
        current = node.output[0]
    if current != graph.output[0].name:
        raise NetworkRefused(f"the chain ends at '{current}' but the graph's output is '{graph.output[0].name}': "
                             "not a chain", graph.output[0].name)
    return build(steps, source, task)
