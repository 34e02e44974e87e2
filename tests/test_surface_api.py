"""The origami surface on the wire: GET /surface (/surface.obj) against a real server, the live
``surface`` message while ``view.surface`` is true (and only then), past the live budget, and the
same capability through every session engine (a thread, a process, a Ray actor where installed).

Independent references: the checkpoint the server hands out, evaluated by a forward pass in torch
float64 (test_surface.forward64), and the exact partition of the session's own frozen weights.
"""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest

from live_server import LiveClient, running_app
from test_surface import forward64

from polytope_lens.core.settings import VIEW_FIELDS
from polytope_lens.core.training import trainer_from_checkpoint
from polytope_lens.geometry.decision import decision_regions
from polytope_lens.geometry.exact import exact_partition
from polytope_lens.geometry.slices import slice_weights
from polytope_lens.geometry.surface import decode_surface
from polytope_lens.geometry.surface import read_obj
from polytope_lens.web.app import create_app
from polytope_lens.web.config import Settings
from polytope_lens.web.protocol import BinaryMessage, parse_command
from polytope_lens.web.routers import geometry as geometry_routes
from polytope_lens.web.sessions.engine import Engine
from polytope_lens.web.sessions.factory import session_factory
from polytope_lens.web.sessions.outbox import ServerOutbox
from polytope_lens.web.wire import decode_frame

SMALL = dict(layers="8x3", resolution=64, train_points=1000, val_points=200, batch_size=256)


@pytest.fixture(scope="module")
def server():
    with running_app(create_app(Settings())) as url:
        # the first session of a server starts its fork server: on a busy machine that alone can take
        # longer than LiveClient's 20 s for the first status, so one session is opened here, waited for
        warm = LiveClient(url, read_status=False)
        warm.expect("status", timeout=120)
        warm.close()
        yield url


def read(client: LiveClient, timeout: float):
    """The next message: (JSON dict or binary header, the decoded surface arrays or None, raw bytes)."""
    raw = client.ws.recv(timeout=timeout)
    if isinstance(raw, bytes):
        header, _ = decode_frame(raw)
        return header, decode_surface(raw)[1] if header["type"] == "surface" else None, raw
    return json.loads(raw), None, raw


def collect(client: LiveClient, seconds: float, until=None) -> list:
    """Everything that arrives within ``seconds`` (or until ``until(message)`` is true)."""
    got, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = read(client, left)
        except TimeoutError:
            break
        got.append(item)
        if until is not None and until(item[0]):
            break
    return got


def expect_surface(client: LiveClient, within: float = 30.0, where=lambda h: True):
    for header, arrays, raw in collect(client, within, until=lambda m: m.get("type") == "surface" and where(m)):
        if header.get("type") == "surface" and where(header):
            return header, arrays, raw
    raise AssertionError("no surface message came")


def configure_and_keep_reading(client: LiveClient, **config) -> None:
    """``configure`` without LiveClient.configure's reading up to the first frame: with the view's
    surface on, the surface may come before that frame, and configure would skip it."""
    view = {k: config.pop(k) for k in list(config) if k in VIEW_FIELDS}
    if view:
        client.send("view", **view)
    client.send("configure", config=config)


def _areas(arrays) -> np.ndarray:
    counts, xy = arrays["counts"], arrays["vertices"].astype(np.float64)
    starts = np.cumsum(counts) - counts
    nxt = np.arange(len(xy)) + 1
    nxt[starts + counts - 1] = starts
    facet = np.repeat(np.arange(len(counts)), counts)
    out = np.zeros(len(counts))
    np.add.at(out, facet, 0.5 * (xy[:, 0] * xy[nxt, 1] - xy[nxt, 0] * xy[:, 1]))
    return out


def _heights(arrays, k: int = 0) -> tuple[np.ndarray, np.ndarray]:
    xy = arrays["vertices"].astype(np.float64)
    facet = np.repeat(np.arange(len(arrays["counts"])), arrays["counts"])
    maps = arrays["maps"].astype(np.float64)[facet, k]
    return xy, xy[:, 0] * maps[:, 0] + xy[:, 1] * maps[:, 1] + maps[:, 2]


# -- the websocket ------------------------------------------------------------------------------
def test_surface_messages_come_only_while_view_surface_is_true(server):
    options = httpx.get(f"{server}/api/options", timeout=30).json()
    row = next(r for r in options["settings"] if r["name"] == "surface")
    assert row["kind"] == "view" and row["default"] is False
    with LiveClient(server) as client:
        client.configure(**SMALL)
        assert all(h.get("type") != "surface" for h, _, _ in collect(client, 0.5))  # off by default
        client.send("view", surface=True)
        header, arrays, raw = expect_surface(client)
        assert header["step"] == 0 and header["exact"] and header["t"] is None and header["output"] is None
        base = f"{server}/api/sessions/{client.token}"
        # the same surface as the REST route's for that step
        rest = httpx.get(f"{base}/surface", params={"step": 0}, timeout=60)
        assert rest.status_code == 200 and rest.headers["content-type"] == "application/octet-stream"
        rest_header, rest_arrays = decode_surface(rest.content)
        assert rest_header["regions"] == header["regions"] and rest_header["output"] == "channel:0"
        for name in ("counts", "vertices", "maps", "colors"):
            assert np.array_equal(rest_arrays[name], arrays[name]), name
        # a paused step: its surface, of the network on screen
        client.send("step", n=7)
        header, arrays, _ = expect_surface(client, where=lambda h: h["step"] == 7)
        model = trainer_from_checkpoint(httpx.get(f"{base}/checkpoint", timeout=30).content).model
        xy, z = _heights(arrays)
        ref = forward64(model, xy)[:, 0]
        assert np.abs(z - ref).max() <= 1e-4 * np.ptp(ref)
        assert _areas(arrays).sum() == pytest.approx(4.0, abs=1e-5)
        # running: surfaces follow the exact count (each one's step is a frame's exact_step)
        client.send("start")
        got, seen = [], []

        def two_while_running(message) -> bool:  # the first after start, then one a count later
            if message.get("type") == "surface" and message["step"] > 7:
                seen.append(message["step"])
            return len(seen) >= 2

        got = collect(client, 20.0, until=two_while_running)
        # the frame that carries the last one's exact_step (a surface may come just before its frame)
        got += collect(client, 10.0, until=lambda m: m.get("type") == "frame" and (m.get("exact_step") or 0) >= seen[-1])
        surfaces = [h["step"] for h, _, _ in got if h.get("type") == "surface"]
        exact_steps = {h.get("exact_step") for h, _, _ in got if h.get("type") == "frame"}
        assert surfaces and set(surfaces) <= exact_steps | {7}
        assert len(surfaces) == len(set(surfaces))  # once per partition
        # switched off: nothing more after the status that says so
        client.send("view", surface=False)
        collect(client, 10.0, until=lambda m: m.get("type") == "status" and m["view"]["surface"] is False)
        later = collect(client, 1.5)
        assert any(h.get("type") == "frame" for h, _, _ in later)
        assert not any(h.get("type") == "surface" for h, _, _ in later)
        # switched on again while running: the current partition comes again
        client.send("view", surface=True)
        expect_surface(client)
        client.send("pause")


def test_past_the_live_budget_no_surface_and_the_frame_says_why(server):
    """1,024 lines in one layer make ~500,000 regions: past the live budget (0.3 s)."""
    with LiveClient(server) as client:
        client.send("view", surface=True)
        client.configure(layers="1024", resolution=32, train_points=500, val_points=100, batch_size=128)
        client.send("start")
        got = collect(client, 3.0)
        client.send("pause")
        frames = [h for h, _, _ in got if h.get("type") == "frame"]
        assert frames and not any(h.get("type") == "surface" for h, _, _ in got)
        assert all(f["exact_status"] != "exact" for f in frames)
        assert "too large for live view" in {f["exact_status"] for f in frames}


def test_a_classifier_surface_is_its_decision_pieces(server):
    with LiveClient(server) as client:
        client.send("view", surface=True)
        configure_and_keep_reading(client, image="classes-three", task="classify", **SMALL)
        header, arrays, _ = expect_surface(client)
        assert header["task"] == "classify" and len(header["classes"]) == header["out_dim"] == 3
        base = f"{server}/api/sessions/{client.token}"
        snapshot = trainer_from_checkpoint(httpx.get(f"{base}/checkpoint", timeout=30).content).model
        part = exact_partition(snapshot)
        pieces = decision_regions(part)
        assert header["regions"] == pieces.counts.shape[0] and header["linear_regions"] == part.region_count
        assert np.array_equal(arrays["winner"], pieces.classes)
        assert np.array_equal(arrays["region"], pieces.regions)
        # the OBJ download of the step on screen: the winning score, one group per piece
        obj = httpx.get(f"{base}/surface.obj", params={"step": header["step"]}, timeout=60)
        assert obj.status_code == 200 and "surface.obj" in obj.headers["content-disposition"]
        groups = read_obj(obj.text)
        assert len(groups) == pieces.counts.shape[0]
        xyz = np.concatenate([g[1] for g in groups])
        ref = forward64(snapshot, xyz[:, :2]).max(axis=1)
        assert np.abs(xyz[:, 2] - ref).max() <= 1e-6 * np.ptp(ref)


def test_a_clip_surface_is_the_slice_at_the_views_t(server):
    with LiveClient(server) as client:
        client.send("view", surface=True, t=0.5)
        configure_and_keep_reading(client, image="moving-disk", **SMALL)
        header, arrays, _ = expect_surface(client)
        assert header["t"] == 0.5
        base = f"{server}/api/sessions/{client.token}"
        model = trainer_from_checkpoint(httpx.get(f"{base}/checkpoint", timeout=30).content).model
        xy, z = _heights(arrays)
        ref = forward64(model, xy, 0.5)[:, 0]  # the (x, y, t) network itself
        assert np.abs(z - ref).max() <= 1e-4 * np.ptp(ref)
        # the REST route at another moment
        rest = httpx.get(f"{base}/surface", params={"t": -0.25}, timeout=60)
        rest_header, rest_arrays = decode_surface(rest.content)
        assert rest_header["t"] == -0.25
        snapshot = slice_weights(model, -0.25)
        assert rest_header["regions"] == exact_partition(snapshot).region_count
        xy, z = _heights(rest_arrays)
        ref = forward64(model, xy, -0.25)[:, 0]
        assert np.abs(z - ref).max() <= 1e-4 * np.ptp(ref)


# -- REST ------------------------------------------------------------------------------------------
def test_rest_surface_zoom_box_outputs_and_refusals(server, monkeypatch):
    with LiveClient(server) as client:
        client.configure(color=True, **SMALL)
        base = f"{server}/api/sessions/{client.token}"
        box = {"x0": -0.3, "x1": 0.2, "y0": 0.0, "y1": 0.5}
        r = httpx.get(f"{base}/surface", params=box, timeout=60)
        assert r.status_code == 200
        header, arrays = decode_surface(r.content)
        assert header["box"] == [-0.3, 0.2, 0.0, 0.5] and header["output"] == "luminance" and header["out_dim"] == 3
        xy = arrays["vertices"].astype(np.float64)
        assert (xy[:, 0] >= -0.3 - 1e-6).all() and (xy[:, 0] <= 0.2 + 1e-6).all()
        assert (xy[:, 1] >= -1e-6).all() and (xy[:, 1] <= 0.5 + 1e-6).all()
        assert _areas(arrays).sum() == pytest.approx(0.25, abs=1e-6)
        model = trainer_from_checkpoint(httpx.get(f"{base}/checkpoint", timeout=30).content).model
        obj = httpx.get(f"{base}/surface.obj", params={**box, "output": "channel:1"}, timeout=60)
        groups = read_obj(obj.text)
        assert len(groups) == header["regions"]
        xyz = np.concatenate([g[1] for g in groups])
        ref = forward64(model, xyz[:, :2])[:, 1]
        assert np.abs(xyz[:, 2] - ref).max() <= 1e-6 * np.ptp(ref)
        ply = httpx.get(f"{base}/surface.ply", timeout=60)
        assert ply.status_code == 200 and ply.content.startswith(b"ply\n")
        for params, words in [({"output": "winner"}, "for classifiers"), ({"output": "class:x"}, "must be one of"),
                              ({"x0": 0.5, "x1": 0.2}, "x0 < x1"), ({"y1": "nan"}, "box must"),
                              ({"step": 999999}, "not kept")]:
            r = httpx.get(f"{base}/surface", params=params, timeout=60)
            assert r.status_code in (404, 422) and words in r.json()["detail"], (params, r.text)
        monkeypatch.setattr(geometry_routes, "REGIONS_MAX", 5)
        r = httpx.get(f"{base}/surface.obj", timeout=60)
        assert r.status_code == 413 and "too large" in r.json()["detail"]
        assert httpx.get(f"{server}/api/health", timeout=10).status_code == 200


# -- every engine ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_address(local_ray):
    return local_ray  # tests/conftest.py: one local Ray per test process


def _command(kind: str, **fields):
    return parse_command(json.dumps({"type": kind, **fields}))


@pytest.mark.parametrize("engine", list(Engine), ids=[e.value for e in Engine])
def test_every_engine_sends_the_surface_while_asked(engine, ring_target, request):
    extra = {}
    if engine is Engine.RAY:
        extra = {"ray_address": request.getfixturevalue("ray_address"), "cpus_per_session": 0.5}
    factory = session_factory(Settings(session_engine=engine, **extra))
    factory.start()
    outbox = ServerOutbox()
    session = factory.open(lambda image, color: ring_target, outbox)
    said: list = []

    def surfaces_until(condition, within=60.0):
        deadline = time.monotonic() + within
        while True:
            messages, _ = outbox.take()
            said.extend(messages)
            if condition():
                return
            assert time.monotonic() < deadline, f"{engine.value}: not there in time; said {said[-5:]}"
            time.sleep(0.05)

    try:
        config = {k: v for k, v in SMALL.items() if k != "resolution"}
        assert session.submit(_command("view", surface=True))
        assert session.submit(_command("configure", config={"image": "ring", **config}))
        assert session.submit(_command("step", n=3))
        surfaces_until(lambda: any(isinstance(m, BinaryMessage) and m.step == 3 for m in said))
        message = next(m for m in said if isinstance(m, BinaryMessage) and m.step == 3)
        header, arrays = decode_surface(message.data)
        weights, step = session.weights_snapshot()
        assert step == 3 and header["regions"] == exact_partition(weights).region_count
        xy, z = _heights(arrays)
        ref = forward64(weights, xy)[:, 0]
        assert np.abs(z - ref).max() <= 1e-4 * np.ptp(ref)
        assert session.submit(_command("view", surface=False))
        assert session.submit(_command("step", n=2))
        count = sum(isinstance(m, BinaryMessage) for m in said)
        surfaces_until(lambda: session.step_count() == 5 and any(
            getattr(m, "type", None) == "status" and m.step == 5 for m in said))
        time.sleep(0.3)
        said.extend(outbox.take()[0])
        assert sum(isinstance(m, BinaryMessage) for m in said) == count  # none while switched off
    finally:
        assert session.close(timeout=5.0)
        factory.stop()
