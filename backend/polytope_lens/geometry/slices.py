"""One moment of a clip's network: the slice at time t is an ordinary 2-D network.

A network learning a clip takes (x, y, t). Its first layer is
W·(x, y, t) + b = W[:, :2]·(x, y) + (b + W[:, 2]·t), so for a fixed t it is the
2-input network whose first weights are W[:, :2] and whose first bias is
b + W[:, 2]·t; every later layer is unchanged. ``fold_time`` is that identity,
the one place it is written: the grid partition, the live exact counts, the
inspector, the exports, the neuron lines and the CLI all take the slice from here,
so every exact tool applies to each moment unchanged. A 2-input network is its
own slice at every t.
"""

from __future__ import annotations

import torch

from ..core.model import MLP
from ..core.network import FrozenNetwork, Network, freeze


def input_count(network: Network) -> int:
    """Inputs of a network: 2 (x, y) or 3 (x, y, t)."""
    return int(network.in_dim)


def fold_time(layers: list, t: float) -> list:
    """The (W, b) list of the 2-input slice at ``t`` of a (W, b) list whose first W has 3 columns
    (numpy arrays or torch tensors, in their own dtype); a 2-input list is returned as it is."""
    W, b = layers[0]
    if W.shape[1] == 2:
        return list(layers)
    if W.shape[1] != 3:
        raise ValueError(f"a slice needs a network of 2 or 3 inputs, this one has {W.shape[1]}")
    return [(W[:, :2], b + W[:, 2] * t), *layers[1:]]


def slice_weights(network: Network, t: float) -> FrozenNetwork:
    """The FrozenNetwork of the slice at ``t`` (same activations and task, 2 inputs); a frozen
    2-input network is its own slice."""
    network = freeze(network)
    if network.in_dim == 2:
        return network
    return network.with_layers(fold_time(network.affine_layers(), t))


def slice_model(model: Network, t: float) -> Network:
    """The slice at ``t``, of the same kind: a torch MLP's on the model's device and dtype, sharing
    no storage with it (training may go on), any other network's a FrozenNetwork; the network
    itself when it has 2 inputs."""
    if model.in_dim == 2:
        return model
    if not isinstance(model, MLP):
        return slice_weights(model, t)
    sliced = MLP(model.widths, out_dim=model.out_dim, negative_slope=model.negative_slope, task=model.task,
                 layer_slopes=model.slopes)
    layers = fold_time(model.affine_layers(), float(t))
    param = next(model.parameters())
    with torch.no_grad():
        for linear, (W, b) in zip(sliced.linears, layers):
            linear.weight = torch.nn.Parameter(W.detach().clone().to(param.device, param.dtype))
            linear.bias = torch.nn.Parameter(b.detach().clone().to(param.device, param.dtype))
    return sliced.eval()


def counts_over_time(weights: Network, times, max_regions: int | None = None, deadline: float | None = None,
                     progress_path: str | None = None) -> dict:
    """Exact region count of the slice at each t of ``times`` (a frozen 3-input network;
    a 2-input one gives the same count at every t): ``{"t": [...], "counts": [...], "reason"}``.
    Stops at ``deadline`` (time.monotonic) or past ``max_regions`` with the moments done so far and
    ``reason`` saying why; ``progress_path`` gets the fraction of moments done (geometry/tasks.py)."""
    import time as _time

    from .exact import PartitionTooLarge, region_counts_per_layer
    from .tasks import ProgressFile

    done_t, counts, reason = [], [], None
    progress = ProgressFile(progress_path)
    try:
        for i, t in enumerate(times):
            if deadline is not None and _time.monotonic() > deadline:
                reason = f"time budget used up after {len(counts)} of {len(times)} moments"
                break
            try:
                n = region_counts_per_layer(slice_weights(weights, float(t)), max_regions=max_regions,
                                            deadline=deadline)[-1]
            except PartitionTooLarge as exc:
                reason = f"stopped at t = {float(t):g}: {exc}"
                break
            done_t.append(round(float(t), 6))
            counts.append(int(n))
            progress((i + 1) / len(times), int(n))
    finally:
        progress.close()
    return {"t": done_t, "counts": counts, "reason": reason}


def counts_over_time_job(weights, times, *, max_regions: int, budget_s: float, progress_path: str | None = None) -> dict:
    """``counts_over_time`` as a worker-process job (web/jobs.GeometryPool): the budget starts now."""
    import time as _time

    started = _time.monotonic()
    result = counts_over_time(weights, times, max_regions=max_regions, deadline=started + budget_s,
                              progress_path=progress_path)
    return {**result, "seconds": round(_time.monotonic() - started, 3)}
