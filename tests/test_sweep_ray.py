"""polytope-lens sweep --engine ray, on a local Ray started once for this module: the same
final losses and sweep.json as the local engine (CPU, same seeds), run folders sent back."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'polytope-lens[ray]')")

from polytope_lens.cli import main  # noqa: E402
from polytope_lens.sweeps.engines import RayEngine  # noqa: E402
from test_sweep import ENTRY_KEYS, MINI, MINI_IDS, SUMMARY_KEYS, index  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def ray_running(local_ray):
    """The sweeps below run on the test process's local Ray (tests/conftest.py), started once."""


def _without_times(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("train_s", "wall_s")}


def test_ray_and_local_engines_give_the_same_runs(tmp_path):
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(["sweep", *MINI, "--out", str(local), "--jobs", "2", "--quiet"]) == 0
    assert main(["sweep", *MINI, "--out", str(remote), "--engine", "ray", "--quiet"]) == 0
    by_id = {engine: {r["id"]: r for r in index(folder)["runs"]} for engine, folder in (("local", local), ("ray", remote))}
    assert set(by_id["ray"]) == set(by_id["local"]) == MINI_IDS
    for run_id, run in by_id["ray"].items():
        other = by_id["local"][run_id]
        assert set(run) == set(other) == ENTRY_KEYS and set(run["summary"]) == SUMMARY_KEYS
        assert run["status"] == "done" and run["config"] == other["config"] and run["length"] == other["length"]
        # Same seeds on the CPU, one thread each: bit-for-bit the same training.
        assert _without_times(run["summary"]) == _without_times(other["summary"])
        # The task's folder came back to the driver's --out whole.
        names = sorted(p.name for p in (remote / run_id).iterdir())
        assert names == sorted(p.name for p in (local / run_id).iterdir())
        assert (remote / run_id / "weights.bin").read_bytes() == (local / run_id / "weights.bin").read_bytes()
        assert json.loads((remote / run_id / "summary.json").read_text())["step"] == 200


def test_ray_sweep_resumes_and_records_failures(tmp_path):
    out = tmp_path / "ray"
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG but not really")
    args = ["sweep", "ring", str(broken), "--layers", "4x2", "--steps", "20", "--frame-every", "10",
            "--resolution", "16", "--train-points", "200", "--val-points", "50", "--out", str(out),
            "--engine", "ray", "--quiet"]
    assert main(args) == 1
    runs = {r["id"]: r for r in index(out)["runs"]}
    assert runs["ring_4x2_seed0"]["status"] == "done" and runs["broken_4x2_seed0"]["status"] == "failed"
    stamp = (out / "ring_4x2_seed0" / "summary.json").stat().st_mtime_ns
    broken.unlink()
    args[2] = "ring"  # the same plan minus the broken picture: nothing left to train
    assert main(args[:2] + args[3:]) == 0
    assert (out / "ring_4x2_seed0" / "summary.json").stat().st_mtime_ns == stamp


def test_engine_without_ray_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ModuleNotFoundError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(RuntimeError, match=r"pip install 'polytope-lens\[ray\]'"):
        RayEngine()
