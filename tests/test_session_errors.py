"""A live session survives an internal error (issue 29): it says so in words and stays usable,
or drops a network it cannot draw and says that; it never stops answering and keeps its place.

Real LiveSession and real training on a ring; the one thing made to fail is a method of the
trainer or the session, patched for the test (no real input makes them fail today: the inputs
that did are now refused at configure, tests/test_hardening_files.py)."""

from __future__ import annotations

import json
import time

from polytope_lens.core.training import Trainer
from polytope_lens.web.protocol import parse_command
from polytope_lens.web.sessions.local import LiveSession
from polytope_lens.web.sessions.outbox import ServerOutbox

CONFIG = dict(layers="6x2", train_points=300, val_points=100, batch_size=128)


def messages_until(outbox: ServerOutbox, wanted, timeout: float = 20.0) -> list[dict]:
    """Messages (as dicts) taken from ``outbox`` until one satisfies ``wanted``."""
    got, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages, _ = outbox.take()
        got += [m.model_dump() for m in messages]
        if any(wanted(m) for m in got):
            return got
        time.sleep(0.02)
    raise AssertionError(f"nothing wanted within {timeout} s; got {got[-6:]}")


def send(session: LiveSession, kind: str, **fields) -> None:
    assert session.submit(parse_command(json.dumps({"type": kind, **fields})))


def test_an_error_while_training_pauses_with_words_and_the_session_trains_again(ring_target, monkeypatch):
    outbox = ServerOutbox()
    session = LiveSession(lambda image, color: ring_target, outbox)
    try:
        send(session, "view", resolution=32)
        send(session, "configure", config=CONFIG)
        messages_until(outbox, lambda m: m.get("message") == "new network")
        real_step = Trainer.step
        monkeypatch.setattr(Trainer, "step", lambda self, n=1: (_ for _ in ()).throw(RuntimeError("mat1 and mat2")))
        send(session, "start")
        got = messages_until(outbox, lambda m: m["type"] == "status" and (m.get("message") or "").startswith("paused after"))
        error = next(m for m in got if m["type"] == "error")
        assert "internal error while training (mat1 and mat2); training paused" in error["message"]
        assert got[-1]["state"] == "paused"
        assert session.alive
        monkeypatch.setattr(Trainer, "step", real_step)
        send(session, "step", n=3)
        deadline = time.monotonic() + 20
        while session.step_count() != 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.step_count() == 3
    finally:
        session.close()


def test_a_network_that_cannot_be_drawn_is_dropped_in_words(ring_target, monkeypatch):
    outbox = ServerOutbox()
    session = LiveSession(lambda image, color: ring_target, outbox)
    try:
        send(session, "view", resolution=32)
        real_send_frame = LiveSession._send_frame
        monkeypatch.setattr(LiveSession, "_send_frame",
                            lambda self, remeasure=True: (_ for _ in ()).throw(RuntimeError("shapes cannot be multiplied")))
        send(session, "configure", config=CONFIG)
        got = messages_until(outbox, lambda m: m["type"] == "error")
        error = next(m for m in got if m["type"] == "error")
        assert "could not be drawn (shapes cannot be multiplied); it was dropped" in error["message"]
        assert not session.has_network and session.alive
        monkeypatch.setattr(LiveSession, "_send_frame", real_send_frame)
        send(session, "configure", config=CONFIG)
        messages_until(outbox, lambda m: m.get("message") == "new network")
        assert session.has_network and session.step_count() == 0
    finally:
        session.close()
