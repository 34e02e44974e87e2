"""A running session drawn by the server (issue 28, item 7): every update is the picture of its own
step, from the live grid (a coarser one for a very wide network), and its measured fields (losses,
regions, geometry, pattern churn) are measured beside the drawing every 0.45 s, from the partition
of an update drawn then (``measured_step``); paused, everything is of the step on screen again."""

from __future__ import annotations

import json
import threading
import time

import pytest

from polytope_lens.output.frames import live_resolution
from polytope_lens.web.protocol import parse_command
from polytope_lens.web.sessions.local import LiveSession
from polytope_lens.web.sessions.outbox import ServerOutbox
from polytope_lens.web.wire import decode_frame

# One layer of 300: at a view of 512 it is past the live work (512^2 x 150), so it trains on 256^2.
CONFIG = {"image": "ring", "layers": "300", "train_points": 800, "val_points": 200, "batch_size": 128}
VIEW = 512


class Frames(ServerOutbox):
    """Keeps every frame's header, and takes each frame at once (a client that keeps up)."""

    def __init__(self):
        super().__init__()
        self.headers: list[dict] = []
        self.lock = threading.Lock()

    def put_frame(self, frame: bytes) -> None:
        header, _ = decode_frame(frame)
        with self.lock:
            self.headers.append(header)

    def frame_pending(self) -> bool:
        return False

    def seen(self) -> list[dict]:
        with self.lock:
            return list(self.headers)


def wait_until(condition, within: float = 60.0) -> bool:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


@pytest.fixture
def session(ring_target):
    outbox = Frames()
    live = LiveSession(lambda image, color: ring_target, outbox)

    def send(kind, **fields):
        live.submit(parse_command(json.dumps({"type": kind, **fields})))

    live.send = send
    send("view", render="server", resolution=VIEW)
    send("configure", config=CONFIG)
    assert wait_until(lambda: len(outbox.seen()) >= 1), "no first frame"
    yield live
    live.close()


def test_running_updates_are_pictures_of_their_step_measured_beside_the_drawing(session):
    outbox = session.outbox
    paused = outbox.seen()[-1]
    assert paused["resolution"] == VIEW and paused["measured_step"] == paused["step"] == 0
    live_grid = live_resolution(VIEW, [300])
    assert live_grid == VIEW // 2  # so wide a network is seen on a coarser grid while it trains

    before = len(outbox.seen())
    session.send("start")
    # several measurements in: some update of a later step than its measured fields, some of a
    # measured step past 0 (measured beside training from an update drawn then)
    assert wait_until(lambda: sum(h["measured_step"] > 0 for h in outbox.seen()[before:]) >= 3
                      and any(h["measured_step"] < h["step"] for h in outbox.seen()[before:]))
    session.send("pause")
    assert wait_until(lambda: session.state == "paused" and outbox.seen()[-1]["resolution"] == VIEW)
    running = [h for h in outbox.seen()[before:-1] if h["step"] > 0]

    assert running and all(h["resolution"] == live_grid for h in running)
    steps = [h["step"] for h in running]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # each update a new step
    assert all(h["measured_step"] <= h["step"] for h in running)
    measured = sorted({h["measured_step"] for h in running})
    assert measured[-1] > 0
    later = [h for h in running if h["measured_step"] in steps]
    assert later, "a measurement is of the partition of an update that was drawn"
    for h in later:  # measured fields of a live grid: the churn of a measured update is there
        assert h["regions"] >= 1 and h["train_loss"] is not None and h["pattern_churn_total"] is not None

    last = outbox.seen()[-1]  # paused: everything of the step on screen, at the view's own resolution
    assert last["measured_step"] == last["step"] == session.trainer.step_count
    assert last["resolution"] == VIEW
