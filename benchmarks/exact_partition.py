"""Time the exact partition (polytope_lens.exact) against a naive 1024^2 grid.

Row 5 of ``benchmarks/run_all.py``; alone (from the repository root):

    .venv/bin/python benchmarks/exact_partition.py [--retrain] [--runs 7]

It trains the two reference networks itself with a tiny inline loop (so it does
not depend on training.py): a black ring (0 inside 0.35 < r < 0.6, 1 elsewhere)
on 5000 random points of [-1, 1]^2, Adam lr 3e-3, batch 1024, 6000 steps for
14x6 and 3000 steps for 64x4, torch.manual_seed(0), 2 threads. Trained weights
are cached in /tmp so later runs only time the geometry.

Targets on the 2-core dev machine: 14x6 (~3,500 regions) <= 150 ms,
64x4 (~32,000 regions) <= 2.5 s. Our inline training gives the 64x4 only ~23k
regions, so a third row times an untrained 32x8 net (~25k regions) against the
same 2.5 s target. The baseline column is the naive grid: all 1024^2 pixels in
one forward pass, distinct packed patterns counted with np.unique.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from polytope_lens.geometry.exact import exact_partition
from polytope_lens.core.model import build_mlp

# (name, widths, training steps (0 = He initialisation, seed 0), target seconds)
CASES = [
    ("14x6", [14] * 6, 6000, 0.150),
    ("64x4", [64] * 4, 3000, 2.5),
    # our trained 64x4 has ~23k regions; this untrained net (~25k) checks a bigger, less structured case
    ("32x8", [32] * 8, 0, 2.5),
]


def ring_target(x: torch.Tensor) -> torch.Tensor:
    r = x.norm(dim=1, keepdim=True)
    return ((r <= 0.35) | (r >= 0.6)).float()


def train(widths: list[int], steps: int, cache: Path, retrain: bool, log=print) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_mlp(widths, out_dim=1, activation="relu")
    if steps == 0:
        return model
    if cache.exists() and not retrain:
        model.load_state_dict(torch.load(cache))
        return model
    x = torch.rand(5000, 2) * 2 - 1
    y = ring_target(x)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (1024,))
        loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    elapsed = time.perf_counter() - t0
    log(f"  trained {cache.name}: {steps} steps in {elapsed:.1f}s, last loss {loss.item():.4f}")
    torch.save(model.state_dict(), cache)
    return model


def naive_grid(model: torch.nn.Module, side: int = 1024) -> int:
    """Baseline: forward every pixel in one batch, count distinct patterns."""
    lin = torch.linspace(-1, 1, side)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    with torch.no_grad():
        _, pre = model.forward_with_preactivations(pts)
    bits = torch.cat([p > 0 for p in pre], dim=1).numpy()
    packed = np.ascontiguousarray(np.packbits(bits, axis=1))
    rows = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()  # one opaque key per row
    return len(np.unique(rows))


def median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run(cases=CASES, runs: int = 7, retrain: bool = False, log=print) -> list[dict]:
    """Median time of the exact partition of each case's network, and of the naive grid count."""
    results = []
    for name, widths, steps, target in cases:
        model = train(widths, steps, Path(f"/tmp/polytope_lens_bench_ring_{name}.pt"), retrain, log)
        model.eval()
        exact_partition(model)  # warm-up
        t_exact, part = median_time(lambda: exact_partition(model), runs)
        t_grid, grid_count = median_time(lambda: naive_grid(model), max(1, runs // 2))
        log(f"  {name}: {part.region_count:,} regions in {t_exact * 1e3:.0f} ms")
        results.append({"net": name, "trained_steps": steps, "regions": part.region_count, "grid_regions": grid_count,
                        "exact_s": t_exact, "grid_s": t_grid, "target_s": target})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--retrain", action="store_true", help="ignore the cached weights in /tmp")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per case (median reported)")
    args = parser.parse_args()
    torch.set_num_threads(2)

    print()
    print(f"{'net':<6} {'exact regions':>13} {'grid regions':>12} {'exact ms':>9} {'target ms':>9} "
          f"{'grid1024 ms':>11} {'grid/exact':>10}  ok")
    for r in run(runs=args.runs, retrain=args.retrain):
        ok = "yes" if r["exact_s"] <= r["target_s"] else "NO"
        print(f"{r['net']:<6} {r['regions']:>13,} {r['grid_regions']:>12,} {r['exact_s'] * 1e3:>9.1f} "
              f"{r['target_s'] * 1e3:>9.0f} {r['grid_s'] * 1e3:>11.1f} {r['grid_s'] / r['exact_s']:>10.2f}  {ok}")


if __name__ == "__main__":
    main()
