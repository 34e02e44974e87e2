"""export_regions: the exact partition of a checkpoint written by `polytope-lens train`, as JSON or SVG."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch


from polytope_lens import cli
from polytope_lens.geometry.exact import exact_partition, region_counts_per_layer
from polytope_lens.geometry.export import export_regions
from polytope_lens.core.training import load_checkpoint_model
from polytope_lens.core.training import trainer_from_checkpoint

SVG = "{http://www.w3.org/2000/svg}path"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A checkpoint written by the train command itself."""
    out = tmp_path_factory.mktemp("run")
    code = cli.main(["train", "ring", "--layers", "8x3", "--steps", "60", "--frame-every", "60",
                     "--train-points", "1000", "--val-points", "200", "--resolution", "32",
                     "--threads", "1", "--quiet", "--out", str(out)])
    assert code == 0
    return out / "checkpoint.pt"


def test_json_export(checkpoint, tmp_path):
    summary = export_regions(checkpoint, tmp_path / "regions.json")
    model = trainer_from_checkpoint(checkpoint).model
    part = exact_partition(model)
    assert summary["format"] == "json" and summary["step"] == 60
    assert summary["regions"] == part.region_count and summary["layers"] == summary["hidden_layers"] == 3
    assert summary["area_sum"] == pytest.approx(4.0, abs=1e-6)
    doc = json.loads((tmp_path / "regions.json").read_text())
    assert doc["format"] == "polytope-lens-regions/1" and doc["config"]["layers"] == "8x3"
    assert doc["region_count"] == len(doc["polygons"]) == len(doc["patterns"]) == part.region_count
    assert sum(doc["areas"]) == pytest.approx(4.0, abs=1e-6)
    # the affine maps are the network: evaluate each region's map at its vertex mean
    pts = np.array([np.mean(p, axis=0) for p in doc["polygons"]])
    with torch.no_grad():
        out = model.double()(torch.from_numpy(pts)).numpy()
    mapped = np.einsum("rok,rk->ro", np.array(doc["A"]), pts) + np.array(doc["c"])
    assert np.abs(out - mapped).max() < 1e-6


def test_svg_export_and_layers(checkpoint, tmp_path):
    model, config, step = load_checkpoint_model(checkpoint)
    counts = region_counts_per_layer(model)
    for k in (1, 2, None):
        summary = export_regions(checkpoint, tmp_path / f"r{k}.svg", layers=k, size=256)
        root = ET.fromstring((tmp_path / f"r{k}.svg").read_text())
        assert root.get("width") == "256"
        n = counts[(k or 3) - 1]
        assert len(root.findall(f".//{SVG}")) == summary["regions"] == n
    assert all(a <= b for a, b in zip(counts, counts[1:]))


def test_bad_arguments(checkpoint, tmp_path):
    with pytest.raises(ValueError, match=".json or .svg"):
        export_regions(checkpoint, tmp_path / "x.png")
    with pytest.raises(ValueError, match="layers must be 1..3"):
        export_regions(checkpoint, tmp_path / "x.json", layers=4)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a Polytope Lens checkpoint"):
        export_regions(bad, tmp_path / "x.json")


def test_regions_subcommand(checkpoint, tmp_path, capsys):
    out = tmp_path / "cli.svg"
    assert cli.main(["regions", str(checkpoint), "--out", str(out)]) == 0
    assert "regions" in capsys.readouterr().out
    ET.fromstring(out.read_text())
    assert cli.main(["regions", str(tmp_path / "missing.pt"), "--out", str(out)]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert cli.main(["regions", str(checkpoint), "--out", str(tmp_path / "x.txt")]) == 2
    assert ".json or .svg" in capsys.readouterr().err
