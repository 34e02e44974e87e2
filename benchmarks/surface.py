"""The origami surface (geometry/surface.py): bytes of a live surface update against a server-drawn
frame, and the server's time to build it.

    .venv/bin/python benchmarks/surface.py [--runs 7] [--deep-steps 1500]

Rows, each measured in this one run (the two sides of a ratio interleaved A B A B, medians):
  - trained 14x6 on the ring (benchmarks/exact_partition.py's reference net, cached in /tmp):
    bytes of the ``surface`` message against a server-drawn 512^2 frame (wire.partition_frame:
    prediction, boundary and line bits) of the same network; the server's time to build the
    message from the exact partition the live count already has (what a live update costs), the
    whole REST job (partition + message, what /surface computes) and the 512^2 frame's drawing;
    an OBJ of the same surface, for scale;
  - the post's 20x40 (the project's default run with 20x40, trained ``--deep-steps`` steps): its
    regions, the time of its exact partition against the live budget (LIVE_BUDGET_S, 0.3 s: past
    it the live push is skipped and the page draws a sampled surface) and against the REST
    route's 8 s and 150,000 regions, and the bytes /surface answers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exact_partition import train  # noqa: E402
from frames import project_frame, ring_target, trained_model  # noqa: E402

from polytope_lens.core.network import freeze  # noqa: E402
from polytope_lens.geometry.dynamics import LIVE_BUDGET_S  # noqa: E402
from polytope_lens.geometry.exact import PartitionTooLarge, exact_partition  # noqa: E402
from polytope_lens.geometry.surface import Output, build_surface, obj_bytes, surface_message  # noqa: E402
from polytope_lens.web.routers.geometry import REGIONS_BUDGET_S, REGIONS_MAX  # noqa: E402

FRAME_RESOLUTION = 512


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def surface_vs_frame(model, runs: int = 7, resolution: int = FRAME_RESOLUTION) -> dict:
    """Bytes and server time of a surface update against a server-drawn frame of ``model``."""
    net = freeze(model)
    part = exact_partition(net)
    message = surface_message(build_surface(part), 0)
    frame = project_frame(model, resolution)
    live_s, rest_s, frame_s = [], [], []
    for _ in range(runs):  # interleaved: A B C A B C ...
        t0 = time.perf_counter()
        surface_message(build_surface(part), 0)  # the live push: the partition is the exact count's
        t1 = time.perf_counter()
        surface_message(build_surface(exact_partition(net)), 0)  # the REST job: partition and message
        t2 = time.perf_counter()
        project_frame(model, resolution)
        t3 = time.perf_counter()
        live_s.append(t1 - t0)
        rest_s.append(t2 - t1)
        frame_s.append(t3 - t2)
    obj = obj_bytes(build_surface(part), Output("channel", 0))
    return {
        "regions": part.region_count,
        "vertices": int(part.counts.sum()),
        "surface_bytes": len(message),
        "frame_bytes": len(frame),
        "bytes_ratio": len(frame) / len(message),
        "bytes_per_facet": len(message) / part.region_count,
        "live_s": _median(live_s),
        "rest_s": _median(rest_s),
        "frame_s": _median(frame_s),
        "obj_bytes": len(obj),
        "resolution": resolution,
    }


def deep_net(model, runs: int = 3) -> dict:
    """The exact partition of a deep net against the live budget and the REST route's limits (its
    8 s and 150,000 regions: past them, how far it got)."""
    net = freeze(model)
    times, part, reached = [], None, [0.0, 0]

    def progress(fraction: float, regions: int) -> None:
        reached[:] = [fraction, regions]

    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            part = exact_partition(net, max_regions=REGIONS_MAX, deadline=time.monotonic() + REGIONS_BUDGET_S,
                                   progress=progress)
        except PartitionTooLarge as exc:
            return {"regions": None, "exact_s": time.perf_counter() - t0, "live_pushed": False, "rest_within": False,
                    "stopped": str(exc), "fraction": reached[0], "regions_so_far": reached[1]}
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    message = surface_message(build_surface(part), 0)
    encode_s = time.perf_counter() - t0
    exact_s = _median(times)
    return {"regions": part.region_count, "exact_s": exact_s, "encode_s": encode_s, "surface_bytes": len(message),
            "live_pushed": exact_s <= LIVE_BUDGET_S, "rest_within": exact_s + encode_s <= REGIONS_BUDGET_S}


def run(runs: int = 7, deep_steps: int = 1500, deep_layers: str = "20x40", log=print) -> dict:
    log("surface: the trained 14x6 (exact_partition.py's reference net)")
    small = train([14] * 6, 6000, Path("/tmp/polytope_lens_bench_ring_14x6.pt"), False, log).eval()
    rows = {"14x6": surface_vs_frame(small, runs)}
    log(f"surface: {deep_layers}, {deep_steps} steps of the default run on the ring")
    t0 = time.perf_counter()
    deep = trained_model(deep_layers, deep_steps, ring_target()).eval()
    log(f"  trained in {time.perf_counter() - t0:.0f} s")
    rows[deep_layers] = {**deep_net(deep), "steps": deep_steps}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="timed runs (median reported)")
    parser.add_argument("--deep-steps", type=int, default=1500, help="training steps of the 20x40")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = run(args.runs, args.deep_steps, log=lambda m: print(m, file=sys.stderr, flush=True))
    s = rows["14x6"]
    print(f"trained 14x6: {s['regions']:,} regions, {s['vertices']:,} vertices")
    print(f"  surface update {s['surface_bytes']:,} bytes ({s['bytes_per_facet']:.1f} per facet) vs a server-drawn "
          f"{s['resolution']}^2 frame {s['frame_bytes']:,} bytes: the frame is {s['bytes_ratio']:.2f}x larger")
    print(f"  server time: surface from the live partition {s['live_s'] * 1e3:.1f} ms, whole /surface job "
          f"{s['rest_s'] * 1e3:.1f} ms, the {s['resolution']}^2 frame {s['frame_s'] * 1e3:.1f} ms "
          f"(frame / live surface {s['frame_s'] / s['live_s']:.1f}x)")
    print(f"  OBJ of the same surface: {s['obj_bytes']:,} bytes")
    for name, d in rows.items():
        if name == "14x6":
            continue
        if d["regions"] is None:
            print(f"{name} ({d['steps']} steps): the exact partition stopped after {d['exact_s']:.1f} s ({d['stopped']}; "
                  f"{d['fraction']:.0%} of the neurons done, {d['regions_so_far']:,} regions so far): past the live "
                  f"budget ({LIVE_BUDGET_S:g} s), so no live push (the page draws a sampled surface), and /surface "
                  f"answers 413")
            continue
        print(f"{name} ({d['steps']} steps): {d['regions']:,} regions, exact partition {d['exact_s']:.2f} s "
              f"(live budget {LIVE_BUDGET_S:g} s: {'pushed' if d['live_pushed'] else 'past it, live push skipped'}), "
              f"message {d['encode_s'] * 1e3:.0f} ms, {d['surface_bytes'] / 1e6:.2f} MB; /surface "
              f"{'answers within its limits' if d['rest_within'] else 'is refused (413)'}")

if __name__ == "__main__":
    main()
