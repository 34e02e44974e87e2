"""Issue 29, hardening round three: clips that declare more than they hold, run folders with links
out of them, damaged run files, a classified clip, strict message types — against a real server.

Each row asserts the status and the words, a ceiling on the memory of the server's process tree
while the request runs, and that /api/health keeps answering. The time ceilings here are loose
(this suite shares two cores with other tests); benchmarks/hardening_probe.py measures the real ones.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from hostile_files import (
    colour_clip_with_classes, gif_with_delays, gif_with_huge_second_frame, mp4_claiming_samples,
    mp4_with_one_byte_samples, video, video_hiding_its_size,
)
from live_server import LiveClient, running_server, tree_rss

import polytope_lens.core.clips as clips
from polytope_lens.core.clips import DecodeStopped, open_clip
from polytope_lens.core.images import ImageError
from polytope_lens.core.settings import TrainingSettings, ViewSettings
from polytope_lens.sweeps.catalog import MAX_METRIC_RECORDS, RunCatalog
from polytope_lens.web.protocol import ProtocolError, parse_command

MIB = 1024 * 1024
HEALTH_CEILING_S = 2.0  # the issue asks < 1 s on a quiet machine (the probe measures it); this suite is loaded
SMALL = dict(layers="6x2", train_points=300, val_points=100, batch_size=128)


@contextmanager
def watched(server):
    """While the block runs: the most the server's process tree grew (bytes) and the slowest
    /api/health answer (s), in ``report``."""
    report = {"growth": 0, "health_s": 0.0}
    stop = threading.Event()
    base = tree_rss(server.pid)

    def watch() -> None:
        with httpx.Client(base_url=server, timeout=30) as client:
            while not stop.is_set():
                report["growth"] = max(report["growth"], tree_rss(server.pid) - base)
                started = time.monotonic()
                assert client.get("/api/health").status_code == 200
                report["health_s"] = max(report["health_s"], time.monotonic() - started)
                stop.wait(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield report
    finally:
        stop.set()
        thread.join(30)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, mini_sweep) -> Path:
    """A runs folder: one real run ("good", the mini sweep's 4x2_seed0: tests/conftest.py), copies of it
    damaged in each way, and links out."""
    root = tmp_path_factory.mktemp("runs")
    made = mini_sweep
    [entry] = [run for run in json.loads((made / "sweep.json").read_text())["runs"] if run["id"] == "4x2_seed0"]
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("not for the compare view\n")
    shutil.copytree(made / entry["id"], outside / "stolen-run")

    entries = []

    def add(run_id: str, damage=None, **fields) -> Path:
        folder = root / run_id
        shutil.copytree(made / entry["id"], folder)
        if damage:
            damage(folder)
        entries.append({**entry, "id": run_id, **fields})
        return folder

    def relink(name: str):
        return lambda folder: ((folder / name).unlink(), (folder / name).symlink_to(outside / "secret.txt"))

    add("good")
    add("checkpoint-link", relink("checkpoint.pt"))
    add("metrics-link", relink("metrics.jsonl"))
    add("weights-link", relink("weights.bin"))
    (root / "folder-link").symlink_to(outside / "stolen-run")
    entries.append({**entry, "id": "folder-link"})
    entries.append({**entry, "id": ".."})
    entries.append({**entry, "id": ["a", "list"]})
    entries.append("not an object")
    entries.append({"id": "no-config", "status": "done"})
    add("metrics-not-utf8", lambda f: (f / "metrics.jsonl").write_bytes(b"\xff\xfe{\n" * 10))
    add("metrics-nested", lambda f: (f / "metrics.jsonl").write_text("[" * 100_000 + "\n" + '{"step": 1}\n'))
    add("metrics-not-objects", lambda f: (f / "metrics.jsonl").write_text("1\n[2]\n\"x\"\n"))
    for name, content in {"weights-list": "[]", "weights-empty": "{}",
                          "weights-steps-text": None, "weights-nan": None}.items():
        def damage(folder, name=name, content=content):
            meta = json.loads((folder / "weights.json").read_text())
            if name == "weights-steps-text":
                meta["steps"] = "abc"
            elif name == "weights-nan":
                meta["bytes_per_step"] = float("nan")
            (folder / "weights.json").write_text(content if content is not None else json.dumps(meta))
        add(name, damage)
    add("weights-sparse", lambda f: _sparse(f / "weights.bin", 3 * 1024 * MIB))
    add("metrics-huge", lambda f: _many_metrics(f / "metrics.jsonl", 4_000_000))
    add("churn-long", lambda f: _long_history(f, 50_000))
    (root / "sweep.json").write_text(json.dumps({"format": "polytope-lens-sweep/1", "runs": entries}))
    return root


def _sparse(path: Path, size: int) -> None:
    with path.open("r+b") as f:
        f.truncate(size)


def _many_metrics(path: Path, lines: int) -> None:
    record = b'{"step": 0}\n'
    with path.open("wb") as f:
        for _ in range(lines // 10_000):
            f.write(record * 10_000)


def _long_history(folder: Path, steps: int) -> None:
    meta = json.loads((folder / "weights.json").read_text())
    step = (folder / "weights.bin").read_bytes()[: meta["bytes_per_step"]]
    noise = np.random.default_rng(0).normal(0, 0.01, (steps, meta["bytes_per_step"] // 4)).astype("<f4")
    history = (np.frombuffer(step, "<f4")[None, :] + noise).astype("<f4")
    (folder / "weights.bin").write_bytes(history.tobytes())
    meta["steps"] = list(range(steps))
    (folder / "weights.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def server(runs_dir):
    with running_server(runs_dir=runs_dir, max_sessions=2) as url:
        yield url
        assert url.alive(), "the server died"


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


def upload(http, data: bytes, name: str = "clip"):
    return http.post("/api/images", files={"file": (name, data)})


# -- clips: refused from what they declare, before decoding --------------------------------------
@pytest.mark.parametrize("data, words", [
    (lambda: mp4_claiming_samples(89_000_000), "89,000,000 frames, more than the limit of 2,000"),
    (lambda: mp4_with_one_byte_samples(6_000_000), "6,000,000 frames, more than the limit of 2,000"),
    (gif_with_huge_second_frame, "frame 2 of the animation is 9000x9000 pixels, larger than the animation's own 8x8"),
], ids=["mp4-89M-samples", "mp4-6M-one-byte-samples", "gif-9000px-second-frame"])
def test_clip_that_declares_too_much_is_refused_before_decoding(server, http, data, words):
    data = data()
    with watched(server) as report:
        started = time.monotonic()
        response = upload(http, data)
        took = time.monotonic() - started
    assert response.status_code == 422 and words in response.json()["detail"], response.text
    assert took < 2.0, took
    assert report["growth"] < 50 * MIB, report
    assert report["health_s"] < HEALTH_CEILING_S, report


def test_two_hostile_gifs_at_once_are_both_refused_and_health_answers(server, http):
    data = gif_with_huge_second_frame()
    answers = []

    def send() -> None:
        with httpx.Client(base_url=server, timeout=60) as client:
            answers.append(upload(client, data).status_code)

    with watched(server) as report:
        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert answers == [422, 422]
    assert report["growth"] < 100 * MIB and report["health_s"] < HEALTH_CEILING_S, report


def test_decoding_stops_when_asked_between_frames():
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(DecodeStopped, match="client went away"):
        open_clip(video(frames=30, size=32), should_stop=stop)
    with pytest.raises(DecodeStopped):
        open_clip(gif_with_delays([100] * 10), should_stop=stop)


def test_frames_larger_than_the_header_says_count_against_the_limits(monkeypatch):
    data = video_hiding_its_size(small=16, big=1024, small_frames=3, big_frames=5)
    assert len(open_clip(data).frames) == 8  # within the real limits it decodes
    # 8 frames of 16x16 by the header; 8 x 1024² by the frames, past a limit of 5,000,000 pixels
    monkeypatch.setattr(clips, "MAX_SOURCE_CLIP_PIXELS", 5_000_000)
    with pytest.raises(ImageError, match="1024x1024: 8,388,608 pixels to decode"):
        open_clip(data)


def test_a_clips_timing_never_errors(http):
    for delays in ([655_350, 655_350], [10_000] * 20, [0, 0, 0], [100_000, 20]):
        response = upload(http, gif_with_delays(delays))
        assert response.status_code == 201, response.text
        answer = response.json()
        assert 0 < answer["duration_s"] <= clips.MAX_FRAME_S * len(delays)
        assert http.get(answer["url"] + "?frame=1&size=64").status_code == 200


def test_a_video_cut_short_keeps_the_frames_that_decode_and_says_so(http):
    for codec, fmt in (("libvpx", "webm"), ("mpeg4", "mp4")):
        whole = video(frames=20, size=64, codec=codec, fmt=fmt)
        for fraction in (0.5, 0.75, 0.97):
            response = upload(http, whole[: int(len(whole) * fraction)], name=f"cut.{fmt}")
            assert response.status_code in (201, 422), (fmt, fraction, response.text)
            if response.status_code == 422:  # nothing decodes (an MP4 whose index is cut off): words
                assert "video" in response.json()["detail"]
                continue
            answer = response.json()
            if answer["frames"] < 19:
                assert "ends early" in answer["note"] and "of the 20 frames" in answer["note"], answer


# -- sessions: settings that cannot work with a clip are refused at configure -------------------
def test_classifying_a_colour_clip_is_refused_in_words_and_the_session_goes_on(server, http):
    clip = upload(http, colour_clip_with_classes()).json()
    assert clip["frames"] == 4
    with LiveClient(server.ws) as client:
        client.send("configure", config={**SMALL, "image": clip["image_id"], "task": "classify", "color": True})
        error = client.expect("error")
        assert error["field"] == "task" and "classification works on still pictures" in error["message"]
        assert "clip of 4 frames" in error["message"]
        status = client.configure(**SMALL, image=clip["image_id"], resolution=32)  # regress: the clip is learnt
        assert status["frames"] == 4
        client.send("step", n=3)
        assert client.expect("frame", where=lambda f: f["step"] == 3)["step"] == 3


def test_sawtooth_on_a_clip_is_refused_naming_init(server):
    with LiveClient(server.ws) as client:
        client.send("configure", config={"image": "moving-disk", "layers": "2x4", "init": "sawtooth",
                                         "train_points": 300, "val_points": 100})
        error = client.expect("error")
        assert error["field"] == "init" and "sawtooth" in error["message"] and "clip" in error["message"]
        assert client.configure(**SMALL, image="ring", resolution=32)["state"] == "paused"


# -- strict types in every message ---------------------------------------------------------------
NUMBER_FIELDS = [(kind, name) for kind, model in (("view", ViewSettings), ("set", TrainingSettings))
                 for name, info in model.model_fields.items() if info.annotation in (int, float)]


@pytest.mark.parametrize("kind, name", NUMBER_FIELDS, ids=[f"{k}.{n}" for k, n in NUMBER_FIELDS])
def test_a_boolean_is_not_a_number(kind, name):
    with pytest.raises(ProtocolError) as refused:
        parse_command(json.dumps({"type": kind, name: True}))
    assert refused.value.field == name


def test_a_boolean_is_not_a_number_in_configure_or_step():
    for message, field in (({"type": "configure", "config": {"seed": True}}, "seed"),
                           ({"type": "configure", "config": {"train_points": False}}, "train_points"),
                           ({"type": "step", "n": True}, "n")):
        with pytest.raises(ProtocolError) as refused:
            parse_command(json.dumps(message))
        assert refused.value.field == field


def test_view_t_true_is_refused_over_the_socket(server):
    with LiveClient(server.ws) as client:
        client.send("view", t=True)
        error = client.expect("error")
        assert error["field"] == "t" and "number" in error["message"]


# -- run folders: confined, damaged files answered in words, bounded reading ----------------------
def test_the_good_run_loads_and_damaged_entries_are_listed_as_damaged(http):
    listing = http.get("/api/runs")
    assert listing.status_code == 200
    runs = {r["id"]: r for r in listing.json()["runs"]}
    assert runs["good"]["status"] == "done"
    for run_id, words in {"entry-6": "no usable id", "entry-7": "no usable id", "entry-8": "not an object",
                          "no-config": "no config"}.items():
        assert runs[run_id]["status"] == "damaged" and words in runs[run_id]["error"], runs[run_id]
    assert ".." not in runs
    assert http.get("/api/runs/good/metrics").status_code == 200
    assert http.get("/api/runs/good/churn").status_code == 200


@pytest.mark.parametrize("path", [
    "/api/runs/checkpoint-link/checkpoint.pt", "/api/runs/metrics-link/metrics", "/api/runs/weights-link/weights.bin",
    "/api/runs/folder-link/metrics", "/api/runs/folder-link/checkpoint.pt",
])
def test_links_out_of_the_runs_folder_are_refused(http, path):
    response = http.get(path)
    assert response.status_code == 403, response.text
    assert "outside the runs folder" in response.json()["detail"]
    assert b"not for the compare view" not in response.content


@pytest.mark.parametrize("run_id", ["..", "%2E%2E", "entry-6", "..%2F..%2Fetc"])
def test_ids_are_names_never_paths(http, run_id):
    response = http.get(f"/api/runs/{run_id}/metrics")
    assert response.status_code in (404, 422), response.text
    assert "detail" in response.json()


@pytest.mark.parametrize("run_id, route, status, words", [
    ("metrics-not-utf8", "metrics", 200, "10 damaged lines skipped"),
    ("metrics-nested", "metrics", 200, "1 damaged line skipped"),
    ("metrics-not-objects", "metrics", 200, "3 damaged lines skipped"),
    ("weights-list", "weights", 422, "not an object"),
    ("weights-empty", "weights", 422, "'steps' must be a list"),
    ("weights-steps-text", "weights", 422, "'steps' must be a list"),
    ("weights-nan", "weights", 422, "'bytes_per_step' must be"),
    ("weights-nan", "weights.bin", 422, "'bytes_per_step' must be"),
    ("weights-list", "churn", 422, "not an object"),
    ("no-config", "metrics", 422, "no config"),
])
def test_damaged_run_files_are_answered_in_words(http, run_id, route, status, words):
    response = http.get(f"/api/runs/{run_id}/{route}")
    assert response.status_code == status, response.text
    text = response.json()["detail"] if status != 200 else response.json()["note"]
    assert words in text, text


def test_a_sparse_weight_history_that_disagrees_with_its_index_is_refused(server, http, runs_dir):
    steps = len(json.loads((runs_dir / "weights-sparse" / "weights.json").read_text())["steps"])
    with watched(server) as report:
        response = http.get("/api/runs/weights-sparse/weights.bin")
    assert response.status_code == 422
    assert f"holds 3,221,225,472 bytes, but weights.json says {steps} steps" in response.json()["detail"]
    assert report["growth"] < 50 * MIB and report["health_s"] < HEALTH_CEILING_S, report


def test_four_million_metric_lines_are_thinned_with_bounded_memory(server, http):
    with watched(server) as report:
        response = http.get("/api/runs/metrics-huge/metrics")
    assert response.status_code == 200
    answer = response.json()
    assert answer["total"] == 4_000_000 and len(answer["records"]) <= MAX_METRIC_RECORDS
    assert "thinned" in answer["note"]
    assert report["growth"] < 200 * MIB and report["health_s"] < HEALTH_CEILING_S, report


def test_churn_of_a_long_history_is_thinned_within_its_budget_and_cached(server, http):
    with watched(server) as report:
        started = time.monotonic()
        first = http.get("/api/runs/churn-long/churn")
        took = time.monotonic() - started
    assert first.status_code == 200
    answer = first.json()
    assert len(answer["churn"]) <= 2000 and "50,000 recorded steps" in answer["note"]
    assert took < 15, took
    started = time.monotonic()
    assert http.get("/api/runs/churn-long/churn").json() == answer  # cached
    assert time.monotonic() - started < 2
    assert report["health_s"] < HEALTH_CEILING_S, report


def test_a_damaged_sweep_index_lists_the_run_folders_instead(tmp_path, runs_dir):
    shutil.copytree(runs_dir / "good", tmp_path / "good")
    shutil.copytree(runs_dir / "good", tmp_path / "broken-config")
    (tmp_path / "broken-config" / "config.json").write_bytes(b"{\xff")
    catalog = RunCatalog(tmp_path)
    for content in (b'{"runs": [', b"\xff\xfe", b"[]", b"[" * 100_000):
        (tmp_path / "sweep.json").write_bytes(content)
        runs = {r["id"]: r for r in catalog.runs()}
        assert runs["good"]["status"] == "done"
        assert runs["broken-config"]["status"] == "damaged" and "not UTF-8" in runs["broken-config"]["error"]
        assert "sweep.json" in catalog.problem
    os.remove(tmp_path / "sweep.json")
    assert catalog.runs() and catalog.problem is None
