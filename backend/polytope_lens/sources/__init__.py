"""Network sources: networks trained elsewhere, opened as a ``FrozenNetwork`` (core/network.py).

- ``open_network(path_or_bytes, ...)``: a model file, ONNX, a PyTorch state dict or safetensors
  (opening.py, onnxfile.py, tensors.py);
- ``from_module(module)``: a live ``nn.Sequential`` of Linear and (leaky) ReLU layers;
- ``from_state_dict(state, activation=..., negative_slope=...)``: tensors by name;
- ``read_points(file)``: rows of a .npy or .csv file, the points of a plane (geometry/plane.py);
- ``open_view(network, points, rows)``: the 2-input network the tools show (a D-input one folded
  onto the plane through three points), with the plane and the points' marks (opened.py).

Anything that is not a (leaky) ReLU MLP is refused with ``NetworkRefused`` (a ValueError) whose
message names the node, module or tensor. A new format is a reader that lists the chain's steps
(chain.py) and a line in ``opening.file_format``.
"""

from .chain import MAX_INPUTS, MAX_NETWORK_FILE_BYTES, MAX_OUTPUTS
from .opened import OpenedNetwork, open_view
from .opening import file_format, open_network, preload
from .points import read_points
from .refusal import NetworkRefused
from .tensors import from_module, from_state_dict

__all__ = ["open_network", "open_view", "OpenedNetwork", "from_module", "from_state_dict", "read_points", "NetworkRefused", "file_format",
           "MAX_NETWORK_FILE_BYTES", "MAX_INPUTS", "MAX_OUTPUTS"]
