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

import copy

import numpy as np
import torch


def input_count(weights) -> int:
    """Inputs of a network given by ``affine_layers()``: 2 (x, y) or 3 (x, y, t)."""
    return int(weights.affine_layers()[0][0].shape[1])


def fold_time(layers: list, t: float) -> list:
    """The (W, b) list of the 2-input slice at ``t`` of a (W, b) list whose first W has 3 columns
    (numpy arrays or torch tensors, in their own dtype); a 2-input list is returned as it is."""
    W, b = layers[0]
    if W.shape[1] == 2:
        return list(layers)
    if W.shape[1] != 3:
        raise ValueError(f"a slice needs a network of 2 or 3 inputs, this one has {W.shape[1]}")
    return [(W[:, :2], b + W[:, 2] * t), *layers[1:]]


def slice_weights(weights, t: float):
    """A frozen weights object (geometry.weights.WeightsSnapshot or ArrayWeights) of the slice at ``t``:
    the same kind of object, with 2 inputs; itself when it has 2 inputs already."""
    if input_count(weights) == 2:
        return weights
    sliced = copy.copy(weights)
    sliced._layers = [(_own(W), _own(b)) for W, b in fold_time(weights.affine_layers(), t)]
    return sliced


def slice_model(model, t: float):
    """The torch MLP (core.model.MLP) of the slice at ``t``, on the model's device and dtype, sharing
    no storage with it (training may go on); the model itself when it has 2 inputs."""
    if model.in_dim == 2:
        return model
    from ..core.model import MLP

    sliced = MLP(model.widths, out_dim=model.linears[-1].out_features, negative_slope=model.negative_slope)
    layers = fold_time(model.affine_layers(), float(t))
    param = next(model.parameters())
    with torch.no_grad():
        for linear, (W, b) in zip(sliced.linears, layers):
            linear.weight = torch.nn.Parameter(W.detach().clone().to(param.device, param.dtype))
            linear.bias = torch.nn.Parameter(b.detach().clone().to(param.device, param.dtype))
    return sliced.eval()


def _own(array):
    return array.clone() if isinstance(array, torch.Tensor) else np.array(array, copy=True)


def counts_over_time(weights, times, max_regions: int | None = None, deadline: float | None = None,
                     progress_path: str | None = None) -> dict:
    """Exact region count of the slice at each t of ``times`` (frozen weights of a 3-input network;
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
