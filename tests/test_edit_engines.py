"""Session.edit (web/sessions/contract.py) through every engine: a real thread, process and Ray actor
(Ray only where the extra is installed), as tests/test_session_contract.py does for the other
members; and what an edit leaves in the run (history mark, movie frame)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from polytope_lens.web.config import Settings
from polytope_lens.web.protocol import Edit, ErrorMessage, parse_command
from polytope_lens.web.sessions.contract import Session, remote_members
from polytope_lens.web.sessions.engine import Engine
from polytope_lens.web.sessions.factory import session_factory
from polytope_lens.web.sessions.local import LiveSession
from polytope_lens.web.sessions.outbox import ServerOutbox
from polytope_lens.web.sessions.remote import REMOTE_CALLS

CONFIG = {"image": "ring", "layers": "4,3", "train_points": 300, "val_points": 50, "batch_size": 64}


def _edit(**fields) -> Edit:
    return parse_command(json.dumps({"type": "edit", **fields}))


def _wait(condition, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the session did not get there in time"
        time.sleep(0.05)


def test_edit_is_a_remote_member_of_the_contract():
    assert "edit" in remote_members(Session) and "edit" in REMOTE_CALLS


@pytest.fixture(scope="module")
def ray_address(local_ray):
    return local_ray  # tests/conftest.py: one local Ray per test process


@pytest.mark.parametrize("engine", list(Engine), ids=[e.value for e in Engine])
def test_an_edit_answers_the_same_through_every_engine(engine, ring_target, request):
    extra = {}
    if engine is Engine.RAY:
        extra = {"ray_address": request.getfixturevalue("ray_address"), "cpus_per_session": 0.5}
    factory = session_factory(Settings(session_engine=engine, **extra))
    factory.start()
    outbox = ServerOutbox()
    session = factory.open(lambda image, color: ring_target, outbox)
    try:
        refused = session.edit(_edit(layer=1, kind="bias", row=0, value=1.0))
        assert isinstance(refused, ErrorMessage) and "configure" in refused.message  # no network yet
        assert session.submit(parse_command(json.dumps({"type": "configure", "config": CONFIG})))
        assert session.submit(parse_command(json.dumps({"type": "step", "n": 2})))
        _wait(lambda: session.step_count() == 2)
        before, _ = session.weights_snapshot()
        assert session.edit(_edit(layer=2, kind="weight", row=1, col=3, value=-0.5)) is None
        after, step = session.weights_snapshot()
        assert step == 2
        (W0, b0), (W1, b1), out = before.affine_layers()
        (V0, c0), (V1, c1), out2 = after.affine_layers()
        assert V1[1, 3] == np.float32(-0.5)
        changed = np.argwhere(V1 != W1).tolist()
        assert changed == [[1, 3]] and np.array_equal(V0, W0) and np.array_equal(c1, b1)
        assert session.edit(_edit(layer=3, kind="bias", values=[0.25])) is None
        assert session.weights_snapshot()[0].affine_layers()[2][1].tolist() == [0.25]
        refusal = session.edit(_edit(layer=2, kind="weight", row=3, col=0, value=1.0))
        assert isinstance(refusal, ErrorMessage) and refusal.field == "row" and "past the 3 neurons" in refusal.message
        assert np.array_equal(session.weights_snapshot()[0].affine_layers()[1][0], V1)
    finally:
        assert session.close(timeout=5.0)
        factory.stop()


def test_an_edit_is_marked_in_the_history_and_recorded_in_the_movie(ring_target):
    session = LiveSession(lambda image, color: ring_target, ServerOutbox())
    try:
        assert session.submit(parse_command(json.dumps({"type": "configure", "config": CONFIG})))
        assert session.submit(parse_command(json.dumps({"type": "step", "n": 3})))
        _wait(lambda: session.step_count() == 3)
        movie_frames = len(session.movie.frames)
        # a frame of an edit is recorded at most every min_interval_s after the last one (a dragged slider)
        _wait(lambda: time.monotonic() - session.movie.last_time >= session.movie.min_interval_s)
        assert session.edit(_edit(layer=1, kind="weight", row=2, col=0, value=0.125)) is None
        assert session.history.marks() == [(3, "layer 1 w[2,0] = 0.125")]
        assert session.history.get(3).affine_layers()[0][0][2, 0] == np.float32(0.125)  # the edited network
        assert len(session.movie.frames) == movie_frames + 1 and session.movie.steps[-1] == 3
        session.submit(parse_command('{"type": "reset"}'))
        _wait(lambda: session.history.marks() == [])
    finally:
        session.close(timeout=5.0)
