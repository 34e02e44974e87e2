"""Live updates of every ready experiment through a real server: how often the page gets one (issue 28, item 7).

The target: every ready experiment (core/presets.py) keeps the page live, at least two updates a
second while it trains, with the server drawing (view.render "server": what headless Chromium's
software WebGL gets, frontend/drawing/rendermode.js) at the page's resolution of 512, without
training much slower than a bare loop (drawing keeps to ~36% of the time: TRAIN_PER_DRAW in
web/sessions/local.py). For each preset this starts one session on one real server (a process of
its own, as `polytope-lens serve` runs it), configures the preset, presses start, and over
``seconds`` after a short warm-up counts the updates received, the distinct measured steps
(``measured_step``: losses, counts and geometry, measured beside the drawing every 0.45 s) and
the steps trained; the bare loop (the same preset's trainer in this process, one torch thread) is
timed just before. The load average is printed with every row: the figures are the 2-core VM's
under whatever else runs on it.

    PYTHONPATH=backend python benchmarks/live_updates.py [--presets lazy,post-deep] [--seconds 8] [--render server]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from polytope_lens.core.clips import load_clip_or_picture  # noqa: E402
from polytope_lens.core.presets import PRESETS, PRESETS_BY_ID  # noqa: E402
from polytope_lens.core.samples import sample_path  # noqa: E402
from polytope_lens.core.training import Trainer  # noqa: E402

TARGET_UPDATES_PER_S = 2.0
RESOLUTION = 512  # the page's default view


def load() -> float:
    return os.getloadavg()[0]


def bare_steps_per_s(preset_id: str, seconds: float) -> float:
    """The preset's trainer alone in this process: steps per second of a plain loop."""
    config = PRESETS_BY_ID[preset_id].config
    trainer = Trainer(config, load_clip_or_picture(sample_path(config.image), color=config.target_color))
    trainer.step(3)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        trainer.step(1)
        steps += 1
    return steps / (time.perf_counter() - t0)


def live_updates(url, preset_id: str, seconds: float, warmup: float, render: str) -> dict:
    """One session of the preset on the server at ``url``: start, then updates counted over ``seconds``."""
    from live_server import LiveClient

    preset = PRESETS_BY_ID[preset_id]
    with LiveClient(url) as client:
        client.send("view", render=render, resolution=RESOLUTION, **preset.view)
        client.configure(**preset.config.model_dump(mode="json"))
        client.send("start")
        started = time.monotonic()
        first = None
        got: list[tuple[float, dict]] = []
        while (now := time.monotonic()) - started < warmup + seconds:
            try:
                message = client.recv(timeout=max(0.05, warmup + seconds - (now - started)))
            except TimeoutError:
                break
            if message.get("type") != "frame" or message["step"] == 0:
                continue
            at = time.monotonic() - started
            first = at if first is None else first
            if at >= warmup:
                got.append((at, message))
        client.send("pause")
    if len(got) < 2:
        return {"updates_per_s": len(got) / seconds, "steps_per_s": 0.0, "measured_per_s": 0.0,
                "first_update_s": first, "resolution": None, "longest_gap_s": seconds}
    (t0, f0), (t1, f1) = got[0], got[-1]
    span = t1 - t0
    gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
    return {
        "updates_per_s": (len(got) - 1) / span,
        "steps_per_s": (f1["step"] - f0["step"]) / span,
        "measured_per_s": (len({f.get("measured_step") for _, f in got}) - 1) / span,
        "first_update_s": first,
        "resolution": statistics.mode(f.get("resolution") for _, f in got),
        "longest_gap_s": max(gaps),
        "median_gap_s": statistics.median(gaps),
    }


def run(presets: list[str], seconds: float = 8.0, warmup: float = 2.0, bare_seconds: float = 3.0,
        render: str = "server", log=print) -> list[dict]:
    from live_server import running_server

    results = []
    with running_server() as url:
        for preset_id in presets:
            before = load()
            bare = bare_steps_per_s(preset_id, bare_seconds)
            live = live_updates(url, preset_id, seconds, warmup, render)
            row = {"preset": preset_id, "render": render, "bare_steps_per_s": bare,
                   "load_before": before, "load_after": load(), **live}
            log(f"  {preset_id}: {row['updates_per_s']:.2f} updates/s at {row['resolution']}^2, "
                f"{row['steps_per_s']:.0f} steps/s (bare {bare:.0f}), load {before:.1f}-{row['load_after']:.1f}")
            results.append(row)
    return results


def rows(results: list[dict], fmt_s) -> list[tuple]:
    """run_all.py's rows: updates/s per ready experiment, server drawing, against the target."""
    out = []
    for r in results:
        kept = r["steps_per_s"] / r["bare_steps_per_s"] if r["bare_steps_per_s"] else 0.0
        out.append(("12", f"server draws {r['preset']} (live grid {r['resolution']}^2): updates/s; training vs bare",
                    f"{r['updates_per_s']:.2f}/s", f"{kept:.2f} of bare", "", f">= {TARGET_UPDATES_PER_S:g}/s",
                    "yes" if r["updates_per_s"] >= TARGET_UPDATES_PER_S else "no"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default=",".join(p.id for p in PRESETS))
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds counted per preset, after the warm-up")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after start not counted")
    parser.add_argument("--render", default="server", choices=["server", "client"])
    args = parser.parse_args()
    torch.set_num_threads(1)  # as `polytope-lens serve` runs a session
    print(f"load average before: {load():.2f} ({os.cpu_count()} cores)", flush=True)
    results = run(args.presets.split(","), args.seconds, args.warmup, render=args.render,
                  log=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"{'preset':<18}{'R':>5}{'updates/s':>11}{'met':>5}{'median gap s':>14}{'longest gap s':>15}"
          f"{'first s':>9}{'measured/s':>12}{'steps/s':>9}{'bare':>7}{'kept':>6}{'load':>11}")
    for r in results:
        kept = r["steps_per_s"] / r["bare_steps_per_s"] if r["bare_steps_per_s"] else 0.0
        met = "yes" if r["updates_per_s"] >= TARGET_UPDATES_PER_S else "no"
        first = f"{r['first_update_s']:.2f}" if r["first_update_s"] is not None else "-"
        print(f"{r['preset']:<18}{str(r['resolution']):>5}{r['updates_per_s']:>11.2f}{met:>5}"
              f"{r.get('median_gap_s', float('nan')):>14.2f}{r['longest_gap_s']:>15.2f}{first:>9}"
              f"{r['measured_per_s']:>12.2f}{r['steps_per_s']:>9.0f}{r['bare_steps_per_s']:>7.0f}{kept:>6.2f}"
              f"{r['load_before']:>5.1f}-{r['load_after']:<5.1f}", flush=True)
    print(f"load average after: {load():.2f}; target >= {TARGET_UPDATES_PER_S:g} updates/s with render {args.render}")


if __name__ == "__main__":
    main()
