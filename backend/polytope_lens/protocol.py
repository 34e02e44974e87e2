"""Client-to-server websocket messages, validated (docs/protocol.md).

Every message becomes a typed command or a ProtocolError whose text names
the problem, so the server can answer in words and keep the session.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .config import Optimizer, RunConfig, describe_validation_error

MAX_MESSAGE_BYTES = 64 * 1024
MAX_STEP_N = 100_000


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


def parse_command(text: str | bytes) -> Command:
    """Parse one websocket text message into a command, or raise ProtocolError."""
    if isinstance(text, (bytes, bytearray)):
        raise ProtocolError("binary messages are not understood; send JSON text")
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message too large ({len(text):,} bytes; the limit is {MAX_MESSAGE_BYTES:,})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"message is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(data, dict):
        raise ProtocolError("message must be a JSON object with a 'type'")
    kind = data.get("type")
    if kind not in TYPES:
        raise ProtocolError(f"unknown message type {kind!r}; expected one of {', '.join(TYPES)}", field="type")
    try:
        command = _COMMAND.validate_python(data)
    except ValidationError as exc:
        raise _named(exc, prefix_drop=kind) from None
    if isinstance(command, Configure):
        validate_config(command.config)
    return command


def validate_config(fields: dict) -> RunConfig:
    """The run config from a configure message, or ProtocolError naming the field."""
    try:
        return RunConfig.model_validate(fields)
    except ValidationError as exc:
        raise _named(exc) from None


def _named(exc: ValidationError, prefix_drop: str | None = None) -> ProtocolError:
    errors = exc.errors()
    loc = [str(p) for p in errors[0].get("loc", ())] if errors else []
    if prefix_drop and loc and loc[0] == prefix_drop:
        loc = loc[1:]
    field = loc[-1] if loc else None
    message = describe_validation_error(exc)
    if prefix_drop:
        message = message.replace(f"{prefix_drop}.", "")
    return ProtocolError(message, field=field)
