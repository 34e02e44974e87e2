"""The origami surface (geometry/surface.py) and its files: OBJ, PLY, the binary surface message,
and `polytope-lens regions CKPT --out surface.obj|.ply`.

Independent reference: each network evaluated by a forward pass written here in torch float64
from its weights (a clip's network with t as its third input, never the folded slice), read at
the vertices of the files as parsed back from their text or bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from polytope_lens import cli
from polytope_lens.core.images import Target, load_target
from polytope_lens.core.model import build_mlp
from polytope_lens.core.network import FrozenNetwork, freeze
from polytope_lens.core.samples import sample_path
from polytope_lens.core.settings import RunConfig
from polytope_lens.core.training import Trainer
from polytope_lens.geometry.decision import decision_regions
from polytope_lens.geometry.exact import exact_partition, region_counts_per_layer
from polytope_lens.geometry.patterns import bit_pattern_colors
from polytope_lens.geometry.slices import slice_weights
from polytope_lens.geometry.surface import (
    LUMINANCE, Output, build_surface, decode_surface, default_output, obj_bytes, parse_output, ply_bytes, read_obj,
    read_ply, surface_for, surface_message,
)

BOX = (-1.0, 1.0, -1.0, 1.0)


# -- the reference: a forward pass of its own -------------------------------------------------------
def forward64(net, xy: np.ndarray, t: float | None = None) -> np.ndarray:
    """The network's outputs (N, K) at points (N, 2), torch float64 from its weights; a 3-input
    (clip) network gets t as its third input."""
    x = torch.tensor(np.asarray(xy, dtype=np.float64))
    if t is not None:
        x = torch.cat([x, torch.full((x.shape[0], 1), float(t), dtype=torch.float64)], dim=1)
    layers = [(torch.tensor(np.asarray(W, dtype=np.float64)), torch.tensor(np.asarray(b, dtype=np.float64)))
              for W, b in freeze(net).affine_layers()]
    for (W, b), slope in zip(layers[:-1], net.slopes):
        h = x @ W.T + b
        x = torch.where(h > 0, h, slope * h)
    W, b = layers[-1]
    return (x @ W.T + b).numpy()


def height64(net, xy, output: Output, t=None) -> np.ndarray:
    out = forward64(net, xy, t)
    if output.kind == "luminance":
        return out @ np.array(LUMINANCE)
    if output.kind == "winner":
        return out.max(axis=1)
    return out[:, output.index]


# -- the networks ----------------------------------------------------------------------------------
def _random(widths, out_dim=1, activation="relu", seed=0, task="regress"):
    return freeze(build_mlp(widths, out_dim=out_dim, activation=activation, negative_slope=0.1,
                            generator=torch.Generator().manual_seed(seed), task=task))


def _random_clip(widths, seed=5):
    """A random (x, y, t) network."""
    gen = torch.Generator().manual_seed(seed)
    dims = [3, *widths, 1]
    layers = [(torch.randn(o, i, generator=gen, dtype=torch.float64) / i ** 0.5,
               0.3 * torch.randn(o, generator=gen, dtype=torch.float64)) for i, o in zip(dims[:-1], dims[1:])]
    return FrozenNetwork([(W.numpy(), b.numpy()) for W, b in layers], 0.0)


def tiny_clip(frames=4, size=256) -> Target:
    """A bright square that moves right over ``frames`` frames."""
    stack = np.zeros((frames, size, size, 1), dtype=np.uint8)
    for k in range(frames):
        left = size // 8 + k * size // (2 * frames)
        stack[k, size // 3: 2 * size // 3, left: left + size // 4] = 255
    return Target(stack[0].astype(np.float32) / 255.0, frames=stack, duration_s=0.4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Trained runs and their checkpoints: a gray ring, a classifier, a clip."""
    folder = tmp_path_factory.mktemp("surface")
    runs = {}
    specs = {
        "ring": (RunConfig(image="ring", layers="8x3", train_points=1500, val_points=200, lr=3e-3),
                 load_target(sample_path("ring"), color=False), 80),
        "classes": (RunConfig(image="classes-three", task="classify", layers="8x3", train_points=1500,
                              val_points=200, lr=3e-3), load_target(sample_path("classes-three"), color=True), 60),
        "clip": (RunConfig(image="unused", layers="6x3", train_points=400, val_points=100, lr=3e-3), tiny_clip(), 30),
    }
    for name, (config, target, steps) in specs.items():
        trainer = Trainer(config, target, device="cpu")
        trainer.step(steps)
        runs[name] = (trainer.model, trainer.save(folder / f"{name}.pt"))
    return runs


def _cases(trained):
    ring, classes, clip = trained["ring"][0], trained["classes"][0], trained["clip"][0]
    return [
        ("trained ring", freeze(ring), None, None),
        ("trained classifier winner", freeze(classes), "winner", None),
        ("trained classifier class 1", freeze(classes), "class:1", None),
        ("trained clip at t=0.3", freeze(clip), None, 0.3),
        ("random relu", _random([10, 10, 10], seed=1), None, None),
        ("random leaky colour luminance", _random([12, 12], out_dim=3, activation="leaky_relu", seed=2),
         "luminance", None),
        ("random leaky colour channel 2", _random([12, 12], out_dim=3, activation="leaky_relu", seed=2),
         "channel:2", None),
        ("random bottleneck", _random([16, 2, 16], seed=3), None, None),
        ("random classifier", _random([10, 10], out_dim=4, seed=4, task="classify"), None, None),
        ("random clip at t=-0.55", _random_clip([8, 8]), None, -0.55),
    ]


def _obj_case(net, output_text, t):
    seen = net if t is None else slice_weights(net, t)
    output = parse_output(output_text, seen.task, seen.out_dim)
    part = exact_partition(seen)
    surface = surface_for(part, seen.task, output)
    return seen, output, part, surface, obj_bytes(surface, output, ["a test"])


# -- OBJ -------------------------------------------------------------------------------------------
def test_obj_vertices_are_the_network_groups_are_planar_regions_tile_the_square(trained):
    for name, net, output_text, t in _cases(trained):
        seen, output, part, surface, data = _obj_case(net, output_text, t)
        groups = read_obj(data.decode())
        # groups: one per exact linear region (per decision piece for a classifier's winning score)
        expected = (decision_regions(part).counts.shape[0] if output.kind == "winner"
                    else region_counts_per_layer(seen)[-1])
        assert len(groups) == expected == surface.facet_count, name
        names = [g[0] for g in groups]
        assert len(set(names)) == len(names), name
        regions = sorted({int(n.split("_")[1]) for n in names})
        assert regions == list(range(part.region_count)), name  # every linear region has its facet(s)
        xyz = np.concatenate([g[1] for g in groups])
        z_net = height64(net, xyz[:, :2], output, t)  # the 3-input clip network itself, t as an input
        scale = max(1e-12, float(np.ptp(z_net)))
        assert np.abs(xyz[:, 2] - z_net).max() <= 1e-6 * scale, name
        total = 0.0
        for group, v, tri in groups:
            assert v.shape[0] >= 3 and tri.shape[0] == v.shape[0] - 2, (name, group)
            # planar: the group's points are one plane z = a x + b y + c
            design = np.column_stack([v[:, 0], v[:, 1], np.ones(len(v))])
            coef, *_ = np.linalg.lstsq(design, v[:, 2], rcond=None)
            assert np.abs(design @ coef - v[:, 2]).max() <= 1e-9 * scale + 1e-12, (name, group)
            a, b, c = v[tri[:, 0], :2], v[tri[:, 1], :2], v[tri[:, 2], :2]
            cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
            assert (cross >= -1e-15).all(), (name, group)  # counter-clockwise, seen from above
            total += 0.5 * cross.sum()
        assert total == pytest.approx(4.0, abs=1e-9), name  # the facets' projected areas tile the square


def test_obj_numbers_are_float64_exact():
    net = _random([6, 6], seed=7)
    _, output, _, surface, data = _obj_case(net, None, None)
    text = data.decode()
    assert text.startswith("# a test\n")
    xs = [float(w) for line in text.splitlines() if line.startswith("v ") for w in line.split()[1:3]]
    assert np.array_equal(np.array(xs).reshape(-1, 2), surface.flat_vertices())  # shortest exact form: no rounding
    zs = np.array([float(line.split()[3]) for line in text.splitlines() if line.startswith("v ")])
    assert np.array_equal(zs, surface.heights(output))


def test_ply_is_the_obj_in_binary(trained):
    for name, net, output_text, t in _cases(trained)[:3]:
        _, output, part, surface, data = _obj_case(net, output_text, t)
        verts, tris, props = read_ply(ply_bytes(surface, output))
        obj_vertices = np.concatenate([g[1] for g in read_obj(data.decode())])
        assert np.array_equal(verts, obj_vertices), name
        assert tris.shape[0] == int((surface.counts - 2).sum())
        assert np.array_equal(np.unique(props["region"]), np.arange(part.region_count)), name
        colors = bit_pattern_colors(part.patterns)[props["region"], :3]
        assert np.array_equal(np.column_stack([props["red"], props["green"], props["blue"]]), colors)
        if output.kind == "winner":
            assert "class" in props


# -- the binary message --------------------------------------------------------------------------
def test_binary_message_decodes_and_agrees(trained):
    for name, net, _, t in _cases(trained):
        seen = net if t is None else slice_weights(net, t)
        part = exact_partition(seen)
        surface = build_surface(part, seen.task)
        message = surface_message(surface, 123, t)
        header, arrays = decode_surface(message)
        assert header["type"] == "surface" and header["step"] == 123 and header["exact"] is True
        assert header["t"] == t and header["task"] == seen.task and header["box"] == list(BOX)
        assert header["linear_regions"] == part.region_count
        assert header["out_dim"] == seen.out_dim
        payload = 8 + int.from_bytes(message[4:8], "little")
        assert payload % 4 == 0 and all(s["offset"] % 4 == 0 for s in header["sections"]), name
        counts, xy, maps = arrays["counts"], arrays["vertices"].astype(np.float64), arrays["maps"].astype(np.float64)
        P = header["regions"]
        assert counts.shape == (P,) and xy.shape == (int(counts.sum()), 2)
        facet = np.repeat(np.arange(P), counts)
        # every output's map, evaluated at the facet's vertices, is the network there (float32 precision)
        z = np.einsum("vk,vok->vo", xy, maps[facet, :, :2]) + maps[facet, :, 2]
        ref = forward64(net, xy, t)
        assert np.abs(z - ref).max() <= 1e-4 * max(1e-9, float(np.ptp(ref))), name
        # counter-clockwise facets tiling the square
        areas = np.zeros(P)
        starts = np.cumsum(counts) - counts
        nxt = np.arange(len(xy)) + 1
        nxt[starts + counts - 1] = starts
        np.add.at(areas, facet, 0.5 * (xy[:, 0] * xy[nxt, 1] - xy[nxt, 0] * xy[:, 1]))
        assert (areas > 0).all() and areas.sum() == pytest.approx(4.0, abs=1e-5), name
        if seen.task == "classify":
            decision = decision_regions(part)
            assert P == decision.counts.shape[0]
            assert np.array_equal(arrays["winner"], decision.classes)
            assert np.array_equal(arrays["region"], decision.regions)
            # the winner is the best score at the facet's centre
            centres = np.array([xy[facet == p].mean(axis=0) for p in range(P)])
            assert (forward64(net, centres, t).argmax(axis=1) == arrays["winner"]).mean() > 0.99
            colors = bit_pattern_colors(part.patterns)[decision.regions, :3]
        else:
            assert P == part.region_count and "winner" not in arrays
            colors = bit_pattern_colors(part.patterns)[:, :3]
        assert np.array_equal(arrays["colors"], colors), name


# -- choosing the output ---------------------------------------------------------------------------
def test_output_choices_and_defaults():
    assert str(default_output("regress", 1)) == "channel:0"
    assert str(default_output("regress", 3)) == "luminance"
    assert str(default_output("classify", 4)) == "winner"
    assert parse_output(None, "regress", 3) == Output("luminance")
    assert parse_output("class:3", "classify", 4) == Output("class", 3)
    for text, task, k, words in [("winner", "regress", 1, "for classifiers"), ("luminance", "regress", 1, "3 outputs"),
                                 ("channel:1", "regress", 1, "does not exist"), ("class:4", "classify", 4, "does not exist"),
                                 ("channel:0", "classify", 4, "for pictures"), ("height", "regress", 1, "must be one of"),
                                 ("channel:-1", "regress", 3, "must be one of")]:
        with pytest.raises(ValueError, match=words):
            parse_output(text, task, k)


def test_creases_are_the_region_boundaries_inside_the_square():
    net = _random([5], seed=11)  # one layer: the creases are 5 lines (those that cross the square)
    part = exact_partition(net)
    surface = build_surface(part)
    creases = surface.creases(Output("channel", 0))
    W, b = net.affine_layers()[0]
    pts = creases[:, :, :2].reshape(-1, 2)
    on_a_line = np.abs(pts @ W.T + b).min(axis=1) / np.linalg.norm(W, axis=1)[np.abs(pts @ W.T + b).argmin(axis=1)]
    assert on_a_line.max() < 1e-9
    assert np.abs(creases[:, :, 2] - forward64(net, pts)[:, 0].reshape(-1, 2)).max() < 1e-9
    length = np.linalg.norm(creases[:, 1, :2] - creases[:, 0, :2], axis=1).sum()
    # each line's chord through the square, once
    chords = 0.0
    for w, c in zip(W, b):
        seg = [p for p in _square_hits(w, c)]
        chords += np.linalg.norm(seg[1] - seg[0]) if len(seg) == 2 else 0.0
    # (rel 1e-6: exact.py leaves slivers thinner than ~1e-10 unsplit, so a crease may miss ~1e-8 of its length)
    assert length == pytest.approx(chords, rel=1e-6)


def _square_hits(w, c):
    """Where w·p + c = 0 meets the square's sides (two points for a line crossing it)."""
    hits = []
    for fixed, axis in ((-1.0, 0), (1.0, 0), (-1.0, 1), (1.0, 1)):
        other = 1 - axis
        if abs(w[other]) < 1e-15:
            continue
        value = -(c + w[axis] * fixed) / w[other]
        if -1.0 <= value <= 1.0:
            p = np.zeros(2)
            p[axis], p[other] = fixed, value
            if not any(np.allclose(p, h) for h in hits):
                hits.append(p)
    return hits


# -- the command line ------------------------------------------------------------------------------
def test_regions_command_writes_obj_and_ply(trained, tmp_path, capsys):
    model, ckpt = trained["ring"]
    out = tmp_path / "surface.obj"
    assert cli.main(["regions", str(ckpt), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "surface of channel:0" in said and "facets" in said
    groups = read_obj(out.read_text())
    assert len(groups) == exact_partition(model).region_count
    xyz = np.concatenate([g[1] for g in groups])
    assert np.abs(xyz[:, 2] - forward64(model, xyz[:, :2])[:, 0]).max() < 1e-9
    # a classifier: the winning score by default, one class's score when asked
    model, ckpt = trained["classes"]
    assert cli.main(["regions", str(ckpt), "--out", str(tmp_path / "c.ply"), "--output", "class:2"]) == 0
    verts, tris, props = read_ply((tmp_path / "c.ply").read_bytes())
    assert "class" not in props and np.abs(verts[:, 2] - forward64(model, verts[:, :2])[:, 2]).max() < 1e-9
    assert cli.main(["regions", str(ckpt), "--out", str(tmp_path / "w.obj")]) == 0
    names = [g[0] for g in read_obj((tmp_path / "w.obj").read_text())]
    assert len(names) == decision_regions(exact_partition(model)).counts.shape[0] and "_class_" in names[0]
    # a clip: the slice at --t, checked against the (x, y, t) network
    model, ckpt = trained["clip"]
    assert cli.main(["regions", str(ckpt), "--out", str(tmp_path / "t.obj"), "--t", "-0.4"]) == 0
    assert "t = -0.4" in capsys.readouterr().out
    xyz = np.concatenate([g[1] for g in read_obj((tmp_path / "t.obj").read_text())])
    z_net = forward64(model, xyz[:, :2], -0.4)[:, 0]
    # (relative to the range: the slice folds t into the bias in the checkpoint's float32, ~1e-8)
    assert np.abs(xyz[:, 2] - z_net).max() <= 1e-6 * np.ptp(z_net)
    # refusals, in words
    for args, words in [(["--output", "winner"], "for classifiers"), (["--layers", "2"], "all hidden layers")]:
        assert cli.main(["regions", str(trained["ring"][1]), "--out", str(out), *args]) == 2
        assert words in capsys.readouterr().err
    assert cli.main(["regions", str(trained["ring"][1]), "--out", str(tmp_path / "x.json"), "--output", "channel:0"]) == 2
    assert "FILE.obj or FILE.ply" in capsys.readouterr().err


def test_regions_command_file_is_what_the_module_writes(trained, tmp_path):
    model, ckpt = trained["ring"]
    assert cli.main(["regions", str(ckpt), "--out", str(tmp_path / "s.obj")]) == 0
    written = (tmp_path / "s.obj").read_bytes()
    surface = surface_for(exact_partition(freeze(model)), "regress", Output("channel", 0))
    body = obj_bytes(surface, Output("channel", 0))
    assert written.endswith(body[body.index(b"g region_0"):])
    assert Path(tmp_path / "s.obj").stat().st_size == len(written)


def test_the_surface_benchmark_runs():
    """benchmarks/surface.py still runs (a tiny net; no timing assertions: figures in docs/benchmarks.md)."""
    import sys

    from conftest import REPO_ROOT

    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import surface as bench

    model = build_mlp([6, 6], generator=torch.Generator().manual_seed(0))
    row = bench.surface_vs_frame(model, runs=1, resolution=64)
    assert row["regions"] == exact_partition(model).region_count
    assert row["surface_bytes"] > 0 and row["frame_bytes"] > 64 * 64 and row["live_s"] > 0 and row["rest_s"] > 0
    deep = bench.deep_net(model, runs=1)
    assert deep["regions"] == row["regions"] and deep["live_pushed"] in (True, False)
