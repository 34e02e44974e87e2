"""The polytope-lens console script: outputs of train, resume, exit codes and messages."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from polytope_lens.cli import main
from polytope_lens.core.settings import RunConfig, ViewSettings
from polytope_lens.output.render import caption_height_for
from polytope_lens.core.training import read_checkpoint

FAST = ["--resolution", "64", "--train-points", "500", "--val-points", "100", "--layers", "6x2", "--threads", "1"]
METRIC_FIELDS = {"step", "train_loss", "val_loss", "regions", "elapsed_s", "frame_s"}
SCRIPT = Path(sys.executable).with_name("polytope-lens")


def frame_steps(out: Path) -> list[int]:
    return sorted(int(p.stem.split("_")[1]) for p in (out / "frames").glob("frame_*.png"))


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def movie_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_train_then_resume(sample_dir, tmp_path, capsys):
    out = tmp_path / "ring"
    args = ["train", str(sample_dir / "ring.png"), "--steps", "40", "--frame-every", "20", "--out", str(out)]
    assert main([*args, *FAST, "--movie", "--quiet"]) == 0

    assert frame_steps(out) == [0, 20, 40]
    with Image.open(out / "frames" / "frame_000020.png") as frame:
        assert frame.size == (3 * 64 + 4 * 8, 64 + 2 * 8 + caption_height_for(64))
    records = metrics(out)
    assert [r["step"] for r in records] == [0, 20, 40]
    assert all(METRIC_FIELDS <= r.keys() for r in records)
    # Every pattern the grid sees is one convex region, so the exact count can only be larger.
    assert all(r["exact_regions"] >= r["regions"] > 1 for r in records)
    assert records[0]["elapsed_s"] == 0 < records[1]["elapsed_s"] <= records[2]["elapsed_s"]
    assert records[2]["val_loss"] < records[0]["val_loss"]
    assert read_checkpoint(out / "checkpoint.pt")["step"] == 40
    config = RunConfig.model_validate_json((out / "config.json").read_text())
    assert (config.train_points, config.layers) == (500, "6x2")
    assert ViewSettings.model_validate_json((out / "view.json").read_text()).resolution == 64
    assert movie_frames(out / "movie.mp4") == 3
    # encoded as each frame was drawn: each picture of the movie is nearest its own PNG (H.264 is lossy)
    with av.open(str(out / "movie.mp4")) as container:
        pictures = [f.to_ndarray(format="rgb24").astype(np.float32) for f in container.decode(video=0)]
    drawn = [np.asarray(Image.open(out / "frames" / f"frame_{s:06d}.png").convert("RGB"), dtype=np.float32) for s in (0, 20, 40)]
    for i, picture in enumerate(pictures):
        errors = [np.abs(picture[: d.shape[0], : d.shape[1]] - d).mean() for d in drawn]
        assert int(np.argmin(errors)) == i, errors
    assert capsys.readouterr().out == ""  # --quiet

    # Resume into the same folder: 30 more steps, a new lr, frames at multiples of 20 and at the end.
    resume = ["train", "--resume", str(out / "checkpoint.pt"), "--steps", "30", "--frame-every", "20", "--lr", "1e-4"]
    assert main([*resume, "--movie", "--threads", "1"]) == 0
    assert frame_steps(out) == [0, 20, 40, 60, 70]
    with Image.open(out / "frames" / "frame_000070.png") as frame:  # drawn like the run's earlier frames
        assert frame.size == (3 * 64 + 4 * 8, 64 + 2 * 8 + caption_height_for(64))
    records = metrics(out)
    assert [r["step"] for r in records] == [0, 20, 40, 60, 70]
    assert records[3]["elapsed_s"] >= records[2]["elapsed_s"]  # training time carries on
    ckpt = read_checkpoint(out / "checkpoint.pt")
    assert ckpt["step"] == 70 and ckpt["config"]["lr"] == 1e-4
    assert movie_frames(out / "movie.mp4") == 5
    assert "step 70: train MSE" in capsys.readouterr().out


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--layers", "14x"], "layers: cannot read '14x'"),
        (["--layers", "2000"], "limit of 1024"),
        (["--lr", "0"], "lr: Input should be greater than 0"),
        (["--train-points", "1048576"], "exceeds the 1,048,576 pixels"),
    ],
)
def test_bad_options_exit_2_with_one_line(sample_dir, tmp_path, capsys, extra, message):
    assert main(["train", str(sample_dir / "ring.png"), "--out", str(tmp_path), *extra]) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "frames").exists()


def test_bad_pictures_and_checkpoints_exit_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.png"), "--out", str(tmp_path / "o")]) == 2
    assert "no such picture file" in one_line_error(capsys)
    (tmp_path / "notes.png").write_text("not a picture")
    assert main(["train", str(tmp_path / "notes.png"), "--out", str(tmp_path / "o")]) == 2
    assert "not a picture" in one_line_error(capsys)
    assert main(["train", "--resume", str(tmp_path / "notes.png")]) == 2
    assert "not a Polytope Lens checkpoint" in one_line_error(capsys)
    assert main(["train", "--resume", str(tmp_path / "nothing.pt")]) == 2
    assert "no such checkpoint" in one_line_error(capsys)
    assert main(["train"]) == 2
    assert "IMAGE is required" in one_line_error(capsys)


def test_resume_refuses_to_change_the_network(sample_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(sample_dir / "disk.png"), "--steps", "0", "--out", str(out), *FAST, "--quiet"]) == 0
    assert frame_steps(out) == [0]
    assert main(["train", "--resume", str(out / "checkpoint.pt"), "--layers", "8x2", "--seed", "3"]) == 2
    assert "--layers, --seed cannot change when resuming" in one_line_error(capsys)


def test_divergence_exits_3_and_keeps_the_work(sample_dir, tmp_path, capsys):
    out = tmp_path / "boom"
    args = ["train", str(sample_dir / "ring.png"), "--out", str(out), *FAST, "--layers", "14x6"]
    code = main([*args, "--optimizer", "sgd", "--lr", "10", "--steps", "100", "--movie", "--quiet"])
    assert code == 3
    assert "diverged" in capsys.readouterr().err
    assert read_checkpoint(out / "checkpoint.pt")["step"] == 0
    assert frame_steps(out) == [0] and movie_frames(out / "movie.mp4") == 1


def test_help_lists_every_option_with_defaults(capsys):
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # undo line wrapping
    for flag in ("--layers", "--activation", "--negative-slope", "--optimizer", "--lr", "--momentum", "--batch-size",
                 "--train-points", "--val-points", "--seed", "--resolution", "--color", "--steps", "--frame-every",
                 "--out", "--movie", "--fps", "--fill-regions", "--no-boundaries", "--device", "--resume", "--quiet"):  # fmt: skip
        assert flag in text
    for default in ("(default: 14x6)", "(default: 6000)", "(default: 100)", "(default: 1024)", "(default: adam)",
                    f"(default: {RunConfig().lr})", "(default: 5000)", "(default: runs/<image stem>"):  # fmt: skip
        assert default in text


def test_serve_flags_reach_the_settings(capsys, monkeypatch):
    """Issue 11: the connection, host, memory and geometry settings are flags of `serve`."""
    assert main(["serve", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--allow-host", "--allow-origin", "--max-connections", "--max-connections-per-client",
                 "--header-timeout", "--body-timeout", "--keep-alive-timeout", "--live-memory-mb",
                 "--geometry-workers", "--geometry-queue", "--geometry-wait"):  # fmt: skip
        assert flag in text
    assert "(default: [])" not in text
    seen = {}
    monkeypatch.setattr("polytope_lens.web.app.serve", lambda settings, **kw: seen.update(settings=settings))
    assert main(["serve", "--allow-host", "lens.example", "--max-connections-per-client", "7", "--header-timeout", "3",
                 "--body-timeout", "4", "--keep-alive-timeout", "2", "--live-memory-mb", "512",
                 "--geometry-workers", "1", "--geometry-queue", "3", "--geometry-wait", "5"]) == 0  # fmt: skip
    settings = seen["settings"]
    assert settings.allowed_hosts == ("lens.example",) and settings.max_connections_per_client == 7
    assert (settings.header_timeout_s, settings.body_timeout_s, settings.keep_alive_timeout_s) == (3, 4, 2)
    assert settings.live_memory_bytes == 512 * 1024 * 1024
    assert (settings.geometry_workers, settings.geometry_queue, settings.geometry_wait_s) == (1, 3, 5)
    assert main(["serve", "--live-memory-mb", "0"]) == 0 and seen["settings"].live_memory_bytes is None


def test_installed_script_saves_checkpoint_on_ctrl_c(sample_dir, tmp_path):
    out = tmp_path / "interrupted"
    cmd = [str(SCRIPT), "train", str(sample_dir / "ring.png"), "--steps", "1000000", "--frame-every", "200", "--out", str(out), *FAST]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(frame_steps(out) if (out / "frames").exists() else []) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted at step" in err
    step = read_checkpoint(out / "checkpoint.pt")["step"]
    assert step >= 200 and f"interrupted at step {step};" in err  # saved where it stopped
