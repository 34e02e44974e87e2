"""Client-to-server websocket messages, validated (docs/protocol.md).

Every message becomes a typed command or a ProtocolError whose text names
the problem, so the server can answer in words and keep the session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..core.settings import Optimizer, RunConfig, describe_validation_error
from ..core.model import count_parameters

MAX_MESSAGE_BYTES = 64 * 1024
MAX_STEP_N = 100_000
MAX_ERROR_CHARS = 400  # error texts echo parts of the message; never echo megabytes back


@dataclass(frozen=True)
class LiveLimits:
    """What one live (websocket) run may cost; README "Limits". Checked on top of RunConfig's own limits.

    - max_message_bytes: longest client message that is read (longer ones get an ``error``).
    - max_point_activations: points evaluated at once (the larger of the batch, train_points and
      val_points) times hidden neurons; bounds the memory of a training step and of the losses.
    - max_frame_cost: resolution² × parameters, the multiply-adds of one live frame (2**35 is
      about 1-3 s on 2 cores).
    """

    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_point_activations: int = 2**27
    max_frame_cost: int = 2**35


DEFAULT_LIVE_LIMITS = LiveLimits()


class ProtocolError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Configure(_Message):
    type: Literal["configure"]
    config: dict = Field(default_factory=dict)


class Start(_Message):
    type: Literal["start"]


class Pause(_Message):
    type: Literal["pause"]


class Step(_Message):
    type: Literal["step"]
    n: int = Field(1, ge=1, le=MAX_STEP_N)


class Reset(_Message):
    type: Literal["reset"]


class Set(_Message):
    type: Literal["set"]
    lr: float | None = Field(None, gt=0.0, le=10.0)
    optimizer: Optimizer | None = None


class View(_Message):
    type: Literal["view"]
    visible: bool | None = None
    fill_regions: bool | None = None
    boundaries: bool | None = None
    max_fps: float | None = Field(None, gt=0.0, le=60.0)


Command = Annotated[Union[Configure, Start, Pause, Step, Reset, Set, View], Field(discriminator="type")]
_COMMAND = TypeAdapter(Command)
TYPES = ("configure", "start", "pause", "step", "reset", "set", "view")


class NotAJsonNumber(str):
    """What NaN, Infinity and -Infinity read as: JSON has no such numbers, and a NaN would slip
    past every range check. Being a string, validation refuses it and names the field."""


def _reject_constant(name: str) -> NotAJsonNumber:
    return NotAJsonNumber(name)


def parse_command(text: str | bytes | None, limits: LiveLimits = DEFAULT_LIVE_LIMITS) -> Command:
    """Parse one websocket text message into a command, or raise ProtocolError.

    Never raises anything else, whatever the input (tests/test_protocol_fuzz.py).
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        raise ProtocolError("binary messages are not understood; send JSON text")
    if not isinstance(text, str):
        raise ProtocolError("empty message; send a JSON object with a 'type'")
    size = len(text) if len(text) * 4 <= limits.max_message_bytes else len(text.encode("utf-8", "replace"))
    if size > limits.max_message_bytes:
        raise ProtocolError(f"message too large ({size:,} bytes; the limit is {limits.max_message_bytes:,})")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"message is not valid JSON ({exc.msg} at position {exc.pos})") from None
    except RecursionError:
        raise ProtocolError("message is nested too deeply to read") from None
    except ValueError as exc:  # e.g. integers of thousands of digits
        raise ProtocolError(_clip(f"message is not valid JSON ({exc})")) from None
    if not isinstance(data, dict):
        raise ProtocolError("message must be a JSON object with a 'type'")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        shown = _clip(repr(kind), 60)
        raise ProtocolError(f"unknown message type {shown}; expected one of {', '.join(TYPES)}", field="type")
    try:
        # strict: a wrong type is an error (no "yes" for true, no "5" for 5)
        command = _COMMAND.validate_python(data, strict=True)
    except ValidationError as exc:
        raise _named(exc, prefix_drop=kind) from None
    except RecursionError:
        raise ProtocolError("message is nested too deeply to read") from None
    if isinstance(command, Configure):
        check_live_cost(validate_config(command.config), limits)
    return command


def validate_config(fields: dict) -> RunConfig:
    """The run config from a configure message, or ProtocolError naming the field.

    Strict types: JSON numbers for numbers, true/false for booleans, strings for strings.
    """
    if not isinstance(fields, dict):
        raise ProtocolError("config must be a JSON object", field="config")
    try:
        return RunConfig.model_validate(fields, strict=True)
    except ValidationError as exc:
        raise _named(exc) from None
    except RecursionError:
        raise ProtocolError("config is nested too deeply to read", field="config") from None


def check_live_cost(config: RunConfig, limits: LiveLimits = DEFAULT_LIVE_LIMITS) -> RunConfig:
    """Refuse live runs that would stall or exhaust a small server (LiveLimits), naming what to reduce."""
    widths = config.widths
    hidden = sum(widths)
    points = max(config.effective_batch_size, config.train_points, config.val_points)
    if points * hidden > limits.max_point_activations:
        field = "batch_size" if config.effective_batch_size == points else "train_points"
        if config.val_points == points and config.train_points < points:
            field = "val_points"
        raise ProtocolError(
            f"{field}: {points:,} points at once × {hidden:,} hidden neurons is past the live limit of "
            f"{limits.max_point_activations:,}; use fewer points or a smaller network",
            field=field,
        )
    params = count_parameters(widths, out_dim=config.out_dim)
    cost = config.resolution**2 * params
    if cost > limits.max_frame_cost:
        largest = int((limits.max_frame_cost / params) ** 0.5)
        hint = f"a resolution of at most {largest}" if largest >= 16 else "a smaller network"
        raise ProtocolError(
            f"resolution: drawing {config.resolution}² pixels through {params:,} parameters is past the live "
            f"limit of {limits.max_frame_cost:,} multiply-adds per frame; use {hint}",
            field="resolution",
        )
    return config


def _clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _named(exc: ValidationError, prefix_drop: str | None = None) -> ProtocolError:
    errors = exc.errors()
    loc = [str(p) for p in errors[0].get("loc", ())] if errors else []
    if prefix_drop and loc and loc[0] == prefix_drop:
        loc = loc[1:]
    field = _clip(loc[-1], 80) if loc else None
    message = describe_validation_error(exc)
    if prefix_drop:
        message = message.replace(f"{prefix_drop}.", "")
    if field is None and message.startswith("config: "):
        # checks across fields (RunConfig's model validator) have no location: name the field to change
        for words, name in _CROSS_CHECK_FIELDS:
            if words in message:
                field = name
                message = f"{name}: " + message.removeprefix("config: ")
                break
    return ProtocolError(_clip(message), field=field)


_CROSS_CHECK_FIELDS = (("parameters", "layers"), ("train_points + val_points", "train_points"))
