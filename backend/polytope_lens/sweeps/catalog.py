"""A sweep folder read back: its runs, and each run's metrics, weight history and checkpoint.

The runs are sweep.json's; a folder without one (say a few ``train`` outputs side by side)
lists every sub-folder where a run was started instead. A run id reaches only a folder the index
names, so no request can read outside the sweep folder. Each run's files are found through its
RunFolder (output/runfolder.py), which names them.
"""

from __future__ import annotations

from pathlib import Path

from ..output.runfolder import RunFolder
from .churn import churn_series
from .index import INDEX_NAME, read_index


class UnknownRun(KeyError):
    """No such run in this sweep folder."""


class MissingFile(FileNotFoundError):
    """The run exists but has not written this file (yet, or ever)."""


class RunCatalog:
    def __init__(self, sweep_dir: str | Path):
        self.dir = Path(sweep_dir)
        self._churn: dict[tuple[str, int], list] = {}  # (run id, weight history's mtime) -> series

    def runs(self) -> list[dict]:
        entries = read_index(self.dir)
        if entries or (self.dir / INDEX_NAME).is_file():
            return entries
        return [self._loose_entry(RunFolder(p)) for p in sorted(self.dir.iterdir()) if RunFolder(p).is_run()]

    def run(self, run_id: str) -> dict:
        for entry in self.runs():
            if entry.get("id") == run_id:
                return entry
        raise UnknownRun(run_id)

    def folder(self, run_id: str) -> RunFolder:
        self.run(run_id)  # only ids the index names
        return RunFolder(self.dir / run_id)

    def metrics(self, run_id: str) -> list[dict]:
        folder = self.folder(run_id)
        _require(run_id, folder.metrics_path)
        return folder.metrics()

    def weights_index(self, run_id: str) -> dict:
        folder = self.folder(run_id)
        _require(run_id, folder.weights_index_path)
        return folder.weights_index()

    def weights_path(self, run_id: str) -> Path:
        return _require(run_id, self.folder(run_id).weights_path)

    def checkpoint_path(self, run_id: str) -> Path:
        return _require(run_id, self.folder(run_id).checkpoint_path)

    def churn(self, run_id: str) -> dict:
        """{"steps", "churn"}: the region churn at every recorded step (churn.py), cached per file."""
        meta = self.weights_index(run_id)
        path = self.weights_path(run_id)
        key = (run_id, path.stat().st_mtime_ns)
        if key not in self._churn:
            self._churn[key] = churn_series(path.read_bytes(), meta)
        series = self._churn[key]
        return {"steps": meta["steps"][: len(series)], "churn": series}

    @staticmethod
    def _loose_entry(folder: RunFolder) -> dict:
        summary = folder.summary()
        return {"id": folder.path.name, "config": folder.config(), "length": None,
                "status": "done" if summary else "pending", "summary": summary, "error": None}


def _require(run_id: str, path: Path) -> Path:
    if not path.is_file():
        raise MissingFile(f"run {run_id} has no {path.name}")
    return path
