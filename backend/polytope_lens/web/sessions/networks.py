"""How a session's frozen network crosses between processes (a pipe, or Ray).

A frozen network is a ``FrozenNetwork`` (core/network.py). It crosses as its flat float32 bytes
(the wire format's layout) with what rebuilds it: ``FrozenNetwork.from_flat`` keeps those bytes
without a copy, and the receiving side needs no torch.
"""

from __future__ import annotations

from ...core.network import FrozenNetwork

# (bytes, step, hidden widths, outputs, slopes, inputs, task): FrozenNetwork.from_flat's arguments and the step
WireNetwork = tuple[bytes, int, list[int], int, list[float], int, str]


def network_to_wire(found: tuple[FrozenNetwork, int] | None) -> WireNetwork | None:
    """A (network, step) answer as plain values for another process; None stays None."""
    if found is None:
        return None
    network, step = found
    return (network.flat(), step, list(network.widths), int(network.out_dim), list(network.slopes),
            int(network.in_dim), network.task)


def network_from_wire(sent: WireNetwork | None) -> tuple[FrozenNetwork, int] | None:
    """The inverse of ``network_to_wire``."""
    if sent is None:
        return None
    data, step, widths, out_dim, slopes, in_dim, task = sent
    return FrozenNetwork.from_flat(data, widths, out_dim, slopes, in_dim, task), step
