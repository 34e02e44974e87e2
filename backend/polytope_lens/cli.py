"""The ``polytope-lens`` console script: it parses the arguments into what the rooms take (server
settings, a trainer, a run folder and how to record it), calls the one function or method that
does the work, and reports at the terminal: a progress bar, Ctrl-C as a request to stop, one-line
errors, a short summary and the exit code.

Subcommands: ``serve`` (the web app: web/app.py), ``train`` (a headless run into its run folder:
output/runfolder.py), ``regions`` (a checkpoint's exact partition: geometry/export.py), ``sweep``
(a grid of runs: sweeps/command.py) and ``plot`` (a metric of several runs: output/churnplot.py).
Exit codes: 0 done, 2 bad input (options, picture, checkpoint, device),
3 training diverged, 130 interrupted by Ctrl-C (checkpoint saved).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import torch
from pydantic import ValidationError

from .core.allocator import keep_freed_buffers
from .core.presets import PRESETS_BY_ID, get_preset
from .core.samples import sample_path
from .core.settings import (
    TRAINING_FIELDS, RunConfig, SettingError, ViewSettings, describe_validation_error, settings_table,
)
from .core.clips import load_clip_or_picture
from .core.images import ImageError
from .output.churnplot import NoMetrics, chart_runs
from .output.runfolder import Recording, RunFolder, RunOutcome
from .geometry.export import export_regions
from .geometry.surface import OUTPUT_HELP
from .geometry.exact import PartitionTooLarge
from .core.training import Trainer, TrainingDiverged, trainer_from_checkpoint
from .sources.chain import MAX_NETWORK_FILE_BYTES
from .sweeps.command import add_sweep_parser

PROG = "polytope-lens"
FRAME_RESOLUTION = 1024  # headless frames default to the full picture size (the live view's default is 512)
EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130
DEFAULT_STEPS = 6000

# Every RunConfig field but the picture (a positional argument) is an option; a resumed run may
# change the training settings only (core.settings: the kinds are declared there, once).
CONFIG_OPTIONS = tuple(name for name in RunConfig.model_fields if name != "image")
RESUME_OVERRIDES = TRAINING_FIELDS
_ARG_TYPES = {"int": int, "float": float, "str": str}


class UsageError(Exception):
    """Bad input from the person at the terminal: printed as one line, exit code 2."""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except the meaningless None/False of optional values and flags."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value



def add_train_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train headless, writing frames, metrics, a checkpoint and optionally a movie",
        description="Train an MLP on a picture and record its linear regions frame by frame.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("image", nargs="?", metavar="IMAGE", help="picture file (PNG, JPEG, WebP, BMP, TIFF, GIF) or sample id such as ring; omit with --resume")

    # default=None marks "not given", so a resumed run keeps its checkpoint's values; the help shows the real default.
    groups = {
        "network": p.add_argument_group("network and data (a new network; fixed with --resume)"),
        "training": p.add_argument_group("training (may change with --resume)"),
    }
    for row in settings_table():
        if row["kind"] not in groups or row["name"] == "image":
            continue
        kw: dict = {"action": "store_true"} if row["type"] == "bool" else {"metavar": row["name"].upper()}
        if row["type"] == "choice":
            kw = {"choices": row["choices"]}
        elif row["type"] in _ARG_TYPES:
            kw["type"] = _ARG_TYPES[row["type"]]
        default = " (default: on)" if row["default"] is True else "" if row["default"] is False else f" (default: {row['default']})"
        groups[row["kind"]].add_argument("--" + row["name"].replace("_", "-"), dest=row["name"], default=None,
                                         help=row["description"] + default, **kw)
    view = p.add_argument_group("frames")
    view.add_argument("--resolution", type=_positive_int, default=None, help=f"side of the frame grid on which regions are found (default: {FRAME_RESOLUTION}; resuming: the run's)")
    view.add_argument("--fill-regions", action="store_true", help="fill regions with their pattern colours in the first panel")
    view.add_argument("--no-boundaries", action="store_true", help="do not draw region boundaries")
    view.add_argument("--t", type=float, default=None, help="a clip's moment the frames show, -1 (first frame) to 1 (last) (default: 0); the learnt clip over all t is written at the end")

    run = p.add_argument_group("run length and output")
    run.add_argument("--preset", default=None, metavar="ID", help=f"start from a ready experiment (its settings and steps; options given win): {', '.join(PRESETS_BY_ID)}")
    run.add_argument("--steps", type=_non_negative_int, default=None, help=f"optimiser steps (with --resume: additional steps; with --preset: the preset's unless given) (default: {DEFAULT_STEPS})")
    run.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N", help="also keep checkpoints/checkpoint_STEP.pt at every multiple of N steps (polytope-lens regions reads any of them)")
    run.add_argument("--frame-every", type=_positive_int, default=100, help="record a frame at every multiple of this step")
    run.add_argument("--out", type=Path, default=None, help="output folder (default: runs/<image stem>; with --resume the checkpoint's folder)")
    run.add_argument("--movie", action="store_true", help="also write movie.mp4 from all frames (movie.gif if no MP4 encoder)")
    run.add_argument("--fps", type=_positive_float, default=10.0, help="frames per second of the movie")
    run.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: cuda if available, else cpu)")
    run.add_argument("--resume", type=Path, default=None, metavar="CHECKPOINT", help="continue the run saved in this checkpoint.pt")
    run.add_argument("--threads", type=_positive_int, default=1, help="torch CPU threads for training (frames are drawn on another thread meanwhile; more helps only big nets on an idle machine)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_network_file_options(p, activation=False, plane=False)
    p.set_defaults(func=cmd_train)


def add_regions_parser(subparsers) -> None:
    """The ``regions`` subcommand of the console script (added by cli.build_parser)."""
    p = subparsers.add_parser(
        "regions",
        help="export the exact linear regions of a saved network as JSON or SVG, or its surface as OBJ or PLY",
        description="Compute the exact partition of the [-1, 1]^2 input square into linear regions "
        "for a checkpoint written by 'polytope-lens train' or a model file (ONNX, a PyTorch state dict, "
        "safetensors), and write it as JSON (polygons, activation patterns, affine maps) or SVG "
        "(regions coloured by pattern), or the network's output over it as an exact 3-D surface, one "
        "flat facet per region (OBJ or PLY). A network of more than 2 inputs is cut by a plane (--plane).",
    )
    p.add_argument("checkpoint", type=Path, metavar="FILE", help="checkpoint.pt written by 'polytope-lens train', "
                   "or a model file: .onnx, .pt/.pth (a state dict), .safetensors")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="output file: FILE.json, FILE.svg, or the "
                   "surface as FILE.obj (one group per region, float64 vertices) or FILE.ply")
    p.add_argument("--layers", type=int, default=None, metavar="K", help="only the partition of the first K hidden layers (default: all)")
    p.add_argument("--size", type=int, default=1024, help="SVG side in pixels (default: 1024)")
    p.add_argument("--time-limit", type=float, default=None, metavar="S", help="give up after S seconds (default: no limit)")
    p.add_argument("--t", type=float, default=None, help="a clip's network: the moment to export, -1..1 (default: 0)")
    p.add_argument("--output", default=None, metavar="CHOICE", help=f"the surface's height (.obj, .ply): {OUTPUT_HELP} "
                   "(default: luminance for colour, winner for a classifier, else channel:0)")
    add_network_file_options(p)
    p.set_defaults(func=cmd_regions)


def add_network_file_options(p, activation: bool = True, plane: bool = True) -> None:
    """Options of a model file: its plane (D inputs) and, for state dicts, its activations."""
    g = p.add_argument_group("a model file (ONNX, state dict, safetensors)")
    if not plane:
        p.set_defaults(plane=None, rows=(0, 1, 2))
        g.add_argument("--network", type=Path, default=None, metavar="FILE",
                       help="continue training this model file's network (.onnx, .pt/.pth state dict, .safetensors; "
                            "2 inputs, outputs that fit the picture: 1 gray, 3 colour (--color), k classes); "
                            "a state dict's activation is --activation and --negative-slope")
    else:
        _plane_options(g)
    if activation:  # train has its own --activation and --negative-slope (the network settings)
        g.add_argument("--activation", choices=("relu", "leaky_relu"), default=None,
                       help="a state dict's or safetensors file's hidden activation (an ONNX file carries its own)")
        g.add_argument("--negative-slope", default=None, metavar="S[,S...]",
                       help="its leaky slope: one, or one per hidden layer (e.g. 0,0.1,0)")
    g.add_argument("--network-task", dest="network_task", choices=("regress", "classify"), default=None,
                   help="what the model file's outputs are (default: classify after a final softmax or for other "
                        "than 1 or 3 outputs, else regress)")


def _plane_options(g) -> None:
    g.add_argument("--plane", type=Path, default=None, metavar="POINTS",
                   help="a network of D > 2 inputs: the plane through three rows of this .npy or .csv file (N x D); "
                        "without it, the plane of the first two inputs (the others 0)")
    g.add_argument("--rows", type=_non_negative_int, nargs=3, default=(0, 1, 2), metavar=("I", "J", "K"),
                   help="the three rows of the points file (default: 0 1 2)")


def _slopes_option(text) -> float | list[float] | None:
    if text is None or isinstance(text, float):
        return text
    try:
        values = [float(v) for v in str(text).replace(",", " ").split()]
    except ValueError:
        raise UsageError(f"--negative-slope: '{text}' is not a number or a comma-separated list of numbers") from None
    if not values:
        raise UsageError("--negative-slope: give one number or one per hidden layer")
    return values[0] if len(values) == 1 else values


def _open_model_file(path: Path, args, activation=None, negative_slope=None):
    """The model file at ``path``, ready to show (sources.OpenedNetwork): a D-input one on its plane."""
    from .sources import NetworkRefused, open_network, open_view, read_points

    try:
        network = open_network(path, activation=activation, negative_slope=_slopes_option(negative_slope),
                               task=args.network_task)
        points = read_points(args.plane) if args.plane is not None else None
        if points is not None and network.in_dim == 2:
            raise NetworkRefused(f"--plane: {path.name} takes 2 inputs and is shown as it is; a plane is for "
                                 "networks of more inputs", "plane")
        return open_view(network, path.name, points, tuple(args.rows))
    except NetworkRefused as exc:
        raise UsageError(f"{path}: {exc}") from None


def _is_checkpoint(path: Path) -> bool:
    """A checkpoint written by 'polytope-lens train' (read with weights_only, as every .pt file is)."""
    from .core.training import read_checkpoint
    from .sources import file_format

    with path.open("rb") as f:
        head = f.read(16)
    if file_format(head, path.name) != "state_dict":
        return False
    try:
        read_checkpoint(path)
    except ValueError:
        return False
    return True


def cmd_regions(args) -> int:
    if not args.checkpoint.is_file():
        print(f"polytope-lens regions: error: no such checkpoint or model file: {args.checkpoint}", file=sys.stderr)
        return 2
    if not _is_checkpoint(args.checkpoint):
        return _model_file_regions(args)
    if args.plane is not None or args.activation is not None or args.negative_slope is not None:
        print(f"polytope-lens regions: error: {args.checkpoint} is a checkpoint: --plane, --activation and "
              "--negative-slope are for model files", file=sys.stderr)
        return 2
    try:
        summary = export_regions(args.checkpoint, args.out, args.layers, size=args.size, time_limit_s=args.time_limit,
                                 t=args.t, output=args.output)
    except (ValueError, PartitionTooLarge) as exc:
        message = str(exc)
        if message.startswith("not a Polytope Lens checkpoint"):
            message = f"{args.checkpoint}: {message.split(' (')[0]}"  # drop torch's unpickling story
        print(f"polytope-lens regions: error: {message}", file=sys.stderr)
        return 2
    if "facets" in summary:  # a surface
        print(f"wrote {summary['path']}: the surface of {summary['output']}, {summary['facets']:,} facets over "
              f"{summary['regions']:,} linear regions (step {summary['step']}, "
              + (f"t = {summary['t']:g}, " if summary.get("t") is not None else "") + f"{summary['seconds']:.2f} s)")
        return 0
    print(f"wrote {summary['path']}: {summary['regions']:,} regions "
          f"(first {summary['layers']} of {summary['hidden_layers']} hidden layers, step {summary['step']}, "
          + (f"t = {summary['t']:g}, " if summary.get("t") is not None else "") +
          f"{summary['seconds']:.2f} s)")
    if "boundary_length" in summary:
        print(f"decision boundary: length {summary['boundary_length']:.4f}, crossing {summary['boundary_regions']:,} regions")
    return 0


def _model_file_regions(args) -> int:
    """``regions FILE`` for a model file: its network (on its plane) as JSON or SVG, the plane's map
    ("plane": origin, u, v: input = origin + x·u + y·v) and its three points in the JSON."""
    from .geometry.export import write_regions

    try:
        opened = _open_model_file(args.checkpoint, args, args.activation, args.negative_slope)
        shown = opened.shown
        extra, classes = opened.regions_fields(args.checkpoint.name)
        result = write_regions(shown, args.out, args.layers, extra=extra, classes=classes, marks=opened.marks,
                               size=args.size, time_limit_s=args.time_limit, output=args.output,
                               description=args.checkpoint.name)
    except UsageError as exc:
        print(f"polytope-lens regions: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, PartitionTooLarge) as exc:
        print(f"polytope-lens regions: error: {exc}", file=sys.stderr)
        return 2
    where = "" if opened.plane is None else (
        f" on the plane through rows {' '.join(map(str, opened.rows))} of {args.plane.name}" if opened.rows
        else " on the plane of its first two inputs")
    if "facets" in result:  # a surface
        print(f"wrote {result['path']}: the surface of {result['output']} of {args.checkpoint.name}{where}, "
              f"{result['facets']:,} facets over {result['regions']:,} linear regions ({result['seconds']:.2f} s)")
        return 0
    print(f"wrote {result['path']}: {result['regions']:,} regions of {args.checkpoint.name}{where} "
          f"(first {result['layers']} of {result['hidden_layers']} hidden layers, {result['seconds']:.2f} s)")
    if "boundary_length" in result:
        print(f"decision boundary: length {result['boundary_length']:.4f}, crossing {result['boundary_regions']:,} regions")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Watch a ReLU network learn a picture through its linear regions.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_serve_parser(subparsers)
    add_train_parser(subparsers)
    add_regions_parser(subparsers)
    add_sweep_parser(subparsers, _HelpFormatter)
    add_plot_parser(subparsers)
    return parser


def add_plot_parser(subparsers) -> None:
    p = subparsers.add_parser("plot", help="chart a metrics.jsonl field over training for one or more runs (PNG)",
                              description="Draw one line per run folder of a metrics.jsonl field, e.g. pattern_churn.")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders written by 'polytope-lens train'")
    p.add_argument("--field", default="pattern_churn", help="metrics.jsonl field to plot (default: pattern_churn)")
    p.add_argument("--label", action="append", default=[], help="label of each run, in order (default: folder names)")
    p.add_argument("--title", default=None, help="chart title")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.png", help="output picture")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    try:
        chart = chart_runs(args.runs, args.field, args.label, args.title)
    except NoMetrics as exc:
        raise UsageError(str(exc)) from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    chart.save(args.out)
    print(f"wrote {args.out}")
    return 0


# -- train --------------------------------------------------------------------


def _resolve_image(name: str) -> str:
    """A path as given, or a sample id (``ring``) when no such file exists but the sample does."""
    sample = None if Path(name).exists() else sample_path(name)
    return str(sample) if sample else name


def _check_device(name: str | None) -> None:
    if name is None:
        return
    try:
        torch.zeros(1, device=torch.device(name))
    except Exception as exc:  # torch raises RuntimeError, AssertionError, ... for unusable devices
        raise UsageError(f"cannot use device '{name}': {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _make_trainer(args) -> Trainer:
    given = {k: getattr(args, k) for k in CONFIG_OPTIONS if getattr(args, k) is not None}
    _check_device(args.device)
    try:
        if args.resume is not None:
            if args.image is not None:
                raise UsageError("give either IMAGE or --resume, not both (the checkpoint holds its picture)")
            if args.preset is not None:
                raise UsageError("give either --preset or --resume, not both (the checkpoint holds its settings)")
            fixed = sorted(set(given) - set(RESUME_OVERRIDES))
            if fixed:
                flags = ", ".join("--" + k.replace("_", "-") for k in fixed)
                allowed = ", ".join("--" + k.replace("_", "-") for k in RESUME_OVERRIDES)
                raise UsageError(f"{flags} cannot change when resuming (they define the network); only {allowed} can")
            if not args.resume.is_file():
                raise UsageError(f"no such checkpoint: {args.resume}")
            if args.network is not None:
                raise UsageError("give either --network or --resume, not both (the checkpoint holds its network)")
            try:
                return trainer_from_checkpoint(args.resume, overrides=given, device=args.device)
            except ValidationError:
                raise
            except ValueError as exc:  # read_checkpoint: its "(...)" part is torch's multi-line unpickling story
                raise UsageError(f"{args.resume}: {str(exc).split(' (')[0]}") from None
        if args.network is not None and args.resume is None:
            return _trainer_from_model_file(args, given)
        preset = _preset_settings(args)
        if args.image is None and "image" not in preset:
            raise UsageError("IMAGE is required (or --resume CHECKPOINT, or --preset ID)")
        if args.image is not None:
            preset["image"] = args.image
        config = RunConfig(**{**preset, **given})
        args.image = config.image
        path = _resolve_image(args.image)
        if not Path(path).is_file():
            raise UsageError(f"no such picture file or sample id: {args.image}")
        target = load_clip_or_picture(path, color=config.target_color)  # a clip: the network takes (x, y, t)
        return Trainer(config, target, device=args.device)
    except ValidationError as exc:  # also a ValueError: keep this clause first
        raise UsageError(describe_validation_error(exc)) from None
    except ImageError as exc:
        raise UsageError(f"{args.image}: {exc}") from None
    except SettingError as exc:  # e.g. --task classify: too few classes, or a clip
        raise UsageError(f"{args.image if exc.field == 'image' else '--' + exc.field.replace('_', '-')}: {exc}") from None


def _trainer_from_model_file(args, given: dict) -> Trainer:
    """``train IMAGE --network FILE``: the file's network trained on from its weights on the picture."""
    from .core.training import network_config, trainer_for_network

    if not args.network.is_file():
        raise UsageError(f"--network: no such model file: {args.network}")
    preset = _preset_settings(args)
    if args.image is None and "image" not in preset:
        raise UsageError("IMAGE is required: the picture the network trains on")
    if args.image is not None:
        preset["image"] = args.image
    args.image = preset["image"]
    opened = _open_model_file(args.network, args, given.get("activation"), given.get("negative_slope"))
    if opened.cannot_train:
        raise UsageError(f"--network: {args.network.name} cannot train on a picture: {opened.cannot_train}")
    config = network_config(RunConfig(**{**preset, **given}), opened.shown)
    path = _resolve_image(args.image)
    if not Path(path).is_file():
        raise UsageError(f"no such picture file or sample id: {args.image}")
    target = load_clip_or_picture(path, color=config.target_color)
    trainer = trainer_for_network(config, target, opened.shown, device=args.device, cannot_train=opened.cannot_train)
    if trainer.untrainable:
        raise UsageError(f"--network: {args.network.name} cannot train on {args.image}: {trainer.untrainable}")
    return trainer


def _preset_settings(args) -> dict:
    """The chosen preset's settings (a copy), or none; sets the run's steps from it when not given."""
    if args.preset is None:
        if args.steps is None:
            args.steps = DEFAULT_STEPS
        return {}
    try:
        preset = get_preset(args.preset)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if args.steps is None:
        args.steps = preset.steps
    for name, value in preset.view.items():  # the view it suggests, unless the options say otherwise
        if name == "fill_regions" and value:
            args.fill_regions = True
    return dict(preset.settings)


class _StopOnCtrlC:
    """The first Ctrl-C asks the loop to stop between step chunks (so the checkpoint is consistent);
    a second one interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread (e.g. called from a test runner thread): no handler
            self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def cmd_train(args) -> int:
    from tqdm import tqdm

    torch.set_num_threads(args.threads)
    trainer = _make_trainer(args)
    if args.steps is None:  # resumed: no preset
        args.steps = DEFAULT_STEPS
    if args.out is not None:
        folder = RunFolder(args.out)
    else:  # resuming: the checkpoint's own folder, so the run continues there
        folder = RunFolder.of_checkpoint(args.resume) if args.resume else RunFolder(Path("runs") / Path(args.image).stem)
    recording = Recording(args.steps, args.frame_every, _frame_view(args), movie=args.movie, fps=args.fps,
                          checkpoint_every=args.checkpoint_every,
                          drawer="process")  # frames are drawn beside training, not in turn with it

    with _StopOnCtrlC() as stop, tqdm(total=args.steps, unit="step", disable=args.quiet, dynamic_ncols=True) as bar:

        def on_progress(n: int, record: dict | None) -> None:
            bar.update(n)
            if record is not None:
                bar.set_postfix(train=f"{record['train_loss']:.5f}", val=f"{record['val_loss']:.5f}", regions=record["regions"])

        outcome = folder.record(trainer, recording, resumed_from=args.resume, on_progress=on_progress,
                                should_stop=lambda: stop.requested)

    if outcome.diverged:
        print(f"{PROG}: {outcome.diverged}", file=sys.stderr)
    elif not outcome.finished:
        print(f"{PROG}: interrupted at step {trainer.step_count}; checkpoint saved", file=sys.stderr)
    if not args.quiet and outcome.last:
        _print_summary(folder, outcome)
    if outcome.diverged:
        return EXIT_DIVERGED
    return 0 if outcome.finished else EXIT_INTERRUPTED


def _print_summary(folder: RunFolder, outcome: RunOutcome) -> None:
    last = outcome.last
    if last.get("val_accuracy") is not None:  # a classifier: cross-entropy, accuracy, its decision boundary
        boundary = (f", decision boundary {last['boundary_length']:.3f} long across {last['boundary_regions']} regions"
                    if last.get("boundary_length") is not None else "")
        losses = (f"train CE {last['train_loss']:.5f} (accuracy {last['train_accuracy']:.3f}), "
                  f"val CE {last['val_loss']:.5f} (accuracy {last['val_accuracy']:.3f}){boundary}")
    else:
        losses = f"train MSE {last['train_loss']:.5f}, val MSE {last['val_loss']:.5f}"
    print(f"step {last['step']}: {losses}, {last['regions']} regions, {last['elapsed_s']:.1f} s training")
    clip_files = outcome.written[-2:] if outcome.clip is not None else []  # the clip movie and its counts, last
    files = ", ".join(outcome.written[: len(outcome.written) - len(clip_files)])
    if clip_files:
        low, high = outcome.clip_regions
        files += f", {' and '.join(clip_files)} ({low}-{high} exact regions over t)"
    print(f"wrote {folder.path}/: {files}")


def _frame_view(args) -> ViewSettings:
    """How frames are drawn: the options given, else (resuming) the run's own view, else the defaults."""
    given = {"resolution": args.resolution, "fill_regions": args.fill_regions or None,
             "boundaries": False if args.no_boundaries else None, "t": args.t}
    saved = RunFolder.of_checkpoint(args.resume).saved_view() if args.resume is not None else None
    base = saved if saved is not None else {"resolution": FRAME_RESOLUTION}
    try:
        return ViewSettings(**{**base, **{k: v for k, v in given.items() if v is not None}})
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc)) from None


# -- serve ----------------------------------------------------------------------


def add_serve_parser(subparsers) -> None:
    from .web.sessions.engine import Engine, engine_help  # light: the enum alone, no web server

    p = subparsers.add_parser(
        "serve",
        help="start the web app",
        description="Start the Polytope Lens web app. It binds to 127.0.0.1 (this machine only) unless "
        "--host says otherwise: --host 0.0.0.0 exposes it to the network. It answers only requests "
        "addressed to 127.0.0.1, localhost, ::1 or the --host name (add others with --allow-host; "
        "with --host 0.0.0.0 that still means only the loopback names until you add the names or "
        "addresses people use to reach it).",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=_positive_int, default=8000, help="port to listen on")
    p.add_argument("--max-sessions", type=_positive_int, default=4, help="training sessions at once; more get a 'busy' answer")
    p.add_argument("--max-upload-mb", type=_positive_float, default=20.0, help="largest picture upload, in MiB")
    p.add_argument("--max-network-mb", type=_positive_float, default=MAX_NETWORK_FILE_BYTES / 2**20, help="largest model file for 'Open a network…' (and, apart, its points file), in MiB")
    p.add_argument("--max-uploads", type=_positive_int, default=200, help="uploaded pictures kept; the oldest are evicted")
    p.add_argument("--data-dir", type=Path, default=None, help="folder that keeps uploaded pictures across restarts (default: a temporary folder)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN", help="another browser origin allowed to open the websocket and upload pictures, e.g. https://example.org (repeatable; * allows any)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME", help="another host name or address the server answers to (the Host header), e.g. lens.example.org or 192.168.1.20 (repeatable; * answers any: DNS rebinding then reaches it)")
    p.add_argument("--send-timeout", type=_positive_float, default=10.0, help="seconds a client may take to accept a message before it is dropped")
    p.add_argument("--resume-grace", type=_positive_float, default=60.0,
                   help="seconds a session whose connection dropped goes on, waiting for its page to reconnect")
    p.add_argument("--live-memory-mb", type=_non_negative_int, default=2048, help="memory all live sessions together may take, in MiB (estimated per configure; 0: no limit)")

    conn = p.add_argument_group("connections")
    conn.add_argument("--max-connections", type=_positive_int, default=256, help="open connections (HTTP and websocket) before new requests get 503")
    conn.add_argument("--max-connections-per-client", type=_positive_int, default=32, help="open connections from one client address; more are refused at once")
    conn.add_argument("--header-timeout", type=_positive_float, default=10.0, help="seconds a client has to send a request's line and headers")
    conn.add_argument("--body-timeout", type=_positive_float, default=15.0, help="longest pause (seconds) while a request body is sent before the connection is closed")
    conn.add_argument("--keep-alive-timeout", type=_positive_float, default=5.0, help="seconds an idle keep-alive connection stays open")

    heavy = p.add_argument_group("exact geometry (regions, counts, neuron lines)")
    heavy.add_argument("--geometry-workers", type=_positive_int, default=2, help="worker processes for heavy exact geometry")
    heavy.add_argument("--geometry-queue", type=_non_negative_int, default=8, help="requests that may wait for a worker; more get 503 with Retry-After")
    heavy.add_argument("--geometry-wait", type=_positive_float, default=10.0, help="longest wait (seconds) for a worker before 503 with Retry-After")
    p.add_argument("--device", default=None, help="torch device for training (default: cuda if available, else cpu)")
    p.add_argument("--threads", type=_positive_int, default=1, help="torch CPU threads of each live session (small nets train fastest on one each)")
    engine = p.add_argument_group("where live sessions train")
    engine.add_argument("--engine", choices=[e.value for e in Engine], default=Engine.PROCESS.value, help=engine_help())
    engine.add_argument("--address", default=None, metavar="HOST:PORT", help="with --engine ray: the Ray cluster to use (default: start a local Ray)")
    engine.add_argument("--cpus-per-session", type=_positive_float, default=1.0, help="with --engine ray: CPUs each session's actor asks of the cluster")
    p.add_argument("--runs", type=Path, default=None, metavar="DIR", help="a sweep folder (polytope-lens sweep --out) to browse and compare at /compare")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"], help="server log level")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from .web.app import serve
    from .web.config import Settings
    from .web.sessions.engine import Engine
    from .web.store import StoreLimits

    _check_device(args.device)
    torch.set_num_threads(args.threads)
    engine = Engine(args.engine)
    settings = Settings(
        host=args.host,
        port=args.port,
        max_sessions=args.max_sessions,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_network_bytes=int(args.max_network_mb * 1024 * 1024),
        data_dir=args.data_dir,
        store_limits=StoreLimits(max_uploads=args.max_uploads),
        device=args.device,
        send_timeout_s=args.send_timeout,
        resume_grace_s=args.resume_grace,
        allowed_origins=tuple(args.allow_origin),
        allowed_hosts=tuple(args.allow_host),
        live_memory_bytes=args.live_memory_mb * 1024 * 1024 or None,
        max_connections=args.max_connections,
        max_connections_per_client=args.max_connections_per_client,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        keep_alive_timeout_s=args.keep_alive_timeout,
        geometry_workers=args.geometry_workers,
        geometry_queue=args.geometry_queue,
        geometry_wait_s=args.geometry_wait,
        runs_dir=args.runs,
        session_engine=engine,
        ray_address=args.address,
        cpus_per_session=args.cpus_per_session,
    )
    if args.address is not None and engine is not Engine.RAY:
        raise UsageError("--address is for --engine ray")
    if engine is Engine.RAY:
        try:
            import ray  # noqa: F401
        except ModuleNotFoundError:
            from .sweeps.engines import RAY_MISSING

            raise UsageError(RAY_MISSING) from None
    if args.runs is not None and not args.runs.is_dir():
        raise UsageError(f"--runs: no such folder: {args.runs}")
    shown = "127.0.0.1" if args.host in ("127.0.0.1", "0.0.0.0") else args.host  # the README's address
    print(f"{PROG}: open http://{shown}:{args.port}/ in a browser (Ctrl-C stops the server)", flush=True)
    if args.runs is not None:
        print(f"{PROG}: the runs of {args.runs} side by side: http://{shown}:{args.port}/compare", flush=True)
    serve(settings, log_level=args.log_level)
    return 0


# -- entry point ----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or an argparse error: return its code so main() is testable
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    keep_freed_buffers()  # training and serving: a wide layer's step reuses its activations' pages
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
