"""A sweep folder read back: its runs, and each run's metrics, weight history and checkpoint.

The runs are sweep.json's; a folder without one (say a few ``train`` outputs side by side)
lists every sub-folder holding a config.json instead. A run id reaches only a folder the index
names, so no request can read outside the sweep folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from .churn import churn_series
from .index import read_index
from .runner import SUMMARY, WEIGHTS_BIN, WEIGHTS_INDEX


class UnknownRun(KeyError):
    """No such run in this sweep folder."""


class MissingFile(FileNotFoundError):
    """The run exists but has not written this file (yet, or ever)."""


class RunCatalog:
    def __init__(self, sweep_dir: str | Path):
        self.dir = Path(sweep_dir)
        self._churn: dict[tuple[str, int], list] = {}  # (run id, weights.bin mtime) -> series

    def runs(self) -> list[dict]:
        entries = read_index(self.dir)
        if entries or (self.dir / "sweep.json").is_file():
            return entries
        return [self._loose_entry(p) for p in sorted(self.dir.iterdir()) if (p / "config.json").is_file()]

    def run(self, run_id: str) -> dict:
        for entry in self.runs():
            if entry.get("id") == run_id:
                return entry
        raise UnknownRun(run_id)

    def folder(self, run_id: str) -> Path:
        self.run(run_id)  # only ids the index names
        return self.dir / run_id

    def file(self, run_id: str, name: str) -> Path:
        path = self.folder(run_id) / name
        if not path.is_file():
            raise MissingFile(f"run {run_id} has no {name}")
        return path

    def metrics(self, run_id: str) -> list[dict]:
        records = []
        for line in self.file(run_id, "metrics.jsonl").read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a killed run
        return records

    def weights_index(self, run_id: str) -> dict:
        return json.loads(self.file(run_id, WEIGHTS_INDEX).read_text())

    def weights_path(self, run_id: str) -> Path:
        return self.file(run_id, WEIGHTS_BIN)

    def churn(self, run_id: str) -> dict:
        """{"steps", "churn"}: the region churn at every recorded step (churn.py), cached per file."""
        meta = self.weights_index(run_id)
        path = self.weights_path(run_id)
        key = (run_id, path.stat().st_mtime_ns)
        if key not in self._churn:
            self._churn[key] = churn_series(path.read_bytes(), meta)
        series = self._churn[key]
        return {"steps": meta["steps"][: len(series)], "churn": series}

    def _loose_entry(self, folder: Path) -> dict:
        summary_path = folder / SUMMARY
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
        return {"id": folder.name, "config": json.loads((folder / "config.json").read_text()), "length": None,
                "status": "done" if summary else "pending", "summary": summary, "error": None}
