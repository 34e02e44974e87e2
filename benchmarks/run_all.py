"""Polytope Lens benchmarks: one command, one table of side-by-side ratios.

    .venv/bin/python benchmarks/run_all.py            # full run, a few minutes
    .venv/bin/python benchmarks/run_all.py --quick    # smoke run, about a minute

Rows (each measured in this one run, the two sides of a ratio close together in time):
  1. frame cost: the project's frame path vs the naive method (frames.py), per net and size
  2. training under load: steps/s with a live session streaming 512^2 frames vs a bare loop
  3. live delivery: frames/s received by a websocket client; time from start to first frame
     (and the classic experiment: 6000 steps of the default run, live view on vs bare)
  4. memory: peak RSS of the server with one and with four live sessions
  5. exact partition: every region as a polygon (exact_partition.py), trained 14x6 and 64x4 on the ring,
     against the naive 1024^2 grid count (which misses regions smaller than a pixel)
  6. the page draws (render "client": the server streams weights): training vs the bare loop, the
     classic run, updates/s and bytes per update, configure -> first update on a fresh server,
     four sessions against four bare loops at once
  7. the headless CLI: wall time of the README's command against its training time
  8. sweeps: runs per hour of a mini grid, local engine vs Ray-local, and Ray's cost per run (sweeps.py)
 10. networks from files: an ONNX file opened to its first panel, the plane view of a 64-input network (networks.py)
 11. the notebook widget: lens.update's cost per sent update and to a training loop, in a real kernel
     (notebook_update.py)
 12. every ready experiment live with the server drawing: updates/s against 2/s, training vs a bare loop
     (live_updates.py)
Progress goes to stderr; the table to stdout (--json FILE also writes every figure).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import exact_partition  # noqa: E402
import frames  # noqa: E402
import live  # noqa: E402
import live_updates  # noqa: E402
import networks  # noqa: E402
import notebook_update  # noqa: E402
import sweeps  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(rows: list[tuple]) -> str:
    head = ("#", "measurement", "project", "baseline", "ratio", "target", "met")
    cells = [head] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = []
    for k, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i in (1,) else c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def yes(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "NO")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (fewer nets, sizes and seconds)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, here and in the server (default 1, as `polytope-lens serve`)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    quick = args.quick
    started = time.perf_counter()
    results: dict = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} torch thread(s)",
        "quick": quick,
    }

    log("1. frame cost (project frame path vs naive)")
    nets = ["14x6"] if quick else frames.NETS
    sizes = [256, 512] if quick else frames.RESOLUTIONS
    results["frames"] = frames.run(nets, sizes, steps=100 if quick else 300, repeats=2 if quick else 3, log=log)

    log("2-3. training under load and live delivery (default run, 512^2)")
    results["default_run"] = live.default_run(
        pairs=1 if quick else 3, seconds=3.0 if quick else 5.0, bare_steps=1000 if quick else 2000, threads=args.threads, log=log
    )
    classic_steps = 1000 if quick else 6000
    log(f"3b. classic experiment ({classic_steps} steps, live view on vs bare)")
    results["classic"] = live.classic(classic_steps, threads=args.threads, log=log)

    log("4. server memory")
    results["memory"] = live.memory(threads=args.threads, seconds=3.0 if quick else 8.0, log=log)

    log("6. client rendering (the server streams weights)")
    results["client_run"] = live.default_run(
        pairs=1 if quick else 3, seconds=3.0 if quick else 5.0, bare_steps=1000 if quick else 2000, threads=args.threads,
        render="client", log=log,
    )
    results["client_classic"] = live.classic(classic_steps, threads=args.threads, render="client", log=log)
    results["first_update_s"] = live.first_update_after_start(render="client", threads=args.threads)
    log(f"  configure -> first update on a fresh server: {results['first_update_s'] * 1e3:.0f} ms")
    results["four"] = live.four_sessions(seconds=4.0 if quick else 8.0, bare_steps=1500 if quick else 3000,
                                         threads=args.threads, log=log)

    log("7. headless CLI (frames drawn alongside training)")
    results["cli"] = live.cli_run(steps=1000 if quick else 6000, threads=args.threads, log=log)

    log("8. sweeps: local engine vs Ray-local")
    try:
        results["sweeps"] = sweeps.run(steps=200 if quick else 600, log=log)
    except ModuleNotFoundError:
        log("  skipped: Ray is not installed (pip install 'polytope-lens[ray]')")
        results["sweeps"] = None

    log("9. live sessions elsewhere: the web server's own cost of relaying one (process vs Ray actor)")
    try:
        results["relay"] = live.relay_cost(seconds=3.0 if quick else 8.0, threads=args.threads, log=log)
    except ModuleNotFoundError:
        log("  skipped: Ray is not installed (pip install 'polytope-lens[ray]')")
        results["relay"] = None

    log("11. the notebook widget (lens.update in a real kernel)")
    try:
        results["notebook"] = notebook_update.run(calls=100 if quick else 300, blocks=1 if quick else 3,
                                                  seconds=1.0 if quick else 2.0, log=log)
    except ModuleNotFoundError:
        log("  skipped: the notebook packages are not installed (pip install 'polytope-lens[notebook]' nbclient ipykernel)")
        results["notebook"] = None

    log("12. every ready experiment live, the server drawing (updates/s, target 2/s)")
    ready = ["lazy", "post-14x6"] if quick else [p.id for p in live_updates.PRESETS]
    results["ready_live"] = live_updates.run(ready, seconds=3.0 if quick else 8.0, bare_seconds=2.0 if quick else 3.0, log=log)

    log("5. exact partition")
    cases = exact_partition.CASES[:1] if quick else exact_partition.CASES
    results["exact"] = exact_partition.run(cases, runs=3 if quick else 5, log=log)

    log("10. networks from files: open an ONNX file -> first panel; the plane view of a 64-input network")
    results["networks"] = networks.run(runs=3 if quick else 5, log=log)

    rows = []
    for f in results["frames"]:
        target = ">= 5x" if f["net"] == "14x6" and f["resolution"] in (512, 1024) else ""
        met = f["ratio"] >= 5 if target else None
        picture = "" if f["same_picture"] else " (PICTURE DIFFERS)"
        rows.append(
            ("1", f"frame {f['net']} {f['resolution']}^2, {f['regions']} regions{picture}", fmt_s(f["project_s"]),
             fmt_s(f["naive_s"]), f"{f['ratio']:.1f}x", target, yes(met))
        )
    d = results["default_run"]
    rows.append(("2", "training steps/s, live view at 512^2 vs bare loop", f"{d['live_steps_per_s']:.0f}",
                 f"{d['bare_steps_per_s']:.0f}", f"{d['ratio']:.2f}", ">= 0.50", yes(d["ratio"] >= 0.5)))
    rows.append(("3", "frames/s received at 512^2 (default run)", f"{d['fps']:.1f}", "", "", ">= 15", yes(d["fps"] >= 15)))
    rows.append(("3", "start -> first frame (median; worst)", f"{fmt_s(d['first_frame_s'])}; {fmt_s(d['first_frame_worst_s'])}",
                 "", "", "<= 0.5 s", yes(d["first_frame_worst_s"] <= 0.5)))
    rows.append(("3", "configure -> first frame (step 0)", fmt_s(d["configure_frame_s"]), "", "", "", ""))
    c = results["classic"]
    rows.append(("3", f"classic: {c['steps']} steps 14x6 ring, live view vs bare", fmt_s(c["live_s"]), fmt_s(c["bare_s"]),
                 f"{c['ratio']:.2f}x", "<= 2x", yes(c["ratio"] <= 2)))
    m = results["memory"]
    rows.append(("4", "server peak memory (PSS, its processes too), one live session", f"{m['one_peak_mib']:.0f} MiB", f"idle {m['idle_mib']:.0f} MiB",
                 "", "< 1024 MiB", yes(m["one_peak_mib"] < 1024)))
    rows.append(("4", f"each further session ({m['sessions']} sessions: peak {m['many_peak_mib']:.0f} MiB)",
                 f"+{m['per_extra_mib']:.0f} MiB", "", "", "< 250 MiB", yes(m["per_extra_mib"] < 250)))

    cr, cc, four, cli = results["client_run"], results["client_classic"], results["four"], results["cli"]
    rows.append(("6", "client draws: training steps/s vs bare loop", f"{cr['live_steps_per_s']:.0f}",
                 f"{cr['bare_steps_per_s']:.0f}", f"{cr['ratio']:.2f}", ">= 0.90", yes(cr["ratio"] >= 0.9)))
    rows.append(("6", f"client draws: classic {cc['steps']} steps, live vs bare", fmt_s(cc["live_s"]), fmt_s(cc["bare_s"]),
                 f"{cc['ratio']:.2f}x", "<= 1.15x", yes(cc["ratio"] <= 1.15)))
    trains_fast = cr["live_steps_per_s"] >= 30
    rows.append(("6", "client draws: updates/s received", f"{cr['fps']:.1f}", "", "", ">= 30" if trains_fast else "",
                 yes(cr["fps"] >= 30) if trains_fast else ""))
    rows.append(("6", "client draws: grid count and measured fields refreshed, times/s", f"{cr['measured_per_s']:.2f}", "", "",
                 ">= 2", yes(cr["measured_per_s"] >= 2)))
    params_bytes = 4 * 1107  # the default 14x6 net's parameters as float32
    rows.append(("6", "client draws: bytes per update (14x6, 1,107 parameters)", f"{cr['frame_bytes']:.0f}",
                 f"server draws: {d['frame_bytes']:.0f}", "", f"<= {params_bytes + 2048}", yes(cr["frame_bytes"] <= params_bytes + 2048)))
    rows.append(("6", "configure -> first update, first configure after start", fmt_s(results["first_update_s"]), "", "",
                 "<= 0.3 s", yes(results["first_update_s"] <= 0.3)))
    rows.append(("6", f"{four['sessions']} live sessions at once: summed steps/s vs {four['sessions']} bare loops at once",
                 f"{four['live_steps_per_s']:.0f}", f"{four['bare_steps_per_s']:.0f}", f"{four['ratio']:.2f}", ">= 0.80",
                 yes(four["ratio"] >= 0.8)))
    rows.append(("6", f"{four['sessions']} live sessions at once: grid count refreshed, times/s (slowest session)",
                 f"{min(four['measured_per_s']):.2f}", "", "", ">= 2", yes(min(four["measured_per_s"]) >= 2)))
    rows.append(("7", f"CLI: train ring {cli['steps']} steps, {cli['frames']} frames at 1024^2 + movie: wall vs training",
                 fmt_s(cli["wall_s"]), fmt_s(cli["training_s"]), f"{cli['ratio']:.2f}x", "<= 1.3x", yes(cli["ratio"] <= 1.3)))

    if results["sweeps"]:
        rows.extend(sweeps.rows(results["sweeps"], fmt_s))
    if results["relay"]:
        for engine, r in results["relay"].items():
            rows.append(("9", f"web server CPU relaying one client-drawn session ({engine}; {r['fps']:.0f} updates/s)",
                         f"{r['server_cpu'] * 100:.0f}% of a core", "", "", "", ""))

    if results["notebook"]:
        rows.extend(notebook_update.rows(results["notebook"]))

    for e in results["exact"]:
        trained = f"trained {e['trained_steps']} steps" if e["trained_steps"] else "at initialisation"
        rows.append(("5", f"exact partition {e['net']} ({trained}), {e['regions']:,} regions (grid {e['grid_regions']:,})",
                     fmt_s(e["exact_s"]), fmt_s(e["grid_s"]), f"{e['grid_s'] / e['exact_s']:.1f}x",
                     f"<= {fmt_s(e['target_s'])}", yes(e["exact_s"] <= e["target_s"])))
    rows.extend(networks.rows(results["networks"], fmt_s))
    rows.extend(live_updates.rows(results["ready_live"], fmt_s))

    print(f"Polytope Lens benchmarks, {results['date']}, {results['machine']}{' (--quick)' if quick else ''}")
    print(table(rows))
    print(f"(total {time.perf_counter() - started:.0f} s; baselines: row 1 naive full-grid frame (frames.py), row 5 naive 1024^2 grid count)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
