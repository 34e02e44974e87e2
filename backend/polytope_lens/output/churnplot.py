"""A chart of metrics.jsonl fields over training for several runs (``polytope-lens plot``): e.g. the
pattern churn of the lazy and the rich run side by side. Drawn with PIL, so it needs nothing more."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

from .render import _font
from .runfolder import RunFolder

COLORS = [(124, 58, 237), (234, 88, 12), (13, 148, 136), (219, 39, 119), (37, 99, 235)]


class NoMetrics(FileNotFoundError):
    """A folder to chart holds no metric records."""


def read_metric(run_dir: str | Path, field: str) -> list[tuple[int, float]]:
    """(step, value) of ``field`` from a run folder's metrics.jsonl, skipping nulls."""
    points = []
    for record in RunFolder(run_dir).metrics():
        value = record.get(field)
        if isinstance(value, (int, float)) and math.isfinite(value):
            points.append((int(record["step"]), float(value)))
    return points


def chart_runs(run_dirs: list[Path], field: str, labels: list[str] = (), title: str | None = None) -> Image.Image:
    """One line per run folder of ``field`` over training; ``labels`` name the first runs in order,
    the folder names the rest. Raises NoMetrics for a folder without metrics.jsonl."""
    labels = list(labels) + [Path(run).name for run in run_dirs[len(labels):]]
    runs = {}
    for label, run in zip(labels, run_dirs):
        folder = RunFolder(run)
        if not folder.metrics_path.is_file():
            raise NoMetrics(f"no {folder.metrics_path.name} in {run}")
        runs[label] = read_metric(run, field)
    return plot_runs(runs, title or f"{field} over training", field)


def plot_runs(runs: dict[str, list[tuple[int, float]]], title: str, y_label: str,
              size: tuple[int, int] = (900, 420)) -> Image.Image:
    """One line per run (label -> points) on shared axes from 0; y from 0 to the largest value."""
    W, H = size
    left, right, top, bottom = 70, 20, 50, 50
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(18), _font(13)
    all_points = [p for pts in runs.values() for p in pts]
    x_max = max((s for s, _ in all_points), default=1) or 1
    y_max = max((v for _, v in all_points), default=1.0) or 1.0
    y_max = 1.0 if y_max <= 1.0 else y_max

    def xy(step: float, value: float) -> tuple[float, float]:
        return (left + (W - left - right) * step / x_max, H - bottom - (H - top - bottom) * value / y_max)

    draw.text((left, 12), title, fill="black", font=font)
    draw.line([xy(0, 0), xy(x_max, 0)], fill=(120, 120, 120))
    draw.line([xy(0, 0), xy(0, y_max)], fill=(120, 120, 120))
    for i in range(5):
        v = y_max * i / 4
        x, y = xy(0, v)
        draw.line([(x - 4, y), (x, y)], fill=(120, 120, 120))
        draw.text((8, y - 8), f"{v:.2g}", fill=(60, 60, 60), font=small)
        s = x_max * i / 4
        x, y = xy(s, 0)
        draw.text((x - 12, y + 6), f"{s:.0f}", fill=(60, 60, 60), font=small)
    draw.text((W // 2 - 20, H - 22), "step", fill=(60, 60, 60), font=small)
    draw.text((left + 6, top - 18), y_label, fill=(60, 60, 60), font=small)
    for i, (label, pts) in enumerate(runs.items()):
        color = COLORS[i % len(COLORS)]
        if len(pts) > 1:
            draw.line([xy(s, v) for s, v in pts], fill=color, width=3)
        for s, v in pts:
            x, y = xy(s, v)
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=color)
        draw.text((W - right - 260, top + 4 + 20 * i), f"-- {label}", fill=color, font=small)
    return img
