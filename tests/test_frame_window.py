"""A client that acknowledges frames (``/ws?acks=1``, as the page does) has at most a few
unacknowledged at a time (routers/live.py FrameWindow): a page slower than the server is sent
fewer, newer frames, never a backlog it would show seconds late."""

from __future__ import annotations

import json
import time

import pytest
from live_server import SMALL_CONFIG, LiveClient, serving_here

from polytope_lens.web.routers.live import FRAME_WINDOW


@pytest.fixture(scope="module")
def server():
    with serving_here(session_engine="thread") as url:
        yield url


def frames_within(client: LiveClient, seconds: float) -> list[dict]:
    return [m for m in client.quiet(seconds) if m.get("type") == "frame"]


def test_a_client_that_acknowledges_nothing_gets_a_window_of_frames_then_waits(server):
    with LiveClient(f"{server.ws}?acks=1") as client:
        client.configure(**SMALL_CONFIG)  # its first frame: one out
        client.send("start")
        got = frames_within(client, 3.0)
        assert len(got) == FRAME_WINDOW - 1, [f["step"] for f in got]  # the window is full: nothing more
        stalled_at = got[-1]["step"]
        # one acknowledgement lets exactly one more through: the newest, not the next in a queue
        client.send("received")
        more = frames_within(client, 2.0)
        assert len(more) == 1 and more[0]["step"] > stalled_at + 1
        # acknowledging each frame as it comes: frames flow again, steps rising
        flowing = []
        deadline = time.monotonic() + 3.0
        for _ in range(FRAME_WINDOW):
            client.send("received")
        while time.monotonic() < deadline:
            message = client.recv(timeout=5)
            if message.get("type") == "frame":
                flowing.append(message["step"])
                client.send("received")
        assert len(flowing) > 2 * FRAME_WINDOW and flowing == sorted(flowing)
        # replies are not windowed: a command is still answered while frames wait
        client.send("pause")
        client.expect("status", where=lambda m: m["state"] == "paused")


def test_without_acks_frames_are_not_windowed_and_a_stray_received_is_ignored(server):
    with LiveClient(server) as client:
        client.configure(**SMALL_CONFIG)
        client.send("received")  # not asked for on this socket: no effect, no reply
        client.send("start")
        got = frames_within(client, 3.0)
        assert len(got) > 2 * FRAME_WINDOW
        assert not [m for m in client.messages if m.get("type") == "error"]
        client.ws.send(json.dumps({"type": "pause"}))
        client.expect("status", where=lambda m: m["state"] == "paused")
