"""Issue 29's rows against a real server on loopback: each hostile or damaged input, its answer, how
long it took, how much the server's process tree grew (RSS) and the slowest /api/health meanwhile.

    .venv/bin/python benchmarks/hostile_files_probe.py

Run it with PYTHONPATH pointing at another checkout's backend/ to compare with older code.
The files are made here (tests/hostile_files.py); nothing large is kept.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from hostile_files import (  # noqa: E402
    gif_with_delays, gif_with_huge_second_frame, mp4_claiming_samples, mp4_with_one_byte_samples, video,
)
from live_server import running_server, tree_rss  # noqa: E402
from sweep_fixture import run_sweep_of  # noqa: E402


def measured(url, work):
    """``work()``'s result, its seconds, the process tree's largest growth (MB), the slowest health (ms)."""
    stop, worst, growth = threading.Event(), [0.0], [0]
    base = tree_rss(url.pid)

    def watch() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                growth[0] = max(growth[0], tree_rss(url.pid) - base)
                t0 = time.monotonic()
                client.get("/api/health")
                worst[0] = max(worst[0], time.monotonic() - t0)
                stop.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    t0 = time.monotonic()
    try:
        result = work()
    finally:
        took = time.monotonic() - t0
        stop.set()
        watcher.join()
    return result, took, growth[0] / 2**20, worst[0] * 1000


def line(name: str, response, took: float, grew: float, health_ms: float) -> None:
    try:
        body = response.json()
        said = body.get("detail") or body.get("note") or ""
    except ValueError:
        said = response.text
    print(f"{name:44s} {response.status_code} in {took:5.2f} s, +{grew:5.0f} MB, health <= {health_ms:4.0f} ms  "
          f"{str(said)[:90]}")


def runs_folder(root: Path) -> Path:
    made = run_sweep_of(root / "made", {"image": "ring", "layers": ["4x2"], "seed": [0], "steps": 100,
                                        "frame_every": 50, "resolution": 32, "train_points": 400, "val_points": 100})
    [entry] = json.loads((made / "sweep.json").read_text())["runs"]
    runs = root / "runs"
    runs.mkdir()
    for name in ("metrics-huge", "weights-sparse"):
        shutil.copytree(made / entry["id"], runs / name)
    with (runs / "metrics-huge" / "metrics.jsonl").open("wb") as f:
        for _ in range(400):
            f.write(b'{"step": 0}\n' * 10_000)
    with (runs / "weights-sparse" / "weights.bin").open("r+b") as f:
        f.truncate(3 * 2**30)
    (runs / "sweep.json").write_text(json.dumps({"runs": [{**entry, "id": n} for n in ("metrics-huge", "weights-sparse")]}))
    return runs


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, running_server(runs_dir=runs_folder(Path(tmp))) as url:
        with httpx.Client(base_url=url, timeout=120) as http:
            uploads = {
                "MP4 claiming 89,000,000 samples": mp4_claiming_samples(89_000_000),
                "MP4 of 6,000,000 one-byte samples": mp4_with_one_byte_samples(6_000_000),
                "GIF, 8x8 canvas, 9000x9000 second frame": gif_with_huge_second_frame(),
                "GIF whose delays sum to 200 s": gif_with_delays([10_000] * 20),
            }
            whole = video(frames=20, size=64, codec="libvpx", fmt="webm")
            for fraction in (0.5, 0.75, 0.97):
                uploads[f"WebM cut to {fraction:.0%}"] = whole[: int(len(whole) * fraction)]
            for name, data in uploads.items():
                line(name, *measured(url, lambda data=data: http.post("/api/images", files={"file": ("f", data)})))
            for name, path in (("metrics.jsonl of 4,000,000 lines", "/api/runs/metrics-huge/metrics"),
                               ("weights.bin sparse 3 GiB, 3 steps", "/api/runs/weights-sparse/weights.bin")):
                line(name, *measured(url, lambda path=path: http.get(path)))


if __name__ == "__main__":
    main()
