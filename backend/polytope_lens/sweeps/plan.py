"""A sweep's plan: the grid of run settings (from options or a TOML file), expanded into runs.

Every ``RunConfig`` field may be a list of values (an axis of the grid) or one value; the
grid is their product, in the order the fields are declared (pictures first, then layers,
seed, ...). Run-length fields (``steps``, ``frame_every``, ``resolution``, ``frames``,
``movie``) are the same for every run. A run's id is readable and stable: the architecture,
the seed and every other axis with more than one value, e.g. ``10x10-2-10x3_seed1_lr0.003``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ..core.settings import RunConfig, describe_validation_error

RUN_FIELDS = tuple(RunConfig.model_fields)  # the grid's possible axes, in declaration order
LENGTH_DEFAULTS = {"steps": 6000, "frame_every": 100, "resolution": 256, "frames": False, "movie": False}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PlanError(ValueError):
    """A plan that cannot run: the message names the field (and the run) at fault."""


@dataclass(frozen=True)
class RunLength:
    """How long each run trains and what it records (the same for every run of a sweep)."""

    steps: int = LENGTH_DEFAULTS["steps"]
    frame_every: int = LENGTH_DEFAULTS["frame_every"]
    resolution: int = LENGTH_DEFAULTS["resolution"]  # grid of the metrics' region count (and of frames)
    frames: bool = False  # write frame PNGs too
    movie: bool = False  # and a movie from them


@dataclass(frozen=True)
class PlannedRun:
    id: str
    config: RunConfig


@dataclass
class SweepPlan:
    runs: list[PlannedRun]
    length: RunLength = field(default_factory=RunLength)


def read_toml(path: str | Path) -> dict:
    """The settings of a sweep file: RunConfig fields (a value or a list of values), ``pictures``
    (or ``image``), and the run-length fields."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise PlanError("reading a TOML sweep file on Python 3.10 needs tomli: pip install tomli") from None
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"no such sweep file: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: {exc}") from None
    if "pictures" in data:
        data["image"] = data.pop("pictures")
    unknown = sorted(set(data) - set(RUN_FIELDS) - set(LENGTH_DEFAULTS))
    if unknown:
        raise PlanError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return data


def build_plan(settings: dict) -> SweepPlan:
    """Expand ``settings`` (field -> value or list of values) into the grid of runs."""
    length_values = {k: settings[k] for k in LENGTH_DEFAULTS if settings.get(k) is not None}
    for name, value in length_values.items():
        if isinstance(value, list):
            raise PlanError(f"{name}: one value for the whole sweep, not a list")
    try:
        length = RunLength(**length_values)
    except TypeError as exc:
        raise PlanError(str(exc)) from None
    if length.steps < 0 or length.frame_every < 1:
        raise PlanError("steps must be 0 or more and frame_every at least 1")
    axes = {}
    for name in RUN_FIELDS:
        value = settings.get(name)
        if value is None:
            continue
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise PlanError(f"{name}: an empty list of values")
        axes[name] = values
    if "image" not in axes:
        raise PlanError("give at least one picture (a file or a sample id such as ring)")
    varying = {name for name, values in axes.items() if len(values) > 1}
    runs, seen = [], set()
    for combo in itertools.product(*axes.values()):
        values = dict(zip(axes, combo))
        try:
            config = RunConfig(**values)
        except ValidationError as exc:
            raise PlanError(f"run {values}: {describe_validation_error(exc)}") from None
        run_id = run_id_of(config, varying)
        if run_id in seen:
            raise PlanError(f"two runs would share the id {run_id}: the same settings twice?")
        seen.add(run_id)
        runs.append(PlannedRun(run_id, config))
    return SweepPlan(runs, length)


def run_id_of(config: RunConfig, varying: set[str]) -> str:
    """The architecture and seed always, and every other field that differs between runs."""
    parts = []
    if "image" in varying:
        parts.append(Path(config.image).stem)
    parts.append(config.layers.replace(",", "-"))
    parts.append(f"seed{config.seed}")
    for name in RUN_FIELDS:
        if name in varying and name not in ("image", "layers", "seed"):
            parts.append(f"{name}{getattr(config, name)}")
    return _UNSAFE.sub("-", "_".join(str(p) for p in parts))
