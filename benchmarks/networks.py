"""Networks from files: opening one on a real server, and the plane view of a D-input network.

Row 10 of ``benchmarks/run_all.py``; alone (from the repository root):

    PYTHONPATH=backend .venv/bin/python benchmarks/networks.py [--runs 7]

- open -> first panel: a 2-input 14x6 ReLU network exported to ONNX (torch.onnx.export, the
  TorchScript exporter), sent to ``POST /api/networks`` of a real server (a subprocess, one torch
  thread), then a websocket ``configure`` naming it on the ring; timed from the upload's start to
  the first frame received (the server draws the 512² panels: the slower of the two paths). The
  baseline is a plain ``configure`` of a new 14x6 on the same socket (configure -> first frame),
  interleaved A B A B; medians. Target: <= 0.5 s.
- plane partition: a 64 -> 32 -> 32 -> 10 network (torch's default initialisation, seed 0), the
  plane through three rows of 64-D points (standard normal, seed 1): plane_through + fold_plane +
  the exact partition. The baseline is the exact partition of a 2-input network of the same hidden
  layers built by the product (2 -> 32 -> 32 -> 10). Target: <= 1 s.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _onnx_14x6() -> bytes:
    torch.manual_seed(0)
    mods = []
    for a, b in zip([2] + [14] * 6, [14] * 6 + [1]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*mods[:-1]).eval()
    buf = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, 2),), buf, dynamo=False)
    return buf.getvalue()


def open_to_first_panel(runs: int = 5, log=print) -> dict:
    import httpx
    from live_server import LiveClient, running_server

    data = _onnx_14x6()
    config = {"image": "ring", "layers": "14x6", "train_points": 5000, "val_points": 1000}
    opened, plain = [], []
    with running_server() as url, LiveClient(url) as client:
        client.send("view", resolution=512, render="server")
        client.configure(**config)  # warm: the session's process, the picture
        for i in range(runs):
            t0 = time.perf_counter()
            answer = httpx.post(f"{url}/api/networks", files={"file": ("net.onnx", data)}, timeout=60)
            answer.raise_for_status()
            client.send("configure", config=config, network=answer.json()["id"])
            client.expect("frame", where=lambda f: f["step"] == 0 and f.get("train_loss") is not None, timeout=60)
            opened.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.send("configure", config={**config, "seed": i + 1})
            client.expect("frame", where=lambda f: f["step"] == 0, timeout=60)
            plain.append(time.perf_counter() - t0)
            log(f"  open -> first panel {opened[-1] * 1e3:.0f} ms; plain configure -> first frame {plain[-1] * 1e3:.0f} ms")
    return {"open_s": statistics.median(opened), "plain_s": statistics.median(plain), "runs": runs,
            "bytes": len(data)}


def plane_partition(runs: int = 5, log=print) -> dict:
    from polytope_lens.core.model import build_mlp
    from polytope_lens.geometry.exact import exact_partition
    from polytope_lens.geometry.plane import fold_plane, plane_through
    from polytope_lens.sources import from_module

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 10))
    network = from_module(model)
    points = np.random.default_rng(1).normal(size=(100, 64))
    flat = build_mlp([32, 32], out_dim=10, generator=torch.Generator().manual_seed(0)).freeze()
    plane_s, flat_s, regions = [], [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        regions = exact_partition(fold_plane(network, plane_through(points, (0, 1, 2)))).region_count
        plane_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        flat_regions = exact_partition(flat).region_count
        flat_s.append(time.perf_counter() - t0)
        log(f"  plane {plane_s[-1] * 1e3:.0f} ms ({regions} regions); 2-input {flat_s[-1] * 1e3:.0f} ms ({flat_regions})")
    return {"plane_s": statistics.median(plane_s), "flat_s": statistics.median(flat_s), "regions": regions,
            "flat_regions": flat_regions, "runs": runs}


def rows(result: dict, fmt_s) -> list[tuple]:
    o, p = result["open"], result["plane"]
    return [
        ("10", f"open a 2-input 14x6 ONNX file ({o['bytes']:,} B): upload -> configure -> first 512^2 panel vs a "
               "plain configure -> first frame", fmt_s(o["open_s"]), fmt_s(o["plain_s"]),
         f"{o['open_s'] / o['plain_s']:.2f}x", "<= 0.5 s", "yes" if o["open_s"] <= 0.5 else "no"),
        ("10", f"plane view of a 64-32-32-10 network: plane + fold + exact partition ({p['regions']:,} regions) vs a "
               f"2-32-32-10 ({p['flat_regions']:,})", fmt_s(p["plane_s"]), fmt_s(p["flat_s"]),
         f"{p['plane_s'] / p['flat_s']:.2f}x", "<= 1 s", "yes" if p["plane_s"] <= 1.0 else "no"),
    ]


def run(runs: int = 5, log=print) -> dict:
    return {"open": open_to_first_panel(runs, log), "plane": plane_partition(runs, log)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    result = run(args.runs, log=lambda m: print(m, file=sys.stderr))
    fmt = lambda s: f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"  # noqa: E731
    for row in rows(result, fmt):
        print("  ".join(row))


if __name__ == "__main__":
    main()
