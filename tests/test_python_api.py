"""The notebook and script API (``import polytope_lens as pl``): ``pl.partition`` is the exact
geometry's partition of the same weights, its regions are the inspector's, its documents are the
CLI's, and it refuses what the CLI refuses, in words. ``import polytope_lens`` stays cheap."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import polytope_lens as pl
from polytope_lens.core.model import MLP, build_mlp
from polytope_lens.core.network import FrozenNetwork
from polytope_lens.geometry.exact import exact_partition, region_counts_per_layer
from polytope_lens.geometry.inspection import region_inequalities
from polytope_lens.geometry.plane import default_plane, fold_plane


def sequential(sizes, slopes, seed=0, final=None) -> nn.Sequential:
    """A researcher's plain nn.Sequential: Linear layers with ReLU (slope 0) or LeakyReLU between."""
    torch.manual_seed(seed)
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(nn.ReLU() if slopes[i] == 0 else nn.LeakyReLU(slopes[i]))
    if final is not None:
        mods.append(final)
    return nn.Sequential(*mods)


def _forward64(module: nn.Module, x: np.ndarray) -> np.ndarray:
    """The module's output in float64 (a float64 copy, so the check is not float32 rounding)."""
    import copy

    with torch.no_grad():
        return copy.deepcopy(module).double()(torch.tensor(x, dtype=torch.float64)).numpy()


def test_import_is_cheap_and_lends_the_api_lazily():
    code = ("import sys, polytope_lens as pl; heavy = [m for m in ('torch', 'fastapi', 'anywidget', 'numpy', "
            "'polytope_lens.web', 'polytope_lens.notebook.partition') if m in sys.modules]; "
            "print(heavy); print(sorted(set(['partition', 'Lens', 'plane_through', 'open_network']) - set(dir(pl))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "[]", out
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        pl.nothing_here  # noqa: B018


@pytest.mark.parametrize("slopes", [(0.0, 0.0, 0.0), (0.1, 0.1, 0.1), (0.0, 0.2, 0.05)], ids=["relu", "leaky", "mixed"])
def test_counts_and_regions_equal_the_exact_geometry(slopes):
    module = sequential([2, 12, 10, 8, 1], slopes, seed=1)
    p = pl.partition(module)
    same = FrozenNetwork([(m.weight, m.bias) for m in module if isinstance(m, nn.Linear)], slopes)
    exact = exact_partition(same)
    assert p.region_count == exact.region_count == len(p.regions) > 20
    assert [r.pattern for r in p.regions] == exact.pattern_strings()
    assert p.network.slopes == slopes
    per_layer = region_counts_per_layer(same)
    assert [pl.partition(module, layers=k).region_count for k in (1, 2, 3)] == per_layer
    # each region: its polygon, and the network there is its affine map (float64 forward pass)
    for r in p.regions[:: max(1, len(p.regions) // 15)]:
        np.testing.assert_array_equal(r.polygon, exact.polygons()[r.index])
        inside = r.polygon.mean(axis=0)
        assert p.region_at(*inside).index == r.index
        np.testing.assert_allclose(r.A @ inside + r.c, _forward64(module, inside[None])[0], atol=1e-6)


def test_a_region_is_the_inspectors():
    model = build_mlp([8, 8], generator=torch.Generator().manual_seed(4))
    p = pl.partition(model)
    for r in p.regions[::7]:
        info = r.inequalities()
        ref = region_inequalities(model, p.exact.patterns[r.index])
        for name in ("a", "b", "sign", "binding", "box_binding", "polygon"):
            np.testing.assert_array_equal(getattr(info, name), getattr(ref, name))
        assert len(r.binding()) == int(info.binding.sum()) and all(1 <= layer <= 2 and 0 <= k < 8 for layer, k in r.binding())
        assert info.area == pytest.approx(r.area, abs=1e-12)
    x, y = p.regions[3].polygon.mean(axis=0)
    seen = p.inspect(x, y)
    assert seen["pattern"] == p.regions[3].pattern and seen["autograd"]["max_abs_diff"] < 1e-9
    assert seen["text"].startswith(f"Region at ({x:.6g}, {y:.6g})")
    # the first layer alone: the inspector of the network cut after it
    first = pl.partition(model, layers=1)
    assert first.regions[0].inequalities().a.shape == (8, 2) and not first.complete
    for r in first.regions[::5]:  # its map: the first layer's activations, as the inspector of the cut network has it
        np.testing.assert_allclose(r.inequalities().A, r.A, atol=1e-12)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's legacy exporter says it is legacy
def test_a_model_file_its_bytes_and_the_module_agree(tmp_path):
    module = sequential([2, 10, 10, 3], (0.0, 0.1), seed=2)
    path = tmp_path / "net.onnx"
    torch.onnx.export(module, (torch.zeros(1, 2),), str(path), dynamo=False)
    state = tmp_path / "net.pt"
    torch.save(module.state_dict(), state)
    counts = {
        "module": pl.partition(module).region_count,
        "onnx": pl.partition(path).region_count,
        "onnx bytes": pl.partition(path.read_bytes(), name="net.onnx").region_count,
        "state dict": pl.partition(str(state), activation="leaky_relu", negative_slope=[0.0, 0.1]).region_count,
    }
    assert len(set(counts.values())) == 1, counts


def test_a_plane_through_many_inputs_is_the_folded_network():
    module = sequential([64, 16, 16, 3], (0.0, 0.0), seed=5)
    points = np.random.default_rng(0).normal(size=(20, 64))
    plane = pl.plane_through(points, rows=[3, 7, 11])
    p = pl.partition(module, plane=plane)
    folded = fold_plane(pl.from_module(module), plane)
    assert p.region_count == exact_partition(folded).region_count
    assert p.network.in_dim == 2 and p.source.in_dim == 64 and "plane" in repr(p)
    # input = origin + x u + y v: the map on a region is the module's output there
    r = p.regions[len(p.regions) // 2]
    xy = r.polygon.mean(axis=0)
    np.testing.assert_allclose(r.A @ xy + r.c, _forward64(module, plane.inputs(xy[None]))[0], atol=1e-6)
    # no plane: as the CLI and the page, the plane of the first two inputs (every other input 0)
    first_two = pl.partition(module)
    assert first_two.region_count == exact_partition(fold_plane(pl.from_module(module), default_plane(64))).region_count
    with pytest.raises(ValueError, match="takes 2 inputs and is shown as it is"):
        pl.partition(sequential([2, 4, 1], (0.0,)), plane=plane)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_documents_are_the_clis(tmp_path):
    """to_json and to_svg are what `polytope-lens regions FILE --out` writes, byte for byte: a 2-input
    classifier (with its decision regions) and a 16-input network on the plane through three rows of
    a points file (the plane, its points marked)."""
    from polytope_lens.cli import main

    flat = sequential([2, 10, 8, 3], (0.0, 0.1), seed=8, final=nn.Softmax(dim=-1))
    wide = sequential([16, 12, 12, 1], (0.0, 0.0), seed=9)
    points = np.random.default_rng(2).normal(size=(12, 16))
    np.save(tmp_path / "points.npy", points)
    cases = [(flat, "flat.onnx", [], {}), (wide, "wide.onnx", ["--plane", str(tmp_path / "points.npy"), "--rows", "4", "2", "9"],
                                          {"plane": (points, [4, 2, 9])})]
    for module, name, options, kwargs in cases:
        path = tmp_path / name
        torch.onnx.export(module, (torch.zeros(1, module[0].in_features),), str(path), dynamo=False)
        p = pl.partition(path, **kwargs)
        for suffix, text in ((".json", p.to_json()), (".svg", p.to_svg())):
            out = tmp_path / f"{name}{suffix}"
            assert main(["regions", str(path), "--out", str(out), *options]) == 0
            assert text == out.read_text(), f"{name}{suffix} differs from the CLI's"
    doc = json.loads(p.to_json())
    assert doc["rows"] == [4, 2, 9] and len(doc["marks"]) == 3 and doc["plane"]["origin"] == p.plane.origin.tolist()
    assert p.to_svg().count("<circle") >= 3  # the three points, ringed


def test_documents_and_what_jupyter_draws():
    model = build_mlp([6, 6], generator=torch.Generator().manual_seed(6))
    p = pl.partition(model, box=(-2, 2, -1, 3))
    doc = json.loads(p.to_json())
    assert doc["region_count"] == p.region_count and doc["box"] == [-2, 2, -1, 3]
    assert doc["patterns"] == [r.pattern for r in p.regions] and len(doc["polygons"]) == p.region_count
    svg = p.to_svg(size=256)
    assert svg.startswith("<svg") and svg.count("<path") == p.region_count and 'width="256"' in svg
    assert p._repr_svg_() == p.to_svg(size=480)
    assert "linear regions" in repr(p)


def test_refusals_in_words(tmp_path):
    with pytest.raises(pl.NetworkRefused, match="Conv2d"):
        pl.partition(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(2, 1)))
    with pytest.raises(pl.NetworkRefused, match="Sigmoid"):
        pl.partition(nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1)))
    with pytest.raises(TypeError, match="torch module.*model file"):
        pl.partition(42)
    model = build_mlp([4, 4])
    with pytest.raises(ValueError, match="layers must be 1..2"):
        pl.partition(model, layers=3)
    with pytest.raises(ValueError, match="box must be"):
        pl.partition(model, box=(1, -1, 0, 1))
    bad = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    with torch.no_grad():
        bad[0].weight[1, 0] = float("nan")
    with pytest.raises(pl.NetworkRefused, match="NaN"):
        pl.partition(bad)
    # a pickle that would run code is refused, never run
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buf = io.BytesIO()
    torch.save({"0.weight": Evil()}, buf)
    with pytest.raises(pl.NetworkRefused):
        pl.partition(buf.getvalue(), name="evil.pt", activation="relu")
    assert not marker.exists()
    with pytest.raises(pl.PartitionTooLarge):
        pl.partition(build_mlp([32, 32], generator=torch.Generator().manual_seed(0)), max_regions=10)


def test_the_products_own_network_and_task():
    model: MLP = build_mlp([5, 5], out_dim=3, generator=torch.Generator().manual_seed(7))
    assert pl.partition(model).network.task == "regress"
    assert pl.partition(model, task="classify").network.task == "classify"
