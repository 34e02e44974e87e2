"""The websocket protocol (docs/protocol.md) with a real client against a real server."""

from __future__ import annotations

import io
import math
import threading
import time

import httpx
import psutil
import pytest
import torch
from live_server import SMALL_CONFIG, LiveClient, running_app, running_server
from PIL import Image

from polytope_lens.web.app import create_app
from polytope_lens.web.config import Settings


@pytest.fixture(scope="module")
def server():
    with running_server() as url:
        yield url


@pytest.fixture
def client(server):
    with LiveClient(server) as c:
        yield c


def test_first_status_has_a_token_and_no_network(client):
    status = client.status
    assert status["state"] == "idle" and status["step"] == 0 and status["config"] is None
    assert status["view"] == {"resolution": 512, "fill_regions": False, "boundaries": True, "render": "server", "t": 0.0,
                              "surface": False}
    assert len(status["token"]) >= 20


def test_configure_answers_status_points_and_first_frame(client):
    client.send("view", resolution=64)
    assert client.expect("status")["view"]["resolution"] == 64
    client.send("configure", config={k: v for k, v in SMALL_CONFIG.items() if k != "resolution"})
    status = client.expect("status")
    assert status["state"] == "paused" and status["step"] == 0
    assert status["config"]["layers"] == "8x3" and "resolution" not in status["config"]
    assert status["image_url"] == "/api/images/ring"
    points = client.expect("points")
    assert points["size"] == 1024
    assert len(points["train"]) == 1000 and len(points["val"]) == 200
    assert all(0 <= r < 1024 and 0 <= c < 1024 for r, c in points["train"][:50])
    frame = client.expect("frame")
    assert frame["step"] == 0 and frame["resolution"] == 64 and frame["channels"] == 1
    assert frame["regions"] >= 1
    assert len(client.sections["prediction"]) == 64 * 64
    assert len(client.sections["boundary"]) == math.ceil(64 * 64 / 8)
    assert math.isfinite(frame["train_loss"]) and math.isfinite(frame["val_loss"])


def test_start_streams_frames_with_growing_step_and_falling_loss(client):
    client.configure(**SMALL_CONFIG)
    first = client.frames[-1]
    client.send("start")
    running = client.expect("status", where=lambda m: m["state"] == "running")
    assert running["step"] == 0
    deadline = time.monotonic() + 20
    frames = []
    while time.monotonic() < deadline:
        message = client.recv(timeout=10)
        if message["type"] == "frame":
            frames.append(message)
            if len(frames) >= 5 and message["val_loss"] < 0.5 * first["val_loss"]:
                break
    client.send("pause")
    steps = [f["step"] for f in frames]
    assert len(frames) >= 5
    assert steps == sorted(steps) and steps[-1] > steps[0] > 0
    assert frames[-1]["val_loss"] < 0.5 * first["val_loss"], [f["val_loss"] for f in frames]
    assert frames[-1]["train_loss"] < first["train_loss"]
    assert frames[-1]["steps_per_s"] > 0 and frames[-1]["elapsed_s"] > 0


def test_pause_stops_frames(client):
    client.configure(**SMALL_CONFIG)
    client.send("start")
    client.expect("frame", where=lambda f: f["step"] > 0)
    client.send("pause")
    paused = client.expect("status", where=lambda m: m["state"] == "paused")
    after = client.quiet(1.5)
    frames = [m for m in after if m["type"] == "frame"]
    # the frame that shows the paused state, and (when the exact count overran the live budget)
    # the same step again with the count finished while paused
    assert all(f["step"] == paused["step"] for f in frames), [f["step"] for f in frames]
    # and it stays paused
    assert [m for m in client.quiet(0.5) if m["type"] != "frame" or m["step"] != paused["step"]] == []


def test_step_n_gives_exactly_n_more_steps(client):
    client.configure(**SMALL_CONFIG)
    client.send("step", n=37)
    status = client.expect("status", where=lambda m: m["step"] > 0)
    assert status["step"] == 37 and status["state"] == "paused"
    frame = client.expect("frame", where=lambda f: f["step"] > 0)
    assert frame["step"] == 37
    client.send("step", n=5)
    assert client.expect("status", where=lambda m: m["step"] > 37)["step"] == 42
    client.send("step")  # n defaults to 1
    assert client.expect("status", where=lambda m: m["step"] > 42)["step"] == 43
    assert [m for m in client.quiet(0.5) if m["type"] == "frame" and m["step"] > 43] == []


def test_reset_goes_back_to_step_zero(client):
    client.configure(**SMALL_CONFIG)
    client.send("step", n=20)
    client.expect("status", where=lambda m: m["step"] == 20)
    client.send("reset")
    status = client.expect("status", where=lambda m: m.get("message") == "new initialisation")
    assert status["step"] == 0 and status["state"] == "paused"
    assert client.expect("frame", where=lambda f: f["step"] == 0)["step"] == 0


def test_set_lr_applies_live(client):
    client.configure(**SMALL_CONFIG)
    client.send("start")
    client.expect("frame", where=lambda f: f["step"] > 0)
    client.send("set", lr=0.02)
    status = client.expect("status", where=lambda m: m["config"]["lr"] == 0.02)
    assert status["state"] == "running"  # training went on
    step_then = status["step"]
    client.expect("frame", where=lambda f: f["step"] > step_then)
    client.send("set", optimizer="sgd", lr=0.05)
    status = client.expect("status", where=lambda m: m["config"]["optimizer"] == "sgd")
    assert status["config"]["lr"] == 0.05 and status["state"] == "running"
    client.send("pause")
    client.expect("status", where=lambda m: m["state"] == "paused")


@pytest.mark.parametrize(
    "config, field, words",
    [
        ({"layers": "0x3"}, "layers", "positive"),
        ({"layers": "14x6,"}, "layers", "comma"),
        ({"lr": -1}, "lr", "greater than"),
        ({"lr": "fast"}, "lr", "number"),
        ({"resolution": 64}, "resolution", "'view' message"),
        ({"optimizer": "adamw"}, "optimizer", "adam"),
        ({"colour": True}, "colour", "unknown field"),
        ({"image": "no-such-picture"}, "image", "no picture"),
        ({"train_points": 0}, "train_points", "greater than"),
    ],
)
def test_invalid_config_gets_an_error_naming_the_field(client, config, field, words):
    client.send("configure", config=config)
    error = client.expect("error")
    assert error["field"] == field
    assert field in error["message"] and words in error["message"]
    # the session is still usable afterwards
    status = client.configure(**SMALL_CONFIG)
    assert status["state"] == "paused"


def test_resolution_changes_with_the_view_and_keeps_the_network(client):
    """A drawing setting never restarts training: the step goes on and the network is the same."""
    client.configure(**SMALL_CONFIG)
    client.send("start")
    before = client.expect("frame", where=lambda f: f["step"] >= 30)
    seen = len(client.messages)
    client.send("view", resolution=32)
    status = client.expect("status", where=lambda m: m["view"]["resolution"] == 32)
    assert status["step"] >= before["step"] and status["state"] == "running"
    after = client.expect("frame", where=lambda f: f["resolution"] == 32)
    assert after["step"] >= before["step"]
    assert not any(m.get("message") in ("new network", "new initialisation") for m in client.messages[seen:])
    client.send("view", resolution=4)
    error = client.expect("error")
    assert error["field"] == "resolution" and "16" in error["message"]
    client.send("pause")
    client.expect("status", where=lambda m: m["state"] == "paused")


def test_frame_cost_is_checked_for_a_new_network_and_for_a_new_resolution(client):
    client.send("view", resolution=512)
    client.send("configure", config={"layers": "1024,1024"})
    error = client.expect("error")
    assert error["field"] == "resolution" and "live limit" in error["message"] and "at most" in error["message"]
    status = client.configure(layers="256x3", train_points=300, val_points=100, resolution=16)
    client.send("view", resolution=1024)
    error = client.expect("error")
    assert error["field"] == "resolution" and "live limit" in error["message"]
    client.send("step", n=1)
    after = client.expect("status", where=lambda m: m["step"] == 1)
    assert after["view"]["resolution"] == 16 and after["config"] == status["config"]  # nothing changed


def test_commands_before_configure_are_explained(client):
    for kind in ("start", "pause", "reset"):
        client.send(kind)
        assert "configure" in client.expect("error")["message"]
    client.send("step", n=3)
    assert "configure" in client.expect("error")["message"]


def test_downloads_work_and_need_the_token(server, client):
    client.configure(**SMALL_CONFIG)
    client.send("step", n=30)
    status = client.expect("status", where=lambda m: m["step"] == 30)
    client.expect("frame", where=lambda f: f["step"] == 30)
    token = status["token"]
    base = f"{server}/api/sessions/{token}"
    with httpx.Client(timeout=60) as http:
        frame = http.get(f"{base}/frame.png")
        assert frame.status_code == 200 and frame.headers["content-type"] == "image/png"
        assert "attachment" in frame.headers["content-disposition"]
        img = Image.open(io.BytesIO(frame.content))
        assert img.width > img.height >= 64  # three panels side by side, with a caption

        config = http.get(f"{base}/config")
        assert config.status_code == 200 and config.json() == status["config"]

        ckpt = http.get(f"{base}/checkpoint")
        assert ckpt.status_code == 200
        data = torch.load(io.BytesIO(ckpt.content), map_location="cpu", weights_only=True)
        assert data["step"] == 30 and data["config"] == status["config"]

        movie = http.get(f"{base}/movie")
        assert movie.status_code == 200
        assert movie.headers["content-type"] in ("video/mp4", "image/gif")
        assert len(movie.content) > 100

        for kind in ("frame.png", "config", "checkpoint", "movie"):
            wrong = http.get(f"{server}/api/sessions/{token[:-2]}xx/{kind}")
            assert wrong.status_code == 404


def test_one_session_cannot_see_another(server):
    with LiveClient(server) as a, LiveClient(server) as b:
        a.configure(**SMALL_CONFIG, seed=1)
        b.configure(**SMALL_CONFIG, seed=2)
        assert a.token != b.token
        assert httpx.get(f"{server}/api/sessions/{a.token}/config").json()["seed"] == 1
        assert httpx.get(f"{server}/api/sessions/{b.token}/config").json()["seed"] == 2
        # b's commands only move b
        b.send("step", n=10)
        b.expect("status", where=lambda m: m["step"] == 10)
        assert all(m.get("step", 0) == 0 for m in a.quiet(0.3) if m["type"] in ("status", "frame"))
    assert httpx.get(f"{server}/api/sessions/{a.token}/config").status_code == 404  # gone with its socket


def _session_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("session-")]


def _training_session(app, url) -> tuple[LiveClient, object]:
    """A client whose session trains, and the session object of the in-process app."""
    client = LiveClient(url)
    client.configure(**SMALL_CONFIG)
    client.send("start")
    client.expect("frame", where=lambda f: f["step"] > 0)
    assert len(app.state.registry.sessions) == 1
    return client, next(iter(app.state.registry.sessions.values()))


def _wait_closed(app, session, within: float) -> None:
    t0 = time.monotonic()
    while (app.state.registry.sessions or session.alive) and time.monotonic() - t0 < within:
        time.sleep(0.02)


def test_closing_the_socket_stops_training_and_frees_the_session():
    """In-process server, so the app state and the session's process can be inspected."""
    app = create_app(Settings())
    with running_app(app) as url:
        before = len(_session_threads())
        client, session = _training_session(app, url)
        process = psutil.Process(session._process.pid)
        assert session.alive and process.is_running() and len(_session_threads()) > before
        assert process.cpu_times().user > 0  # it trains there, not here
        client.close()
        _wait_closed(app, session, 3.0)
        assert not app.state.registry.sessions, "the session is still in the app state"
        assert not session.alive, "the session's process still runs after the socket closed"
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
        t0 = time.monotonic()
        while len(_session_threads()) > before and time.monotonic() - t0 < 1.0:
            time.sleep(0.02)
        assert len(_session_threads()) == before, "the session's relay threads still run"


def test_a_session_in_the_servers_own_process_is_freed_too():
    """With session_engine "thread", the session is a thread of the server: the same promise."""
    app = create_app(Settings(session_engine="thread"))
    with running_app(app) as url:
        before = len(_session_threads())
        client, session = _training_session(app, url)
        assert session.alive and len(_session_threads()) == before + 1 and session.trainer is not None
        client.close()
        _wait_closed(app, session, 1.0)
        assert not session.alive and len(_session_threads()) == before
        assert session.trainer is None  # the network was let go


def test_a_crashed_session_process_is_said_in_words_and_the_server_goes_on():
    """The session's process killed from outside: its socket gets an error naming the session,
    and a new session trains as usual."""
    app = create_app(Settings())
    with running_app(app) as url:
        with LiveClient(url) as client:
            client.configure(**SMALL_CONFIG)
            client.send("start")
            client.expect("frame", where=lambda f: f["step"] > 0)
            session = app.state.registry.get(client.token)
            psutil.Process(session._process.pid).kill()
            error = client.expect("error", where=lambda m: m.get("field") == "session", timeout=10)
            assert "ended unexpectedly" in error["message"]
            assert httpx.get(f"{url}/api/sessions/{client.token}/frame.png").status_code == 404
        with LiveClient(url) as other:
            other.configure(**SMALL_CONFIG)
            other.send("step", n=5)
            other.expect("status", where=lambda m: m["step"] == 5)
