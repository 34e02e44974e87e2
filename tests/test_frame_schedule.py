"""How a live session spends its time: drawing never takes more time than training,
a hidden view draws nothing, and no frame is drawn while the last one waits for the client."""

from __future__ import annotations

import json
import threading
import time

import pytest

from polytope_lens.web.sessions import local as session_mod
from polytope_lens.web.protocol import parse_command
from polytope_lens.web.sessions.local import LiveSession
from polytope_lens.web.sessions.outbox import ServerOutbox

CONFIG = {"image": "ring", "layers": "8x3", "train_points": 1000, "val_points": 200, "batch_size": 256}


class CountingOutbox(ServerOutbox):
    def __init__(self):
        super().__init__()
        self.frames = 0

    def put_frame(self, frame: bytes) -> None:
        self.frames += 1
        super().put_frame(frame)


@pytest.fixture
def live(ring_target, monkeypatch):
    """A session on the in-memory ring; ``drawn`` sums the time spent drawing frames (``s``, ``n``) and
    ``cycles`` holds (draw s, train s) so far at the start of each frame drawn while running."""
    drawn = {"s": 0.0, "n": 0}
    cycles: list[tuple[float, float]] = []
    original = LiveSession._send_frame

    def timed(self, *args, **kwargs):
        if self.state == "running":
            cycles.append((drawn["s"], self._train_time))
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            drawn["s"] += time.perf_counter() - t0
            drawn["n"] += 1

    monkeypatch.setattr(LiveSession, "_send_frame", timed)
    outbox = CountingOutbox()
    session = LiveSession(lambda image, color: ring_target, outbox)
    session.drawn = drawn
    session.cycles = cycles

    def send(kind, **fields):
        session.submit(parse_command(json.dumps({"type": kind, **fields})))

    session.send = send
    send("view", resolution=256)
    send("configure", config=CONFIG)
    deadline = time.monotonic() + 30
    while not outbox.frame_pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert outbox.frame_pending(), "no first frame"
    yield session
    session.close()


def wait_until(condition, within: float = 30.0) -> bool:
    """Poll ``condition`` until it holds or ``within`` s pass (generous: the machine may be busy)."""
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def drain(outbox: ServerOutbox, stop: threading.Event) -> None:
    while not stop.is_set():
        outbox.take()
        time.sleep(0.002)


@pytest.mark.solo  # two wall-clock durations compared: nothing else runs beside it under xdist
def test_drawing_takes_less_time_than_training(live):
    """Over whole cycles of the running schedule (a frame, then the training the scheduler asks for after
    it, from the start of one frame drawn while running to the start of a later one), drawing takes at
    most 1 / (1 + TRAIN_PER_DRAW) of the time. The frames outside such cycles are left out: the first
    one after Start is drawn at once (no training before it) and Pause draws the paused network."""
    stop = threading.Event()
    reader = threading.Thread(target=drain, args=(live.outbox, stop), daemon=True)
    reader.start()
    live.outbox.take()
    frames_before = live.drawn["n"]
    live.send("start")
    time.sleep(2.0)
    # At least 2 s of training; on a busy machine, on until enough whole cycles were drawn.
    wait_until(lambda: len(live.cycles) >= 6)
    live.send("pause")
    time.sleep(0.3)
    stop.set()
    reader.join()
    frames = live.drawn["n"] - frames_before
    assert frames >= 5  # it does stream
    assert len(live.cycles) >= 6, live.cycles
    (draw_0, train_0), (draw_1, train_1) = live.cycles[0], live.cycles[-1]
    draw_s, train_s = draw_1 - draw_0, train_1 - train_0
    assert draw_s <= train_s, f"drew {draw_s:.3f} s, trained {train_s:.3f} s over {len(live.cycles) - 1} cycles"
    assert draw_s <= (1.0 / (1.0 + session_mod.TRAIN_PER_DRAW)) * (draw_s + train_s) + 0.05, (draw_s, train_s)


def test_a_hidden_view_draws_nothing(live):
    live.outbox.take()
    live.send("view", visible=False)
    frames_before = live.outbox.frames
    live.send("start")
    time.sleep(1.0)  # a second of training in which a visible view would be drawn several times
    assert wait_until(lambda: live.trainer.step_count > 0)  # training goes on
    assert live.outbox.frames == frames_before
    live.send("view", visible=True)
    assert wait_until(lambda: live.outbox.frames > frames_before)  # and drawing resumes when the view is back


def test_no_frame_is_drawn_while_the_last_one_waits(live):
    # The configure frame is never taken (a client that stopped reading): training runs,
    # nothing more is drawn, and the waiting frame stays the one there is.
    frames_before = live.outbox.frames
    live.send("start")
    time.sleep(1.0)  # a second of training in which a reading client would get several frames
    assert wait_until(lambda: live.trainer.step_count > 0)
    assert live.outbox.frames == frames_before
    live.outbox.take()
    assert wait_until(lambda: live.outbox.frames > frames_before)


@pytest.mark.parametrize("command", ["pause", "reset"])
def test_a_status_that_changes_the_step_is_never_followed_by_an_older_frame(live, command):
    # A frame still waiting when pause/reset answers would be sent after that status and
    # put an older step on screen; the session drops it before saying its new state.
    waiting_at_status = []
    put_message = live.outbox.put_message

    def watch(message):
        if message.type == "status" and message.state == "paused":
            waiting_at_status.append(live.outbox.frame_pending())
        put_message(message)

    live.outbox.put_message = watch
    live.send("start")
    time.sleep(0.5)  # the configure frame is never taken, so one is waiting throughout
    assert live.outbox.frame_pending()
    live.send(command)
    deadline = time.monotonic() + 10
    while not waiting_at_status and time.monotonic() < deadline:
        time.sleep(0.01)
    assert waiting_at_status == [False]
    while not live.outbox.frame_pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.outbox.frame_pending()  # and the frame of the paused network follows
