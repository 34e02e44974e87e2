"""Live sessions as Ray actors (serve --engine ray): the websocket protocol tests of
test_websocket.py, run again against a server whose sessions train in actors of a real
local Ray (started here; the server joins it by its address, as --address does)."""

from __future__ import annotations

import time

import httpx
import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'polytope-lens[ray]')")

from live_server import SMALL_CONFIG, LiveClient, running_server  # noqa: E402

# The same tests, collected here again with this module's server and client fixtures.
from test_websocket import (  # noqa: E402,F401
    test_commands_before_configure_are_explained,
    test_configure_answers_status_points_and_first_frame,
    test_downloads_work_and_need_the_token,
    test_one_session_cannot_see_another,
    test_pause_stops_frames,
    test_reset_goes_back_to_step_zero,
    test_start_streams_frames_with_growing_step_and_falling_loss,
    test_step_n_gives_exactly_n_more_steps,
)


@pytest.fixture(scope="module")
def ray_address(local_ray):
    return local_ray  # tests/conftest.py: one local Ray per test process


@pytest.fixture(scope="module")
def server(ray_address):
    with running_server(session_engine="ray", ray_address=ray_address, cpus_per_session=0.5) as url:
        yield url


@pytest.fixture
def client(server):
    with LiveClient(server) as c:
        yield c


def _session_actors() -> list[str]:
    """Names of the server's live session actors (named ones only; a dead actor's name is freed)."""
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == "polytope-lens" and a["name"].startswith("session-")]


def _actors_alive() -> int:
    return len(_session_actors())


def _wait_actors(n: int, within: float = 15.0) -> int:
    deadline = time.monotonic() + within
    while _actors_alive() != n and time.monotonic() < deadline:
        time.sleep(0.2)
    return _actors_alive()


def test_each_session_is_an_actor_on_the_cluster_and_goes_with_its_socket(server):
    before = _wait_actors(0)  # the sessions of earlier tests are gone
    assert before == 0
    with LiveClient(server) as client:
        client.configure(**SMALL_CONFIG)
        client.send("step", n=20)
        client.expect("status", where=lambda m: m["step"] == 20)
        assert _actors_alive() == before + 1
        # geometry routes read the actor's weights
        assert httpx.get(f"{server}/api/sessions/{client.token}/regions.json").status_code == 200
    assert _wait_actors(0) == 0, "the session's actor outlived its socket"


def test_a_killed_actor_is_said_in_words_and_the_server_goes_on(server):
    _wait_actors(0)
    with LiveClient(server) as client:
        client.configure(**SMALL_CONFIG)
        alive = _session_actors()
        assert len(alive) == 1
        ray.kill(ray.get_actor(alive[0], namespace="polytope-lens"))
        error = client.expect("error", where=lambda m: m.get("field") == "session", timeout=20)
        assert "ended unexpectedly" in error["message"]
    with LiveClient(server) as other:
        other.configure(**SMALL_CONFIG)
        other.send("step", n=5)
        other.expect("status", where=lambda m: m["step"] == 5)
