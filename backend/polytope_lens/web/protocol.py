"""The websocket protocol as pydantic models, both directions (docs/protocol.md).

Every client message becomes a typed command, validated once, or a
ProtocolError whose text names the problem and whose ``field`` names the
setting, so the server can answer in words and keep the session. Server
messages (status, error, points) are models too; frames are binary (wire.py), and so is a
surface message, which travels among the JSON messages as a ``BinaryMessage``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError, create_model

from ..core.settings import RunConfig, TrainingSettings, ViewSettings, validation_problems
from ..core.handedits import MAX_ABS_VALUE, WeightEdit
from ..core.model import count_parameters
from ..core.training import network_config

MAX_MESSAGE_BYTES = 64 * 1024
MAX_STEP_N = 100_000
MAX_ERROR_CHARS = 400  # error texts echo parts of the message; never echo megabytes back


@dataclass(frozen=True)
class LiveLimits:
    """What one live (websocket) run may cost; docs/guide.md "Limits". Checked on top of RunConfig's own limits.

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


def _optional_fields(model: type[BaseModel]) -> dict:
    """The fields of a settings model, each optional (None: leave as it is), same bounds."""
    return {
        name: ((Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation) | None,
               Field(None, description=info.description))
        for name, info in model.model_fields.items()
    }


# -- client to server -------------------------------------------------------------------
class Configure(_Message):
    """A new network: network and training settings (core.settings.RunConfig); with ``network``, the
    network opened from a model file (POST /api/networks) on the picture ``config.image``."""

    type: Literal["configure"]
    config: RunConfig = Field(default_factory=RunConfig)
    network: str | None = Field(None, min_length=1, max_length=64, description="an id from POST /api/networks")
    # the opened network itself (sources.OpenedNetwork), put here by the server from its store: it
    # travels with the command to wherever the session runs (web/routers/live.py)
    _opened: Any = PrivateAttr(None)

    def opening(self, opened) -> "Configure":
        """This configure with the opened network attached and its config saying what the network is
        (its layers, task, activation: core.training.network_config), so that admission judges it."""
        command = self.model_copy(update={"config": network_config(self.config, opened.shown)})
        command._opened = opened
        return command

    @property
    def opened(self):
        return self._opened


class Start(_Message):
    type: Literal["start"]


class Pause(_Message):
    type: Literal["pause"]


class Step(_Message):
    type: Literal["step"]
    n: int = Field(1, ge=1, le=MAX_STEP_N)


class Reset(_Message):
    type: Literal["reset"]


class Received(_Message):
    """The client took a frame (sent for each one by a client that opened ``/ws?acks=1``): the
    server keeps at most a few frames unacknowledged, so a slow page is sent fewer, newer frames
    instead of a backlog in the network's buffers. Answered with nothing; ignored from others."""

    type: Literal["received"]


# A number a person typed: finite and at most MAX_ABS_VALUE either way (checked again in core/handedits.py).
HandValue = Annotated[float, Field(ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE, allow_inf_nan=False)]


class Edit(_Message):
    """An edit by hand of the network (core/handedits.py): one weight or bias (``value`` at ``row``,
    ``col``), or a whole weight matrix (``values``: rows of numbers) or bias vector (``values``:
    numbers). ``layer`` is 1-based (the map computing the diagram's column ``layer``; depth + 1 is the
    output), ``row`` and ``col`` 0-based. Whether it fits the network is checked where it runs."""

    type: Literal["edit"]
    layer: int = Field(ge=1, le=10_000)
    kind: Literal["weight", "bias"]
    row: int | None = Field(None, ge=0)
    col: int | None = Field(None, ge=0)
    value: HandValue | None = None
    values: list[list[HandValue]] | list[HandValue] | None = None

    def to_edit(self) -> WeightEdit:
        values = self.values
        if values is not None:
            values = tuple(tuple(v) if isinstance(v, list) else v for v in values)
        return WeightEdit(self.layer, self.kind, self.row, self.col, self.value, values)


# ``set`` changes training settings of the running network, ``view`` how it is drawn: their
# fields are those of the settings models, so a new setting of either kind appears here by itself.
Set = create_model("Set", __base__=_Message, type=(Literal["set"], ...), **_optional_fields(TrainingSettings))
View = create_model(
    "View",
    __base__=_Message,
    type=(Literal["view"], ...),
    visible=(bool | None, Field(None, description="false: the tab is hidden, draw nothing")),
    max_fps=(float | None, Field(None, gt=0.0, le=60.0, description="most frames per second")),
    **_optional_fields(ViewSettings),
)

Command = Annotated[Union[Configure, Start, Pause, Step, Reset, Set, View, Edit, Received], Field(discriminator="type")]
_COMMAND = TypeAdapter(Command)
TYPES = ("configure", "start", "pause", "step", "reset", "set", "view", "edit", "received")


def changes(command: BaseModel) -> dict:
    """The fields a ``set`` or ``view`` message gives (those left out are None)."""
    return {k: v for k, v in command.model_dump(exclude={"type"}).items() if v is not None}


# -- server to client -------------------------------------------------------------------
class _ServerMessage(_Message):
    _omit_when_none: tuple[str, ...] = ()  # optional words left out rather than sent as null

    def to_json(self) -> str:
        data = self.model_dump(mode="json")
        for name in self._omit_when_none:
            if data.get(name) is None:
                data.pop(name, None)
        return json.dumps(data, separators=(",", ":"), allow_nan=False)


class StatusMessage(_ServerMessage):
    """The session's state; sent on every change of state, step jumps and settings."""

    type: Literal["status"] = "status"
    state: Literal["idle", "paused", "running", "diverged"]
    step: int
    token: str
    config: RunConfig | None = None
    view: ViewSettings
    image_url: str | None = None
    message: str | None = None
    frames: int = 1  # frames of the target: 1 for a picture; a clip's network takes (x, y, t)
    duration_s: float = 0.0  # a clip's length in seconds
    _omit_when_none = ("message",)


class ErrorMessage(_ServerMessage):
    """A refused command or a problem, in words; ``field`` names the setting to change."""

    type: Literal["error"] = "error"
    message: str
    field: str | None = None
    _omit_when_none = ("field",)


class EditedMessage(_ServerMessage):
    """An edit by hand was written: the next update carries the network with it. ``step`` is the step
    it was made at (the timeline's mark); ``note`` says what changed in words."""

    type: Literal["edited"] = "edited"
    step: int
    layer: int
    kind: Literal["weight", "bias"]
    row: int | None = None
    col: int | None = None
    value: float | None = None
    values: list | None = None
    note: str
    _omit_when_none = ("row", "col", "value", "values")


class ResumedMessage(_ServerMessage):
    """The first message of a socket opened with ``?resume=TOKEN`` when that session was still
    there: the run went on while the page was away, and what the session said meanwhile follows.
    (Without it, the first message is a new session's status.)"""

    type: Literal["resumed"] = "resumed"
    token: str


class PointsMessage(_ServerMessage):
    """The training and validation pixels of a new network, as [row, column] of the size x size target."""

    type: Literal["points"] = "points"
    size: int
    train: list[tuple[int, int]]
    val: list[tuple[int, int]]
    # a clip's points: the frame (0-based) of each training and validation point, in the same order
    train_frames: list[int] | None = None
    val_frames: list[int] | None = None
    # classify only: the classes found (colour, name, pixel count) and each point's label (training
    # labels after label noise); left out for regression
    classes: list[ClassInfo] | None = None
    train_labels: list[int] | None = None
    val_labels: list[int] | None = None
    _omit_when_none = ("classes", "train_labels", "val_labels", "train_frames", "val_frames")


class ClassInfo(BaseModel):
    color: str
    name: str
    pixels: int


PointsMessage.model_rebuild()


def points_classes(trainer) -> dict:
    """The classification fields of a PointsMessage for ``trainer`` (none for regression)."""
    if trainer.classes is None:
        return {}
    return {"classes": trainer.classes.summary(), "train_labels": trainer.sample.train_y.tolist(),
            "val_labels": trainer.sample.val_y.tolist()}


class BinaryMessage(BaseModel):
    """A binary message that keeps its place among the JSON messages (the send loop sends ``data``
    as bytes): the origami ``surface`` (docs/protocol.md). Latest-wins by ``kind``: the outbox
    replaces an unsent one of the same kind with a newer one (outbox.py)."""

    kind: Literal["surface"]
    step: int
    data: bytes


ServerMessage = Union[StatusMessage, ErrorMessage, PointsMessage, EditedMessage, ResumedMessage]


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
        return _COMMAND.validate_python(data, strict=True)
    except ValidationError as exc:
        raise _named(exc) from None
    except RecursionError:
        raise ProtocolError("message is nested too deeply to read") from None


def check_live_cost(config: RunConfig, resolution: int, limits: LiveLimits = DEFAULT_LIVE_LIMITS) -> None:
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
    if resolution**2 * params > limits.max_frame_cost:
        largest = int((limits.max_frame_cost / params) ** 0.5)
        hint = f"a resolution of at most {largest}" if largest >= 16 else "a smaller network"
        raise ProtocolError(
            f"resolution: drawing {resolution}² pixels through {params:,} parameters is past the live "
            f"limit of {limits.max_frame_cost:,} multiply-adds per frame; use {hint}",
            field="resolution",
        )


def _clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _named(exc: ValidationError) -> ProtocolError:
    """The first problem's field (the message type and 'config' dropped from its path) and every
    problem in words."""
    problems = []
    for err, (_, msg) in zip(exc.errors(), validation_problems(exc)):
        # the path itself (a key may contain a dot), without list positions and union branches
        # (values.3.1, values.list[float]): the field is the name a person sent
        parts = [str(p) for p in err.get("loc", ()) if not isinstance(p, int) and not str(p).startswith("list[")]
        if parts[:1] and parts[0] in TYPES:
            parts = parts[1:]
        if parts[:1] == ["config"] and len(parts) > 1:
            parts = parts[1:]
        problems.append((".".join(parts) or None, parts[-1] if parts else None, msg))
    field = _clip(problems[0][1], 80) if problems and problems[0][1] else None
    problems = list(dict.fromkeys((f, m) for f, _, m in problems))  # a union's branches say the same twice
    return ProtocolError(_clip("; ".join(f"{f}: {m}" if f else m for f, m in problems)), field=field)
