"""Classification (issue 13): classes from colours, labelled points, softmax training and accuracy,
the exact decision regions, and the task through settings, checkpoints, the CLI and the websocket."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
import torch
from live_server import LiveClient

from polytope_lens.cli import main
from polytope_lens.core.classes import (
    MIN_CLASS_PIXELS, TOLERANCE, ClassError, find_classes, sample_labelled_points,
)
from polytope_lens.core.images import Target, load_target
from polytope_lens.core.model import build_mlp
from polytope_lens.core.samples import sample_path
from polytope_lens.core.settings import RunConfig, settings_table
from polytope_lens.core.training import Trainer, trainer_from_checkpoint
from polytope_lens.geometry.decision import decision_regions, region_classes
from polytope_lens.geometry.exact import exact_partition
from polytope_lens.geometry.inspection import inspect_point

SIZE = 1024
RED, BLUE, YELLOW, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 0), (255, 255, 255)


def picture(paint) -> Target:
    """A 1024x1024 RGB target on white; ``paint(x, y)`` returns (mask, rgb) pairs over the square."""
    c = -1.0 + (2.0 * np.arange(SIZE) + 1.0) / SIZE
    x, y = c[None, :], c[::-1, None]
    img = np.full((SIZE, SIZE, 3), 255.0)
    for mask, rgb in paint(x, y):
        img[np.broadcast_to(mask, (SIZE, SIZE))] = rgb
    return Target((img / 255.0).astype(np.float32))


def sample_target(name: str) -> Target:
    return load_target(sample_path(name), color=True)


# -- the colour rule -----------------------------------------------------------------------
def test_anti_aliased_edges_are_unlabelled_and_blends_make_no_class():
    # red disk and yellow ring on white, their edges blended over 8 pixels: red-white blends, and
    # red-yellow blends that pass through orange (a palette colour), must not be labelled
    c = -1.0 + (2.0 * np.arange(SIZE) + 1.0) / SIZE
    r = np.hypot(c[None, :], c[::-1, None])
    ramp = lambda edge: np.clip((r - edge) / (8 * 2 / SIZE) + 0.5, 0, 1)[..., None]  # noqa: E731
    img = np.asarray(RED) * (1 - ramp(0.4)) + np.asarray(YELLOW) * ramp(0.4)
    img = img * (1 - ramp(0.8)) + np.asarray(WHITE) * ramp(0.8)
    classes = find_classes(Target((img / 255.0).astype(np.float32)))
    assert classes.names == ("red", "yellow")
    ring_blend = (np.abs(r - 0.4) < 3 / SIZE) | (np.abs(r - 0.8) < 3 / SIZE)
    assert (classes.labels[ring_blend] == -1).all()
    assert (classes.labels[r < 0.35] == 0).all() and (classes.labels[(r > 0.45) & (r < 0.75)] == 1).all()
    assert (classes.labels[r > 0.85] == -1).all()  # white is unlabelled
    assert classes.pixels == (int((classes.labels == 0).sum()), int((classes.labels == 1).sum()))


def test_palette_colours_within_tolerance_count_and_gray_white_black_never_do():
    near_red = (255 - TOLERANCE, TOLERANCE, 0)
    too_far = (255, TOLERANCE + 8, 0)
    target = picture(lambda x, y: [
        (x < -0.5, near_red), ((x >= -0.5) & (x < 0), BLUE), ((x >= 0) & (x < 0.3), too_far),
        ((x >= 0.3) & (x < 0.5), (128, 128, 128)), (x >= 0.5, (0, 0, 0)),
    ])
    classes = find_classes(target)
    assert classes.names == ("red", "blue") and classes.css_colors() == ["#ff0000", "#0000ff"]
    cols = SIZE // 4
    m = 3  # EDGE_MARGIN and the boundary pixel: the strips between colours are unlabelled
    assert (classes.labels[:, : cols - m] == 0).all() and (classes.labels[:, cols + m : 2 * cols - m] == 1).all()
    assert (classes.labels[:, cols - 1 : cols + 1] == -1).all()
    assert (classes.labels[:, 2 * cols + 1 :] == -1).all()  # off-palette, gray, black


def test_fewer_than_two_classes_is_refused_in_words():
    with pytest.raises(ClassError) as err:
        find_classes(picture(lambda x, y: [(x < 0, RED)]))
    assert err.value.field == "image" and "at least 2 classes" in str(err.value) and "red" in str(err.value)
    # a speck of a second colour (below MIN_CLASS_PIXELS) is not a class
    with pytest.raises(ClassError):
        find_classes(picture(lambda x, y: [(x < 0, RED), ((np.abs(x - 0.5) < 0.02) & (np.abs(y) < 0.02), BLUE)]))
    with pytest.raises(ClassError):
        find_classes(load_target(sample_path("ring"), color=True))  # black and white only


def test_too_few_labelled_pixels_for_the_points_is_refused_naming_the_field():
    side = 0.1  # two small squares: about 2 * 2,600 labelled pixels
    classes = find_classes(picture(lambda x, y: [
        ((np.abs(x + 0.5) < side / 2) & (np.abs(y) < side / 2), RED),
        ((np.abs(x - 0.5) < side / 2) & (np.abs(y) < side / 2), BLUE)]))
    assert min(classes.pixels) >= MIN_CLASS_PIXELS
    with pytest.raises(ClassError) as err:
        sample_labelled_points(classes, 5000, 1000, seed=0)
    assert err.value.field == "train_points" and f"{classes.labelled:,} labelled pixels" in str(err.value)
    sample_labelled_points(classes, 3000, 1000, seed=0)  # fits


def test_points_are_labelled_disjoint_seeded_and_noise_flips_a_seeded_fraction():
    classes = find_classes(sample_target("classes-three"))
    a = sample_labelled_points(classes, 3000, 1000, seed=4)
    b = sample_labelled_points(classes, 3000, 1000, seed=4)
    assert np.array_equal(a.train_pixels, b.train_pixels) and np.array_equal(a.val_y, b.val_y)
    both = np.concatenate([a.train_pixels, a.val_pixels])
    assert len({tuple(p) for p in both.tolist()}) == 4000  # disjoint, no repeats
    assert (classes.labels[both[:, 0], both[:, 1]] >= 0).all()
    assert np.array_equal(a.train_y, classes.labels[a.train_pixels[:, 0], a.train_pixels[:, 1]])
    noisy = sample_labelled_points(classes, 3000, 1000, seed=4, label_noise=0.2)
    flipped = noisy.train_y != a.train_y
    assert noisy.noisy == int(flipped.sum()) and 0.16 < flipped.mean() < 0.24
    assert np.array_equal(noisy.val_y, a.val_y)  # validation stays clean
    again = sample_labelled_points(classes, 3000, 1000, seed=4, label_noise=0.2)
    assert np.array_equal(again.train_y, noisy.train_y)


# -- training and accuracy --------------------------------------------------------------------
@pytest.mark.parametrize("name, threshold", [("classes-xor", 0.97), ("classes-circle", 0.97), ("classes-three", 0.95)])
def test_default_network_reaches_the_accuracy_within_3000_steps(name, threshold):
    config = RunConfig(image=name, task="classify")  # the default 14x6, Adam, 5000 + 1000 points
    trainer = Trainer(config, sample_target(name), device="cpu")
    assert trainer.out_dim == trainer.classes.count == (3 if name == "classes-three" else 2)
    first = trainer.losses()
    while trainer.step_count < 3000:
        trainer.step(250)  # stop as soon as it is reached: the claim is "within 3,000 steps"
        losses = trainer.losses()
        if losses.val_accuracy >= threshold:
            break
    assert losses.val_accuracy >= threshold, (trainer.step_count, losses)
    assert losses.val < first.val


def test_task_is_a_network_setting_with_label_noise_and_survives_a_checkpoint(tmp_path):
    rows = {row["name"]: row for row in settings_table()}
    assert rows["task"]["kind"] == "network" and rows["task"]["choices"] == ["regress", "classify"]
    assert rows["label_noise"]["kind"] == "network" and rows["label_noise"]["max"] == 0.5
    config = RunConfig(image="classes-three", task="classify", layers="8x2", train_points=800, val_points=200,
                       label_noise=0.1)
    trainer = Trainer(config, sample_target("classes-three"), device="cpu")
    trainer.step(20)
    path = trainer.save(tmp_path / "checkpoint.pt")
    again = trainer_from_checkpoint(path, device="cpu")
    assert again.config.task == "classify" and again.out_dim == 3 and again.step_count == 20
    assert np.array_equal(again.sample.train_y, trainer.sample.train_y)
    x = torch.rand(50, 2) * 2 - 1
    assert torch.equal(again.model(x), trainer.model(x))


# -- exact decision regions ---------------------------------------------------------------------
def _check_decision_exactness(model):
    part = exact_partition(model)
    decision = decision_regions(part)
    assert decision.areas().sum() == pytest.approx(4.0, abs=1e-9)
    assert (decision.areas() > 0).all()
    model64 = build_mlp(model.widths, out_dim=decision.class_count)
    model64.load_state_dict(model.state_dict())
    model64 = model64.double()
    with torch.no_grad():
        scores = model64(torch.from_numpy(decision.interior_points())).numpy()
    assert np.array_equal(scores.argmax(axis=1), decision.classes)
    assert decision.segments.shape[0] > 0
    with torch.no_grad():
        mid = np.sort(model64(torch.from_numpy(decision.segments.mean(axis=1))).numpy(), axis=1)
    top, second = mid[:, -1], mid[:, -2]
    assert (np.abs(top - second) <= 1e-6 * np.maximum(np.abs(top), 1e-12)).all()
    # every linear region with two or more classes' pieces has boundary segments in it
    per_region = np.bincount(decision.regions, minlength=part.region_count)
    assert set(np.flatnonzero(per_region >= 2)) == set(decision.segment_regions.tolist())
    assert decision.regions_crossed == int((per_region >= 2).sum())
    assert decision.boundary_length == pytest.approx(np.linalg.norm(np.diff(decision.segments, axis=1), axis=2).sum())
    return decision


@pytest.mark.parametrize("seed, classes, widths", [(0, 2, [14] * 6), (1, 3, [16] * 3), (2, 5, [32, 32]),
                                                   (3, 8, [20] * 4)])
def test_decision_regions_of_random_networks_are_exact(seed, classes, widths):
    gen = torch.Generator().manual_seed(seed)
    model = build_mlp(widths, out_dim=classes, generator=gen)
    with torch.no_grad():  # scores of the size a trained net has, so classes change inside the square
        model.linears[-1].weight.mul_(30.0)
        model.linears[-1].bias.zero_()
        grid = torch.rand(400, 2, generator=gen) * 2 - 1
        model.linears[-1].bias.copy_(-model(grid).median(dim=0).values)  # every class wins somewhere
    _check_decision_exactness(model)


def test_decision_regions_of_a_trained_network_are_exact_and_match_its_accuracy():
    trainer = Trainer(RunConfig(image="classes-three", task="classify", train_points=2000, val_points=500),
                      sample_target("classes-three"), device="cpu")
    trainer.step(600)
    decision = _check_decision_exactness(trainer.model)
    assert decision.class_count == 3 and (decision.class_areas() > 0.3).all()
    # the inspector's per-region view: pieces tile the region and agree with the network
    info = inspect_point(trainer.model, (0.0, 0.1))
    view = region_classes(info, ["#ff0000", "#00ff00", "#0000ff"])
    assert sum(p["area"] for p in view["pieces"]) == pytest.approx(info["area"], rel=1e-9)
    assert view["winner"] == int(np.argmax(info["output"])) and view["max_softmax_diff"] < 1e-9
    assert sum(view["softmax"]) == pytest.approx(1.0) and len(view["maps"]) == 3


# -- CLI and websocket ---------------------------------------------------------------------------
def test_cli_trains_a_classifier_and_exports_its_decision_regions(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "classes-xor", "--task", "classify", "--layers", "8x3", "--steps", "40", "--frame-every", "20",
                 "--train-points", "1000", "--val-points", "200", "--resolution", "64", "--out", str(out)])
    assert code == 0
    summary = capsys.readouterr().out  # a classifier's summary says cross-entropy and accuracy, not MSE
    assert "val CE" in summary and "accuracy" in summary and "decision boundary" in summary and "MSE" not in summary
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 20, 40]
    assert all(0 <= r["train_accuracy"] <= 1 and 0 <= r["val_accuracy"] <= 1 for r in records)
    assert records[-1]["boundary_length"] > 0 and records[-1]["boundary_regions"] >= 1
    assert all("smoothing_val_loss" not in r for r in records)  # a regression baseline: not a classifier's
    assert json.loads((out / "config.json").read_text())["task"] == "classify"
    assert main(["regions", str(out / "checkpoint.pt"), "--out", str(tmp_path / "r.json")]) == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    decision = doc["decision"]
    assert doc["classes"] == ["#ff0000", "#0000ff"] and decision["class_colors"] == doc["classes"]
    assert sum(decision["areas"]) == pytest.approx(4.0, abs=1e-6)
    assert len(decision["polygons"]) == len(decision["classes"]) == len(decision["areas"])
    assert decision["boundary_length"] == pytest.approx(records[-1]["boundary_length"], abs=1e-3)
    assert "decision boundary: length" in capsys.readouterr().out
    assert main(["regions", str(out / "checkpoint.pt"), "--out", str(tmp_path / "r.svg")]) == 0
    svg = (tmp_path / "r.svg").read_text()
    assert 'fill="#ff0000"' in svg and 'stroke="#000000" stroke-width="4"' in svg and svg.endswith("</svg>")


def test_cli_refuses_a_picture_without_classes(tmp_path, capsys):
    code = main(["train", "ring", "--task", "classify", "--steps", "1", "--out", str(tmp_path / "x"), "--quiet"])
    assert code == 2
    assert "at least 2 classes" in capsys.readouterr().err


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server  # tests/conftest.py: one per test process


def test_websocket_classifier_sends_classes_accuracy_and_decision_fields(server):
    with LiveClient(server) as client:
        client.send("view", resolution=64)
        client.send("configure", config={"image": "classes-three", "task": "classify", "layers": "8x3",
                                         "train_points": 1000, "val_points": 200, "label_noise": 0.05})
        status = client.expect("status", where=lambda m: m.get("message") == "new network")
        assert status["config"]["task"] == "classify"
        points = client.expect("points")
        assert [c["name"] for c in points["classes"]] == ["red", "green", "blue"]
        assert all(c["pixels"] > 100_000 for c in points["classes"])
        assert len(points["train_labels"]) == 1000 and set(points["val_labels"]) == {0, 1, 2}
        frame = client.expect("frame")
        assert frame["channels"] == 3 and 0 <= frame["val_accuracy"] <= 1 and "train_accuracy" in frame
        # server frames carry the class map in colour and the decision boundary's pixels
        assert frame["classes"] == ["#ff0000", "#00ff00", "#0000ff"]
        assert [s["name"] for s in frame["sections"]] == ["prediction", "boundary", "lines", "decision"]
        assert frame["sections"][0]["length"] == 64 * 64 * 3
        client.send("step", n=200)
        frame = client.expect("frame", where=lambda f: f["step"] == 200)
        assert frame["val_accuracy"] > 0.8
        assert frame["boundary_length"] > 0 and frame["boundary_regions"] >= 1 and frame["exact_step"] == 200
        token = client.token
        doc = httpx.get(f"{server}/api/sessions/{token}/regions.json", timeout=30).json()
        assert sum(doc["decision"]["areas"]) == pytest.approx(4.0, abs=1e-6)
        assert doc["decision"]["boundary_length"] == pytest.approx(frame["boundary_length"], abs=1e-3)
        # the smoothing baseline regresses brightness: refused in words for a classifier
        baseline = httpx.get(f"{server}/api/sessions/{token}/smoothing", timeout=30)
        assert baseline.status_code == 422 and "classif" in baseline.json()["detail"]
        info = httpx.get(f"{server}/api/sessions/{token}/inspect", params={"x": 0.0, "y": 0.5}, timeout=30).json()
        assert len(info["classify"]["maps"]) == 3 and info["classify"]["winner"] == 0  # the red disk is on top
        # a picture with one class: refused, naming the field; the session keeps serving
        client.send("configure", config={"image": "ring", "task": "classify"})
        error = client.expect("error")
        assert error["field"] == "image" and "at least 2 classes" in error["message"]
        client.send("configure", config={"image": "classes-three", "task": "classify", "train_points": 300000,
                                         "val_points": 100000})
        error = client.expect("error")
        assert error["field"] == "train_points" and "labelled pixels" in error["message"]


def test_class_frame_carries_the_class_map_and_the_decision_pixels_of_classmap():
    """The server-drawn frame of a classifier: the prediction section is class_map_rgb's picture and
    the decision section the bits of decision_mask, as the frame PNG draws them."""
    from polytope_lens.geometry.grid import compute_partition
    from polytope_lens.output.classmap import class_map_rgb, decision_mask, softmax_confidence
    from polytope_lens.web.wire import class_frame, decode_frame

    model = build_mlp([8, 8], out_dim=3, generator=torch.Generator().manual_seed(2))
    part = compute_partition(model, 48)
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    header, sections = decode_frame(class_frame(part, colors, {"step": 0}, fill_regions=True))
    assert header["channels"] == 3 and header["resolution"] == 48
    picture = np.frombuffer(sections["prediction"], np.uint8).reshape(48, 48, 3)
    assert np.array_equal(picture, class_map_rgb(part.prediction, colors))
    winner, _ = softmax_confidence(part.prediction)
    bits = np.unpackbits(np.frombuffer(sections["decision"], np.uint8))[: 48 * 48].reshape(48, 48).astype(bool)
    assert bits.any() and np.array_equal(bits, decision_mask(winner))
    assert len(sections["regions"]) == 48 * 48 * 3


def test_a_classifier_sweep_run_records_its_class_count_and_colours(tmp_path):
    """A sweep of classifiers: the picture is read in colour, and weights.json gives the outputs the
    network has (its picture's class count, not the setting's most) and the class colours, so the
    Compare page can read weights.bin and draw class maps (GET /api/runs/{id}/weights passes them on)."""
    from polytope_lens.core.training import load_checkpoint_model
    from polytope_lens.core.network import flat_weights

    out = tmp_path / "sweep"
    assert main(["sweep", "classes-xor", "--task", "classify", "--layers", "6x2", "--steps", "40", "--frame-every", "20",
                 "--resolution", "32", "--train-points", "800", "--val-points", "200", "--out", str(out),
                 "--jobs", "1", "--quiet"]) == 0
    index = json.loads((out / "sweep.json").read_text())
    (run,) = index["runs"]
    assert run["status"] == "done", run["error"]
    folder = out / run["id"]
    meta = json.loads((folder / "weights.json").read_text())
    assert meta["out_dim"] == 2 and meta["classes"] == ["#ff0000", "#0000ff"]
    history = (folder / "weights.bin").read_bytes()
    assert len(history) == len(meta["steps"]) * meta["bytes_per_step"]
    model, _, _ = load_checkpoint_model(folder / "checkpoint.pt")
    assert history[-meta["bytes_per_step"]:] == flat_weights(model)
