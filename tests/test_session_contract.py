"""One session contract, three engines: every form implements all of it, the remote call list is the
contract's, and a capability answers the same through each engine (a real thread, process and Ray
actor; Ray only where the extra is installed)."""

from __future__ import annotations

import inspect
import json
import time

import pytest
import torch

from polytope_lens.web.config import Settings
from polytope_lens.web.protocol import ErrorMessage, parse_command
from polytope_lens.web.sessions.contract import Downloads, Outbox, Session, contract_members, remote_members
from polytope_lens.web.sessions.downloads import SessionDownloads
from polytope_lens.web.sessions.engine import Engine
from polytope_lens.web.sessions.factory import FACTORIES, session_factory
from polytope_lens.web.sessions.local import LiveSession
from polytope_lens.web.sessions.outbox import ServerOutbox
from polytope_lens.web.sessions.process import PipeOutbox, SessionProcess
from polytope_lens.web.sessions.ray import ActorOutbox, RaySession
from polytope_lens.web.sessions.remote import REMOTE_CALLS, HostOptions, RemoteDownloads, SessionHost

CONFIG = {"image": "ring", "layers": "8x3", "train_points": 1000, "val_points": 200, "batch_size": 256}
STEPS = 3


def _implements(form: type, contract: type) -> list[str]:
    """The contract members ``form`` leaves unimplemented (still the contract's abstract ones)."""
    missing = []
    for name in contract_members(contract):
        member = inspect.getattr_static(form, name)
        if member is inspect.getattr_static(contract, name) or getattr(member, "__isabstractmethod__", False):
            missing.append(name)
    return missing


@pytest.mark.parametrize("form", [LiveSession, SessionProcess, RaySession])
def test_every_session_form_implements_the_whole_contract(form):
    assert issubclass(form, Session)
    assert not form.__abstractmethods__
    assert _implements(form, Session) == []


@pytest.mark.parametrize("form", [SessionDownloads, RemoteDownloads])
def test_every_downloads_form_implements_the_whole_contract(form):
    assert issubclass(form, Downloads)
    assert not form.__abstractmethods__
    assert _implements(form, Downloads) == []


@pytest.mark.parametrize("form", [ServerOutbox, PipeOutbox, ActorOutbox])
def test_every_outbox_implements_the_outbox_contract(form):
    assert issubclass(form, Outbox)
    assert not form.__abstractmethods__
    assert _implements(form, Outbox) == []


def test_every_engine_has_one_factory():
    assert set(FACTORIES) == set(Engine)
    assert Settings(session_engine="thread").session_engine is Engine.THREAD  # the plain names are taken
    with pytest.raises(ValueError, match="process, thread, ray"):
        Settings(session_engine="fibre")


def test_the_remote_calls_are_the_contracts_remote_members():
    on_session, on_downloads = remote_members(Session), remote_members(Downloads)
    assert set(REMOTE_CALLS) == set(on_session) | set(on_downloads)
    assert set(on_session) <= contract_members(Session) and set(on_downloads) <= contract_members(Downloads)
    assert {"weights_snapshot", "step_count", "frame_png", "checkpoint"} <= set(REMOTE_CALLS)
    # what a handle answers itself is not called where the session runs
    assert not {"submit", "close", "alive", "config", "has_network", "downloads"} & set(REMOTE_CALLS)


def test_a_host_answers_only_the_remote_calls():
    options = HostOptions(token="t" * 24, device=None, max_queued=4, history_bytes=1 << 20,
                          threads=torch.get_num_threads())  # the test process keeps its own count
    host = SessionHost(ServerOutbox(), options, on_command_taken=lambda: None)
    try:
        assert host.answer("step_count", ()) is None  # no network yet
        for name in ("close", "_send_frame", "trainer", "frame_picture"):
            with pytest.raises(AttributeError, match="no method"):
                host.answer(name, ())
    finally:
        host.close(timeout=5.0)


@pytest.fixture(scope="module")
def ray_address(local_ray):
    return local_ray  # tests/conftest.py: one local Ray per test process


def _wait(condition, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the session did not get there in time"
        time.sleep(0.05)


@pytest.mark.parametrize("engine", list(Engine), ids=[e.value for e in Engine])
def test_a_capability_answers_the_same_through_every_engine(engine, ring_target, request):
    """Opened by the one factory: the same commands, the same answers (the step, a frozen network
    carried back, a download made beside the session, what the last status said)."""
    extra = {}
    if engine is Engine.RAY:
        extra = {"ray_address": request.getfixturevalue("ray_address"), "cpus_per_session": 0.5}
    factory = session_factory(Settings(session_engine=engine, **extra))
    factory.start()
    session = factory.open(lambda image, color: ring_target, ServerOutbox())
    try:
        assert isinstance(session, Session) and session.token and session.view.resolution > 0
        assert session.submit(parse_command(json.dumps({"type": "configure", "config": CONFIG})))
        assert session.submit(parse_command(json.dumps({"type": "step", "n": STEPS})))
        _wait(lambda: session.step_count() == STEPS)
        _wait(lambda: session.has_network)
        snapshot, step = session.weights_snapshot()
        assert step == STEPS and snapshot.widths == [8, 8, 8]
        checkpoint = session.downloads.checkpoint()
        assert checkpoint.data and checkpoint.name == f"polytope-lens-ring-8x3-step{STEPS}-checkpoint.pt"
        assert session.config().layers == "8x3"
        assert session.downloads.clip_movie() is None  # a picture's run has no clip
    finally:
        assert session.close(timeout=5.0)
        factory.stop()
    assert not session.alive


def test_the_actor_outbox_holds_the_latest_frame_and_says_what_was_discarded():
    """The Ray actor's outbox (no Ray needed): what waits for the server's next take."""
    box = ActorOutbox()
    said = ErrorMessage(message="said")
    box.put_message(said)
    box.put_frame(b"old")
    box.discard_frame()
    box.put_frame(b"new")
    assert box.ready.is_set() and box.frame_pending()
    assert box.take_for_server(with_frame=False) == (True, [said], None)
    assert box.ready.is_set()  # the frame still waits for the server
    assert box.take_for_server(with_frame=True) == (False, [], b"new")
    assert not box.ready.is_set() and not box.frame_pending()
