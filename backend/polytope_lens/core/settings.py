"""Every setting of a run, declared once, in three kinds.

- ``network``: what defines the network and its data (picture, architecture,
  activation, points, seed). A change starts a new network.
- ``training``: how the running network learns (optimiser, learning rate,
  momentum, batch size). A change applies to the running network.
- ``view``: how it is drawn (grid resolution, region colours, boundaries).
  A change never touches training.

``RunConfig`` (network + training) is what a checkpoint, the CLI and the
websocket ``configure`` message carry; ``ViewSettings`` goes with the ``view``
message. ``settings_table()`` publishes all three with their limits
(``GET /api/options``): the page and the CLI's ``--resume`` take the kinds from
there instead of restating them.
"""

from __future__ import annotations

import typing
from typing import Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .model import LayerSpecError, check_parameter_budget, format_layers, parse_layers
from .network import Task

IMAGE_SIZE = 1024
MAX_POINTS = IMAGE_SIZE * IMAGE_SIZE
MAX_RESOLUTION = 1024
MIN_RESOLUTION = 16

Activation = Literal["relu", "leaky_relu"]
Optimizer = Literal["adam", "sgd", "sgd_momentum", "rmsprop"]
MAX_CLASSES = 8  # a classifier has one output per class found, at most this many (core/classes.py has a colour for each)
Kind = Literal["network", "training", "view"]
Init = Literal["random", "sawtooth"]


class SettingError(ValueError):
    """Settings that are valid one by one but cannot make a run with this target (a clip, too few
    classes, ...); ``field`` names the setting to change, so the page can show the words beside it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class NetworkSettings(_Settings):
    """Kind ``network``: a change starts a new network."""

    image: str = Field("ring", min_length=1, max_length=200, description="sample id, image id or file path")
    color: bool = Field(False, description="fit RGB (3 outputs) instead of grayscale")
    task: Task = Field("regress", description="regress brightness, or classify: saturated colours are classes, "
                                              "one output per class, softmax cross-entropy")
    layers: str = Field("14x6", max_length=200, validate_default=True,  # its check uses color
                        description="hidden widths, e.g. 14x6 or 10x10,2,10x3")
    activation: Activation = Field("relu", description="hidden activation")
    negative_slope: float = Field(0.01, gt=0.0, lt=1.0, description="leaky ReLU slope for negative inputs")
    train_points: int = Field(5000, ge=1, le=MAX_POINTS, description="training pixels sampled from the picture")
    val_points: int = Field(1000, ge=1, le=MAX_POINTS, validate_default=True,  # its check uses train_points
                            description="validation pixels (disjoint from training)")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of sampling, initialisation and batches")
    label_noise: float = Field(0.0, ge=0.0, le=0.5, description="classify: fraction of training labels flipped to another class (seeded)")
    init: Init = Field("random", description="initial weights: random (He), or sawtooth (hand-set tent maps, layers 2xL or one layer)")

    # Checks across fields sit on the later field, so the error names a field a person can change.
    @field_validator("layers")
    @classmethod
    def _layers_parse(cls, value: str, info: ValidationInfo) -> str:
        try:
            widths = parse_layers(value)
            classify = info.data.get("task") == "classify"
            check_parameter_budget(widths, out_dim=MAX_CLASSES if classify else 3 if info.data.get("color") else 1)
        except LayerSpecError as exc:
            raise ValueError(str(exc)) from None
        return format_layers(widths)

    @field_validator("val_points")
    @classmethod
    def _points_fit(cls, value: int, info: ValidationInfo) -> int:
        total = info.data.get("train_points", 0) + value
        if total > MAX_POINTS:
            raise ValueError(
                f"train_points + val_points = {total:,} exceeds the {MAX_POINTS:,} pixels of the {IMAGE_SIZE}x{IMAGE_SIZE} target"
            )
        return value

    @field_validator("init")
    @classmethod
    def _init_fits(cls, value: str, info: ValidationInfo) -> str:
        if value == "sawtooth":
            from .sawtooth import sawtooth_problem  # the one place that knows which nets it can build

            problem = sawtooth_problem(parse_layers(info.data["layers"]) if "layers" in info.data else None,
                                       info.data.get("activation"))
            if problem:
                raise ValueError(problem)
        return value


class TrainingSettings(_Settings):
    """Kind ``training``: applied to the running network."""

    optimizer: Optimizer = Field("adam", description="optimiser")
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="learning rate")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="momentum of sgd_momentum")
    batch_size: int = Field(1024, ge=1, le=MAX_POINTS, description="points per step; >= train_points is full batch")
    l1: float = Field(0.0, ge=0.0, le=1.0, description="L1 penalty: adds l1 * sum |w| over all weights to the loss")
    l2: float = Field(0.0, ge=0.0, le=1.0, description="L2 penalty (weight decay): adds l2/2 * sum w^2 over all weights to the loss")


class ViewSettings(_Settings):
    """Kind ``view``: how a run is drawn; never touches training."""

    resolution: int = Field(512, ge=MIN_RESOLUTION, le=MAX_RESOLUTION, description="side of the grid on which regions are found")
    fill_regions: bool = Field(False, description="fill every region with its pattern's colour")
    boundaries: bool = Field(True, description="draw region boundaries")
    render: Literal["server", "client"] = Field(
        "server", description="who draws the live view: the server sends pictures, or the page draws from the weights"
    )
    t: float = Field(0.0, ge=-1.0, le=1.0, description="the moment of a clip shown, from -1 (first frame) to 1 (last); pictures ignore it")
    surface: bool = Field(False, description="send the exact origami surface (a binary 'surface' message) whenever the "
                          "live exact partition is new")


class RunConfig(NetworkSettings, TrainingSettings):
    """A run: its network and how it trains. Unknown fields are rejected, not ignored."""

    @property
    def widths(self) -> list[int]:
        return parse_layers(self.layers)

    @property
    def out_dim(self) -> int:
        """Outputs of the network; for ``classify`` the most it may have (the picture's classes decide,
        see ``Trainer.out_dim``), which is what budgets and limits count."""
        if self.task == "classify":
            return MAX_CLASSES
        return 3 if self.color else 1

    @property
    def target_color(self) -> bool:
        """Read the picture in colour: asked for, or needed to find the classes."""
        return self.color or self.task == "classify"

    @property
    def effective_batch_size(self) -> int:
        return min(self.batch_size, self.train_points)

    def architecture_label(self, out_dim: int | None = None, in_dim: int = 2) -> str:
        act = "ReLU" if self.activation == "relu" else f"leaky ReLU {self.negative_slope:g}"
        return f"{in_dim}-{self.layers}-{out_dim or self.out_dim} {act}"

    def training(self) -> TrainingSettings:
        return TrainingSettings(**{name: getattr(self, name) for name in TrainingSettings.model_fields})


KIND_MODELS: dict[str, type[_Settings]] = {"network": NetworkSettings, "training": TrainingSettings, "view": ViewSettings}
FIELD_KINDS: dict[str, str] = {name: kind for kind, model in KIND_MODELS.items() for name in model.model_fields}
TRAINING_FIELDS: tuple[str, ...] = tuple(TrainingSettings.model_fields)
VIEW_FIELDS: tuple[str, ...] = tuple(ViewSettings.model_fields)


def settings_table() -> list[dict]:
    """One entry per setting: name, kind, type, default, bounds or choices, description."""
    rows = []
    for kind, model in KIND_MODELS.items():
        for name, info in model.model_fields.items():
            row: dict = {"name": name, "kind": kind, "default": info.default, "description": info.description or ""}
            choices = typing.get_args(info.annotation) if typing.get_origin(info.annotation) is Literal else None
            row["type"] = "choice" if choices else {bool: "bool", int: "int", float: "float", str: "str"}[info.annotation]
            if choices:
                row["choices"] = list(choices)
            for bound in info.metadata:
                for cls, attr, key in ((Ge, "ge", "min"), (Gt, "gt", "min_exclusive"),
                                       (Le, "le", "max"), (Lt, "lt", "max_exclusive")):
                    if isinstance(bound, cls):
                        row[key] = getattr(bound, attr)
                if getattr(bound, "max_length", None) is not None:
                    row["max_length"] = bound.max_length
            rows.append(row)
    return rows


def describe_validation_error(exc: ValidationError) -> str:
    """One readable sentence per problem, each naming its field."""
    return "; ".join(f"{field}: {msg}" for field, msg in validation_problems(exc))


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, message) per problem, the field as a dotted path."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            kind = FIELD_KINDS.get(loc[-1]) if loc else None
            msg = "a view setting: send it in a 'view' message" if kind == "view" else "unknown field"
        problems.append((".".join(loc) or "config", msg))
    return problems
