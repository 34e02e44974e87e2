"""One validated description of a run, shared by the CLI, the websocket and checkpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .model import LayerSpecError, check_parameter_budget, format_layers, parse_layers

IMAGE_SIZE = 1024
MAX_POINTS = IMAGE_SIZE * IMAGE_SIZE
MAX_RESOLUTION = 1024
MIN_RESOLUTION = 16

Activation = Literal["relu", "leaky_relu"]
Optimizer = Literal["adam", "sgd", "sgd_momentum", "rmsprop"]


class RunConfig(BaseModel):
    """Everything that determines a run. Unknown fields are rejected, not ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    image: str = Field("ring", min_length=1, max_length=200, description="sample id, image id or file path")
    color: bool = Field(False, description="fit RGB (3 outputs) instead of grayscale")
    layers: str = Field("14x6", max_length=200, description="hidden widths, e.g. 14x6 or 10x10,2,10x3")
    activation: Activation = "relu"
    negative_slope: float = Field(0.01, gt=0.0, lt=1.0, description="leaky ReLU slope")
    optimizer: Optimizer = "adam"
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="learning rate")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="momentum of sgd_momentum")
    batch_size: int = Field(1024, ge=1, le=MAX_POINTS, description="points per step; >= train_points is full batch")
    train_points: int = Field(5000, ge=1, le=MAX_POINTS)
    val_points: int = Field(1000, ge=1, le=MAX_POINTS)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    resolution: int = Field(512, ge=MIN_RESOLUTION, le=MAX_RESOLUTION, description="partition grid side")

    @field_validator("layers")
    @classmethod
    def _layers_parse(cls, value: str) -> str:
        try:
            widths = parse_layers(value)
        except LayerSpecError as exc:
            raise ValueError(str(exc)) from None
        return format_layers(widths)

    @model_validator(mode="after")
    def _cross_checks(self) -> "RunConfig":
        if self.train_points + self.val_points > MAX_POINTS:
            raise ValueError(
                f"train_points + val_points = {self.train_points + self.val_points:,} "
                f"exceeds the {MAX_POINTS:,} pixels of the {IMAGE_SIZE}x{IMAGE_SIZE} target"
            )
        try:
            check_parameter_budget(self.widths, out_dim=self.out_dim)
        except LayerSpecError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def widths(self) -> list[int]:
        return parse_layers(self.layers)

    @property
    def out_dim(self) -> int:
        return 3 if self.color else 1

    @property
    def effective_batch_size(self) -> int:
        return min(self.batch_size, self.train_points)

    def architecture_label(self) -> str:
        act = "ReLU" if self.activation == "relu" else f"leaky ReLU {self.negative_slope:g}"
        return f"2-{self.layers}-{self.out_dim} {act}"


def describe_validation_error(exc: ValidationError) -> str:
    """One readable sentence per problem, each naming its field."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "config"
        msg = err.get("msg", "invalid")
        msg = msg.removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{field}: {msg}")
    return "; ".join(parts)
