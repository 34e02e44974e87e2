"""A session outlives a dropped socket: the page reconnects with ``/ws?resume=TOKEN`` and the run
goes on where it was (routers/live.py, registry.py). A page that closes its socket itself ends its
session at once; one that never comes back has it ended after ``resume_grace_s``."""

from __future__ import annotations

import contextlib
import socket
import time

import httpx
import pytest
from live_server import SMALL_CONFIG, LiveClient, running_server
from websockets.exceptions import ConnectionClosed

GRACE_S = 6.0


@pytest.fixture(scope="module")
def server():
    with running_server(max_sessions=2, resume_grace_s=GRACE_S) as url:
        yield url
        assert url.alive(), "the server died"


def health(server) -> dict:
    return httpx.get(f"{server}/api/health").json()


def drop(client: LiveClient) -> None:
    """Cut the connection without a close frame, as a network blip or a stalled page does."""
    sock = client.ws.socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    client.close()


def wait_health(server, key: str, value: int, within: float) -> None:
    deadline = time.monotonic() + within
    while health(server)[key] != value:
        assert time.monotonic() < deadline, f"health never had {key}={value}: {health(server)}"
        time.sleep(0.05)


def resume(server, token: str) -> tuple[LiveClient, dict]:
    client = LiveClient(f"{server.ws}?resume={token}", read_status=False)
    return client, client.recv(timeout=20)


def training(server) -> tuple[LiveClient, int]:
    client = LiveClient(server)
    client.configure(**SMALL_CONFIG)
    client.send("start")
    step = client.expect("frame", where=lambda f: f["step"] >= 20, timeout=30)["step"]
    return client, step


def test_a_dropped_session_trains_on_and_its_page_takes_it_back(server):
    client, step = training(server)
    token = client.token
    drop(client)
    wait_health(server, "away", 1, 10)
    time.sleep(0.5)  # it trains on while away
    again, first = resume(server, token)
    with again:
        assert first == {"type": "resumed", "token": token}
        assert health(server)["away"] == 0
        # the same run: its steps go on from where they were (a new network would start at 0)
        frame = again.expect("frame", timeout=20)
        assert frame["step"] > step
        again.send("pause")
        status = again.expect("status", where=lambda m: m["state"] == "paused")
        assert status["token"] == token and status["config"]["layers"] == SMALL_CONFIG["layers"]
        assert status["step"] > step
        # its downloads still answer by the same token
        assert httpx.get(f"{server}/api/sessions/{token}/checkpoint").status_code == 200
    wait_health(server, "sessions", 0, 10)  # closed by its page: ended at once


def test_a_session_whose_page_never_comes_back_ends_after_the_grace(server):
    client, _ = training(server)
    token = client.token
    drop(client)
    wait_health(server, "away", 1, 10)
    assert health(server)["sessions"] == 1  # it keeps its place meanwhile
    wait_health(server, "sessions", 0, GRACE_S + 10)
    assert health(server)["away"] == 0
    late, first = resume(server, token)
    with late:
        assert first["type"] == "status" and first["config"] is None  # a new session: the page starts over
        assert first["token"] != token


def test_a_page_that_closes_its_socket_ends_its_session_at_once(server):
    client = LiveClient(server)
    client.configure(**SMALL_CONFIG)
    token = client.token
    client.close()
    wait_health(server, "sessions", 0, 5)
    assert health(server)["away"] == 0
    again, first = resume(server, token)
    with again:
        assert first["type"] == "status" and first["token"] != token


def test_a_newer_socket_takes_the_session_from_an_older_one(server):
    """The page may see its socket drop before the server does: its new socket takes the session."""
    old = LiveClient(server)
    old.configure(**SMALL_CONFIG)
    newer, first = resume(server, old.token)
    with newer:
        assert first == {"type": "resumed", "token": old.token}
        with pytest.raises(ConnectionClosed) as closed:
            old.quiet(10)
            old.recv(timeout=1)
        assert closed.value.rcvd.code == 4001
        newer.send("step", n=3)
        status = newer.expect("status", where=lambda m: m["step"] >= 3)
        assert status["token"] == old.token
        assert health(server) == {"status": "ok", "sessions": 1, "away": 0}
    wait_health(server, "sessions", 0, 5)


def test_a_new_page_takes_the_place_of_a_session_away_when_every_place_is_taken(server):
    client, _ = training(server)
    drop(client)
    wait_health(server, "away", 1, 10)
    with LiveClient(server) as second, LiveClient(server) as third:  # two places: the one away makes room
        assert second.token and third.token
        assert health(server) == {"status": "ok", "sessions": 2, "away": 0}
        late, first = resume(server, client.token)  # it was ended: nothing to take back, and no room
        with late:
            assert first["type"] == "error" and first["field"] == "busy"
        guess, first = resume(server, "not-a-token")
        with guess:
            assert first["type"] == "error" and first["field"] == "busy"
    wait_health(server, "sessions", 0, 5)
