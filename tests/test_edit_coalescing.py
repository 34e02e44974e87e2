"""A slider dragged faster than frames are drawn (issue 27): edits that wait in the session's queue
together are all written, each answered with ``edited`` and marked in the history, and drawn once
(web/sessions/local.py, ``_draw_edited``); paused, the exact count of the edited network follows the
redrawn frame in a second update of the same step (docs/protocol.md, "Edits by hand")."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from polytope_lens.core.network import FrozenNetwork, flat_weights
from polytope_lens.geometry.exact import exact_partition
from polytope_lens.geometry.grid import compute_partition
from polytope_lens.web.protocol import EditedMessage, ErrorMessage, parse_command
from polytope_lens.web.sessions.local import LiveSession
from polytope_lens.web.sessions.outbox import ServerOutbox
from polytope_lens.web.wire import decode_frame, prediction_bytes

CONFIG = {"image": "ring", "layers": "6,5", "train_points": 300, "val_points": 50, "batch_size": 64, "seed": 3}
WEIGHT = dict(layer=2, kind="weight", row=1, col=2)  # the number the slider drags
BURST = 50


class RecordingOutbox(ServerOutbox):
    """Keeps every frame put (a real page would see at most the latest of those waiting)."""

    def __init__(self):
        super().__init__()
        self.put: list[bytes] = []

    def put_frame(self, frame: bytes) -> None:
        self.put.append(frame)
        super().put_frame(frame)


def _command(**fields):
    return parse_command(json.dumps(fields))


def _wait(condition, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the session did not get there in time"
        time.sleep(0.02)


@pytest.fixture
def session(ring_target):
    outbox = RecordingOutbox()
    live = LiveSession(lambda image, color: ring_target, outbox, max_queued=2 * BURST)
    live.submit(_command(type="view", resolution=64))
    live.submit(_command(type="configure", config=CONFIG))
    live.submit(_command(type="step", n=20))
    _wait(lambda: live.step_count() == 20 and live._pending_steps == 0 and live._frame is not None
          and live._frame.step == 20)
    try:
        yield live
    finally:
        live.close(timeout=5.0)


def _burst(session, values, refused_at: int | None = None) -> None:
    """Queue one edit per value at once: the worker is held (it writes edits under the session's lock)
    until all of them wait in its queue, as when a client sends faster than frames are drawn."""
    with session._lock:
        for i, value in enumerate(values):
            fields = dict(WEIGHT, value=value)
            if i == refused_at:
                fields["row"] = 99  # past the layer's neurons: refused in words, the others stand
            assert session.submit(_command(type="edit", **fields))


def _mismatch(sections, network) -> float:
    """Share of the frame's prediction bytes and boundary pixels that differ from the picture of
    ``network`` (the frame is drawn from the live model, this from a frozen copy: float rounding may
    flip a pixel or the last 8-bit step here and there, never many)."""
    expected = compute_partition(network, 64)
    drawn = np.frombuffer(sections["prediction"], dtype=np.uint8)
    wanted = np.frombuffer(prediction_bytes(expected.prediction), dtype=np.uint8)
    lines = np.unpackbits(np.frombuffer(sections["boundary"], dtype=np.uint8))[: 64 * 64].astype(bool)
    return float(np.mean(drawn != wanted)) + float(np.mean(lines != expected.boundary.ravel()))


def _with_value(network, value: float):
    """``network`` with the dragged number set to ``value`` (the flat layout: layer 1's W (6, 2) and
    b, then layer 2's W (5, 6): row 1, col 2)."""
    flat = np.frombuffer(flat_weights(network), dtype="<f4").copy()
    flat[6 * 2 + 6 + 1 * 6 + 2] = value
    return FrozenNetwork.from_flat(flat.tobytes(), network.widths, network.out_dim, network.slopes)


def _drawn_from(sections, network, rather_than) -> bool:
    """Whether the frame shows ``network``, told apart from the network ``rather_than``."""
    mismatch = _mismatch(sections, network)
    return mismatch < 0.005 and mismatch < _mismatch(sections, rather_than)


def _messages(session):
    messages, _ = session.outbox.take(with_frame=False)
    return messages


def _frames(session) -> list[dict]:
    return [decode_frame(frame)[0] for frame in session.outbox.put]


def test_a_burst_of_edits_of_one_weight_is_drawn_once_with_the_last_value(session):
    before, step = session.weights_snapshot()
    original = float(before.affine_layers()[1][0][1, 2])
    _messages(session)
    session.outbox.put.clear()
    values = [round(0.04 * i - 1.0, 4) for i in range(BURST)]
    _burst(session, values)
    _wait(lambda: len(session.history.marks()) == BURST)
    # the count of the edited network follows the redrawn frame (paused): wait for it
    _wait(lambda: any(f["exact_status"] == "exact" for f in _frames(session)))

    after, _ = session.weights_snapshot()
    assert float(after.affine_layers()[1][0][1, 2]) == np.float32(values[-1])
    changed = [np.argwhere(a != b).tolist() for (a, _), (b, _) in zip(before.affine_layers(), after.affine_layers())]
    assert changed == [[], [[1, 2]], []]  # that number only
    # every edit answered and marked, in order (the history and the timeline keep each of them)
    edited = [m for m in _messages(session) if isinstance(m, EditedMessage)]
    assert [m.value for m in edited] == values and {m.step for m in edited} == {step}
    assert [note for _, note in session.history.marks()] == [f"layer 2 w[1,2] = {v:g}" for v in values]

    frames = _frames(session)
    assert 1 <= len(frames) <= 3, f"{len(frames)} frames for {BURST} queued edits"  # drawn once, then its count
    assert frames[0]["step"] == step and frames[0]["exact_status"] in ("pending", "exact")
    # the picture drawn is the network holding the last value
    header, sections = decode_frame(session.outbox.put[-1])
    assert _drawn_from(sections, after, rather_than=_with_value(after, values[-2]))
    assert header["exact_regions"] == exact_partition(after).region_count and header["exact_step"] == step

    # undo, as the page does it: the value before the drag, sent as an edit, gives the network back
    session.submit(_command(type="edit", **WEIGHT, value=original))
    _wait(lambda: len(session.history.marks()) == BURST + 1)
    restored, _ = session.weights_snapshot()
    for (a, c), (b, d) in zip(before.affine_layers(), restored.affine_layers()):
        assert np.array_equal(a, b) and np.array_equal(c, d)


def test_a_refused_edit_inside_a_burst_changes_nothing_and_the_rest_are_drawn(session):
    _messages(session)
    session.outbox.put.clear()
    values = [0.1 * i for i in range(20)]
    _burst(session, values, refused_at=12)
    kept = values[:12] + values[13:]
    _wait(lambda: len(session.history.marks()) == len(kept))
    _wait(lambda: any(f["exact_status"] == "exact" for f in _frames(session)))
    messages = _messages(session)
    errors = [m for m in messages if isinstance(m, ErrorMessage)]
    assert len(errors) == 1 and errors[0].field == "row" and "past the 5 neurons" in errors[0].message
    assert [m.value for m in messages if isinstance(m, EditedMessage)] == kept
    network, _ = session.weights_snapshot()
    assert float(network.affine_layers()[1][0][1, 2]) == np.float32(values[-1])
    assert 1 <= len(session.outbox.put) <= 3


def test_one_edit_at_a_time_gets_its_frame_then_its_count(session):
    """The page's way: one edit in flight; each gets the redrawn frame at once (exact count
    "pending", or already there), then the update with the count of that same network."""
    for value in (0.75, -0.5):
        session.outbox.put.clear()
        before, _ = session.weights_snapshot()
        assert session.edit(parse_command(json.dumps({"type": "edit", **WEIGHT, "value": value}))) is None
        network, step = session.weights_snapshot()
        frames = [decode_frame(frame)[1] for frame in session.outbox.put]
        edited = [i for i, sections in enumerate(frames) if _drawn_from(sections, network, rather_than=before)]
        assert edited, "the frame of the edited network is drawn before edit() returns"
        # before it, only the network before the edit (the count of it may finish first: it was queued
        # before the edit); none of that one after it
        assert all(_drawn_from(sections, before, rather_than=network) for sections in frames[:edited[0]])
        assert not any(_drawn_from(sections, before, rather_than=network) for sections in frames[edited[0]:])
        _wait(lambda: decode_frame(session.outbox.put[-1])[0]["exact_status"] == "exact")
        last = decode_frame(session.outbox.put[-1])[0]
        assert last["exact_regions"] == exact_partition(network).region_count and last["exact_step"] == step
