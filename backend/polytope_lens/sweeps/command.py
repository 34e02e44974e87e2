"""``polytope-lens sweep``: its options and what it does (cli.py adds the subcommand).

Every run setting is an option taking one or more values (``--layers 14x6 20x40 --seed 0 1
2``); the grid is their product. ``--config FILE.toml`` gives the same settings from a file
(options win over the file). Exit codes: 0 every run done, 1 some run failed (sweep.json
says why), 2 bad input, 130 interrupted (finished runs are kept; a re-run resumes).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..core.settings import RunConfig, settings_table
from .plan import LENGTH_DEFAULTS, PlanError, build_plan, read_toml

EXIT_FAILED_RUNS, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
_TYPES = {"int": int, "float": float, "str": str}


def add_sweep_parser(subparsers, formatter_class) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="train a grid of runs (architectures x seeds x ...) locally or on Ray, into one folder",
        description="Train every combination of the given settings, each run as 'train' would, plus its "
        "weight history, into OUT/<run id>/, indexed by OUT/sweep.json. Re-running skips finished runs.",
        formatter_class=formatter_class,
    )
    p.add_argument("image", nargs="*", metavar="PICTURE", help="picture files or sample ids (each one an axis value)")
    p.add_argument("--config", type=Path, default=None, metavar="FILE.toml",
                   help="sweep file: run settings as values or lists, pictures, steps, frame_every, resolution")
    grid = p.add_argument_group("run settings (each takes one or more values: the grid is their product)")
    fields = set(RunConfig.model_fields)
    for row in settings_table():
        if row["name"] not in fields or row["name"] == "image":
            continue
        flag = "--" + row["name"].replace("_", "-")
        if row["type"] == "bool":
            grid.add_argument(flag, dest=row["name"], action="store_const", const=True, default=None,
                              help=row["description"] + " (all runs)")
            continue
        kw: dict = {"choices": row["choices"]} if row["type"] == "choice" else {"type": _TYPES[row["type"]]}
        flags = [flag, "--seeds"] if row["name"] == "seed" else [flag]  # --seeds reads better with a list
        grid.add_argument(*flags, dest=row["name"], nargs="+", default=None, metavar=row["name"].upper(),
                          help=f"{row['description']} (default: {row['default']})", **kw)
    length = p.add_argument_group("run length and recording (the same for every run)")
    length.add_argument("--steps", type=int, default=None, help=f"optimiser steps per run (default: {LENGTH_DEFAULTS['steps']})")
    length.add_argument("--frame-every", type=int, default=None, help=f"metrics and weights every this many steps (default: {LENGTH_DEFAULTS['frame_every']})")
    length.add_argument("--resolution", type=int, default=None, help=f"grid side of the region count (default: {LENGTH_DEFAULTS['resolution']})")
    length.add_argument("--frames", action="store_const", const=True, default=None, help="also write frame PNGs")
    length.add_argument("--movie", action="store_const", const=True, default=None, help="also write frames and movie.mp4")
    where = p.add_argument_group("where runs execute")
    where.add_argument("--out", type=Path, default=Path("runs/sweep"), help="sweep folder: OUT/sweep.json and OUT/<run id>/")
    where.add_argument("--engine", choices=["local", "ray"], default="local",
                       help="local: one process per run on this machine; ray: one Ray task per run")
    where.add_argument("--jobs", type=int, default=None, help="local engine: runs at once (default: all cores)")
    where.add_argument("--device", default="cpu", help="local engine: torch device of every run")
    where.add_argument("--address", default=None, help="ray engine: cluster address, e.g. ray://head:10001 or auto (default: a local Ray for this sweep)")
    where.add_argument("--cpus-per-run", type=float, default=1.0, help="ray engine: CPUs reserved per run")
    where.add_argument("--gpus-per-run", type=float, default=0.0, help="ray engine: GPUs per run (runs then train on cuda)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_sweep)


def _settings(args) -> dict:
    settings = read_toml(args.config) if args.config is not None else {}
    if args.image:
        settings["image"] = list(args.image)
    for name in RunConfig.model_fields:
        if name != "image" and getattr(args, name, None) is not None:
            settings[name] = getattr(args, name)
    for name in LENGTH_DEFAULTS:
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    return settings


def make_engine(args):
    from .engines import LocalEngine, RayEngine

    if args.engine == "ray":
        return RayEngine(args.address, args.cpus_per_run, args.gpus_per_run)
    return LocalEngine(args.jobs)


def cmd_sweep(args) -> int:
    from tqdm import tqdm

    from .driver import run_sweep

    prog = "polytope-lens sweep"
    try:
        plan = build_plan(_settings(args))
        engine = make_engine(args)
    except (PlanError, RuntimeError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    device = ("cuda" if args.gpus_per_run > 0 else "cpu") if args.engine == "ray" else args.device
    bar = None

    def on_start(to_run: int, skipped: int) -> None:
        nonlocal bar
        if not args.quiet:
            where = f"{engine.name}, {engine.jobs} at once" if args.engine == "local" else "ray"
            print(f"{len(plan.runs)} runs in {args.out}: {skipped} finished already, {to_run} to train ({where})")
        bar = tqdm(total=to_run, unit="run", disable=args.quiet, dynamic_ncols=True)

    failed: list[str] = []

    def on_result(run_id: str, result: dict) -> None:
        if result["status"] != "done":
            failed.append(run_id)
            bar.write(f"{run_id} failed: {result.get('error')}")
        bar.set_postfix(last=run_id, failed=len(failed))
        bar.update(1)

    try:
        outcome = run_sweep(plan, args.out, engine, device=device, on_start=on_start, on_result=on_result)
    except PlanError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; finished runs are kept, run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        print(f"{outcome.done} done, {outcome.failed} failed, {outcome.skipped} skipped; index: {args.out / 'sweep.json'}")
    return EXIT_FAILED_RUNS if outcome.failed else 0
