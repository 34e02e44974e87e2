"""Training steps per second: the optimisers as the product makes them (core/training.py
``make_optimizer``: foreach, one batched update over all parameter tensors) against torch's CPU
default (a Python loop over the tensors), on the original post's three networks.

    PYTHONPATH=backend .venv/bin/python benchmarks/optimizer.py [--rounds 7] [--steps 100]

Both sides train the same network from the same start on the ring (5,000 points, batch 1,024,
one torch thread), interleaved A B A B; medians. The weights after the run are compared too: the
batched update is the same arithmetic, so they must be bitwise equal.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from polytope_lens.core.images import load_target
from polytope_lens.core.samples import sample_path
from polytope_lens.core.settings import RunConfig
from polytope_lens.core.training import Trainer

NETWORKS = ("14x6", "10x10,2,10x3", "20x40")
OPTIMISERS = ("adam", "sgd_momentum", "rmsprop")


def torch_default(name: str, params, lr: float) -> torch.optim.Optimizer:
    """The optimiser as torch builds it on the CPU when not told (foreach=False there)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, foreach=False)
    if name == "sgd_momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, foreach=False)
    return torch.optim.RMSprop(params, lr=lr, foreach=False)


def measure(layers: str, optimizer: str, rounds: int, steps: int) -> tuple[float, float, bool]:
    """(ms per step with torch's default, ms per step as the product trains, weights bitwise equal)."""
    target = load_target(sample_path("ring"))
    config = RunConfig(image="ring", layers=layers, optimizer=optimizer, lr=1e-3, train_points=5000,
                       val_points=1000, seed=0)
    product, default = Trainer(config, target), Trainer(config, target)
    default.optimizer = torch_default(optimizer, default.model.parameters(), config.lr)
    times = {"product": [], "default": []}
    for _ in range(rounds):
        for side, trainer in (("default", default), ("product", product)):
            start = time.perf_counter()
            trainer.step(steps)
            times[side].append((time.perf_counter() - start) / steps)
    same = all(torch.equal(a, b) for a, b in zip(product.model.parameters(), default.model.parameters()))
    return statistics.median(times["default"]) * 1e3, statistics.median(times["product"]) * 1e3, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--optimizers", default="adam", help="comma-separated: " + ",".join(OPTIMISERS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'network':>14} {'optimiser':>13} {'torch default':>14} {'product':>10} {'speed-up':>9}  weights")
    for optimizer in args.optimizers.split(","):
        for layers in NETWORKS:
            default, product, same = measure(layers, optimizer, args.rounds, args.steps)
            print(f"{layers:>14} {optimizer:>13} {default:11.2f} ms {product:7.2f} ms {default / product:8.2f}x  "
                  f"{'bitwise equal' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
