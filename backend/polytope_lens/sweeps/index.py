"""``DIR/sweep.json``: every run of a sweep folder with its settings, status and summary.

``{"format": "polytope-lens-sweep/1", "runs": [{"id", "config", "length", "status", "summary",
"error"}, ...]}``. ``status`` is ``pending`` (planned, or cut off by a killed sweep),
``done`` or ``failed``. Written whole to a temporary file and renamed, so a killed driver
never leaves half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

INDEX_NAME = "sweep.json"
INDEX_FORMAT = "polytope-lens-sweep/1"
STATUSES = ("pending", "done", "failed")


def read_index(sweep_dir: str | Path) -> list[dict]:
    """The runs of ``sweep_dir/sweep.json`` ([] when there is none)."""
    path = Path(sweep_dir) / INDEX_NAME
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ValueError(f"{path} is not a sweep index (no 'runs' list)")
    return data["runs"]


def write_index(sweep_dir: str | Path, runs: list[dict]) -> Path:
    path = Path(sweep_dir) / INDEX_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{INDEX_NAME}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"format": INDEX_FORMAT, "runs": runs}, indent=1) + "\n")
    os.replace(temporary, path)
    return path
