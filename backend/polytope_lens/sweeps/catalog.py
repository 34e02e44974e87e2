"""A sweep folder read back: its runs, and each run's metrics, weight history and checkpoint.

The runs are sweep.json's; a folder without one (say a few ``train`` outputs side by side)
lists every sub-folder where a run was started instead, and so does a folder whose sweep.json
is damaged (the listing says so). Each run's files are found through its RunFolder
(output/runfolder.py), which names them.

The folder is an operator's, its files are data that may be damaged or hostile:
- a run id is a plain folder name (never a path), and only ids the index names are read;
- every file is resolved (links followed) and must lie inside the runs folder, else it is
  refused (``OutsideFolder``), so a link cannot make the server read elsewhere;
- a file that cannot be read as what it should be is a ``DamagedRun`` with the reason in words;
  a damaged index entry is listed as a run with status ``damaged``, and the other runs load;
- reading is bounded: metrics are streamed and thinned to at most MAX_METRIC_RECORDS records,
  weights.bin must hold exactly the steps weights.json names and is read step by step from a
  memory map, region churn is computed for at most MAX_CHURN_STEPS steps within CHURN_BUDGET_S
  and cached.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import numpy as np

from ..core.clips import even_indices
from ..core.network import flat_size
from ..output.runfolder import RunFolder
from .churn import churn_series
from .index import INDEX_NAME

RUN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=,+-]{0,199}$")  # a folder name: no separators, not . or ..
MAX_JSON_BYTES = 16 * 1024 * 1024  # sweep.json, weights.json, config.json, summary.json
MAX_METRIC_LINE_BYTES = 64 * 1024  # longer lines are skipped (a record is ~1 KB)
MAX_METRIC_RECORDS = 10_000  # what a chart can show; longer files are thinned evenly
MAX_CHURN_STEPS = 2_000  # longer weight histories get churn at evenly spaced steps
CHURN_BUDGET_S = 5.0  # past it the series is partial, and says so


class UnknownRun(KeyError):
    """No such run in this sweep folder."""


class MissingFile(FileNotFoundError):
    """The run exists but has not written this file (yet, or ever)."""


class OutsideFolder(PermissionError):
    """A run folder or file that resolves outside the runs folder (a link out of it)."""


class DamagedRun(ValueError):
    """A run's file that cannot be read as what it should be; the message says why."""


def _load_json(path: Path, what: str):
    """JSON from ``path``, or DamagedRun in words (too large, not UTF-8, not JSON, nested too deeply)."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise DamagedRun(f"{what} is {size:,} bytes, more than the {MAX_JSON_BYTES:,} read")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise DamagedRun(f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise DamagedRun(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise DamagedRun(f"{what} is nested too deeply to read") from None


def _damaged_entry(run_id: str, reason: str, config: dict | None = None) -> dict:
    return {"id": run_id, "config": config or {}, "length": None, "status": "damaged", "summary": None,
            "error": reason}


class RunCatalog:
    def __init__(self, sweep_dir: str | Path):
        self.dir = Path(sweep_dir)
        self.root = self.dir.resolve()
        self.problem: str | None = None  # what is wrong with sweep.json, when it is damaged
        self._churn: dict[tuple[str, int, int], dict] = {}  # (run id, weights.bin mtime, size) -> series

    # -- the index ------------------------------------------------------------
    def runs(self) -> list[dict]:
        """Every run: sweep.json's entries (each checked; a damaged one is listed as ``damaged``), or
        the folders holding a config.json where there is no sweep.json or it is damaged."""
        index = self.dir / INDEX_NAME
        self.problem = None
        if index.is_file():
            try:
                return self._index_entries(index)
            except DamagedRun as exc:
                self.problem = f"{exc}; the runs are listed from their folders instead"
        return [self._loose_entry(RunFolder(p)) for p in sorted(self.dir.iterdir())
                if RUN_ID.match(p.name) and RunFolder(p).is_run()]

    def _index_entries(self, index: Path) -> list[dict]:
        self._inside(index, INDEX_NAME)
        data = _load_json(index, INDEX_NAME)
        if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
            raise DamagedRun(f"{INDEX_NAME} is not a sweep index (no 'runs' list)")
        entries, seen = [], set()
        for k, entry in enumerate(data["runs"]):
            checked = self._checked_entry(k, entry)
            if checked["id"] not in seen:
                seen.add(checked["id"])
                entries.append(checked)
        return entries

    @staticmethod
    def _checked_entry(k: int, entry) -> dict:
        if not isinstance(entry, dict):
            return _damaged_entry(f"entry-{k + 1}", f"entry {k + 1} of {INDEX_NAME} is not an object")
        run_id = entry.get("id")
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            shown = repr(run_id)[:60]
            return _damaged_entry(f"entry-{k + 1}", f"entry {k + 1} of {INDEX_NAME} has no usable id ({shown}: "
                                                    "an id is a folder name)")
        config = entry.get("config")
        if not isinstance(config, dict):
            return _damaged_entry(run_id, f"run {run_id} has no config in {INDEX_NAME}")
        status = entry.get("status")
        clean = {
            "id": run_id, "config": config,
            "length": entry.get("length") if isinstance(entry.get("length"), dict) else None,
            "status": status if isinstance(status, str) else "pending",
            "summary": entry.get("summary") if isinstance(entry.get("summary"), dict) else None,
            "error": entry.get("error") if isinstance(entry.get("error"), str) else None,
        }
        return clean

    def _loose_entry(self, folder: RunFolder) -> dict:
        name = folder.path.name
        try:
            config_path = folder.config_path
            config = _load_json(self._inside(config_path, config_path.name), f"{name}/{config_path.name}")
            if not isinstance(config, dict):
                raise DamagedRun(f"{name}/{config_path.name} is not an object")
            summary = None
            if folder.finished():
                summary_path = folder.summary_path
                summary = _load_json(self._inside(summary_path, summary_path.name), f"{name}/{summary_path.name}")
                summary = summary if isinstance(summary, dict) else None
        except (DamagedRun, OutsideFolder) as exc:
            return _damaged_entry(name, str(exc))
        return {"id": name, "config": config, "length": None,
                "status": "done" if summary else "pending", "summary": summary, "error": None}

    def run(self, run_id: str) -> dict:
        if not RUN_ID.match(run_id):
            raise UnknownRun(run_id)
        for entry in self.runs():
            if entry.get("id") == run_id:
                return entry
        raise UnknownRun(run_id)

    # -- files ----------------------------------------------------------------
    def _inside(self, path: Path, what: str) -> Path:
        """``path`` with links resolved, when it lies inside the runs folder; else OutsideFolder."""
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise OutsideFolder(f"{what} lies outside the runs folder (a link out of it); it is not read")
        return resolved

    def folder(self, run_id: str) -> RunFolder:
        entry = self.run(run_id)  # only ids the index names
        if entry["status"] == "damaged":
            raise DamagedRun(entry["error"])
        return RunFolder(self._inside(self.dir / run_id, f"run {run_id}'s folder"))

    def _file(self, run_id: str, path: Path) -> Path:
        """One of a run's files (``path``, as its RunFolder names it), resolved and confined."""
        name = path.name
        if not path.exists() and not path.is_symlink():
            raise MissingFile(f"run {run_id} has no {name}")
        resolved = self._inside(path, f"run {run_id}'s {name}")
        if not resolved.is_file():
            raise MissingFile(f"run {run_id} has no {name}")
        return resolved

    def checkpoint_path(self, run_id: str) -> Path:
        return self._file(run_id, self.folder(run_id).checkpoint_path)

    def metrics(self, run_id: str) -> dict:
        """{"records", "total", "skipped", "note"}: metrics.jsonl's records, streamed; at most
        MAX_METRIC_RECORDS of them (evenly thinned, the last kept), lines that are not JSON objects
        (cut short by a killed run, damaged) skipped and counted."""
        path = self._file(run_id, self.folder(run_id).metrics_path)
        total = _count_lines(path)
        # every k-th record and the last: at most MAX_METRIC_RECORDS in all
        every = 1 if total <= MAX_METRIC_RECORDS else math.ceil(total / (MAX_METRIC_RECORDS - 1))
        records, skipped = [], 0
        with path.open("rb") as lines:
            for k, line in enumerate(_bounded_lines(lines)):
                wanted = k % every == 0 or k == total - 1
                if line is None:  # longer than any record
                    skipped += 1
                    continue
                if not wanted:
                    continue
                record = _metric_record(line)
                if record is None:
                    skipped += 1
                else:
                    records.append(record)
        notes = []
        if every > 1:
            notes.append(f"{total:,} records, thinned to one in {every:,} ({len(records):,} shown)")
        if skipped:
            notes.append(f"{skipped:,} damaged line{'s' if skipped != 1 else ''} skipped")
        return {"records": records, "total": total, "skipped": skipped, "note": "; ".join(notes) or None}

    def weights_index(self, run_id: str) -> dict:
        """weights.json, checked: its fields have the right types and bytes_per_step fits the widths."""
        path = self._file(run_id, self.folder(run_id).weights_index_path)
        meta = _load_json(path, f"run {run_id}'s {path.name}")
        problem = _weights_problem(meta)
        if problem:
            raise DamagedRun(f"run {run_id}'s {path.name}: {problem}")
        return meta

    def weights_path(self, run_id: str) -> Path:
        """weights.bin, when it holds exactly the steps weights.json names (steps x bytes_per_step)."""
        return self._weights(run_id)[1]

    def _weights(self, run_id: str) -> tuple[dict, Path]:
        """weights.json (checked) and the weights.bin that agrees with it."""
        meta = self.weights_index(run_id)
        folder = self.folder(run_id)
        path = self._file(run_id, folder.weights_path)
        expected = len(meta["steps"]) * meta["bytes_per_step"]
        size = path.stat().st_size
        if size != expected:
            raise DamagedRun(f"run {run_id}'s {path.name} holds {size:,} bytes, but {folder.weights_index_path.name} "
                             f"says {len(meta['steps']):,} steps of {meta['bytes_per_step']:,} bytes ({expected:,})")
        return meta, path

    def churn(self, run_id: str) -> dict:
        """{"steps", "churn", "note"}: the region churn at recorded steps (churn.py), cached per file.
        At most MAX_CHURN_STEPS evenly spaced steps (churn then compares each kept step with the kept
        one before), within CHURN_BUDGET_S (a partial series says so)."""
        meta, path = self._weights(run_id)
        stat = path.stat()
        key = (run_id, stat.st_mtime_ns, stat.st_size)
        if key not in self._churn:
            steps = meta["steps"]
            kept = even_indices(len(steps), MAX_CHURN_STEPS)
            history = np.memmap(path, dtype=np.uint8, mode="r") if stat.st_size else np.zeros(0, np.uint8)
            series = churn_series(history, meta, indices=kept, deadline=time.monotonic() + CHURN_BUDGET_S)
            notes = []
            if len(kept) < len(steps):
                notes.append(f"{len(steps):,} recorded steps: churn between {len(kept):,} evenly spaced ones")
            if len(series) < len(kept):
                notes.append(f"computed for the first {len(series):,} of {len(kept):,} steps within "
                             f"{CHURN_BUDGET_S:g} s")
            self._churn = {k: v for k, v in self._churn.items() if k[0] != run_id}
            self._churn[key] = {"steps": [steps[i] for i in kept[: len(series)]], "churn": series,
                                "note": "; ".join(notes) or None}
        return self._churn[key]


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _bounded_lines(f):
    """Each line of ``f`` as bytes, or None for a line longer than MAX_METRIC_LINE_BYTES (never held whole)."""
    while True:
        line = f.readline(MAX_METRIC_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_METRIC_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := f.readline(1 << 16)) and not rest.endswith(b"\n"):
                pass  # skip the rest of the overlong line
            yield None
        else:
            yield line


def _metric_record(line: bytes) -> dict | None:
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _weights_problem(meta) -> str | None:
    """What is wrong with a weights.json, or None."""
    if not isinstance(meta, dict):
        return "not an object"
    steps, widths, out_dim = meta.get("steps"), meta.get("widths"), meta.get("out_dim")
    if not isinstance(steps, list) or not all(_is_int(s) for s in steps):
        return "'steps' must be a list of whole numbers"
    if not isinstance(widths, list) or not widths or not all(_is_int(w) and 0 < w <= 4096 for w in widths) \
            or len(widths) > 256:
        return "'widths' must be a list of hidden layer widths"
    if not _is_int(out_dim) or not 0 < out_dim <= 64:
        return "'out_dim' must be a whole number of outputs"
    slope = meta.get("negative_slope")
    if not isinstance(slope, (int, float)) or isinstance(slope, bool) or not math.isfinite(slope):
        return "'negative_slope' must be a finite number"
    slopes = meta.get("slopes")
    if slopes is not None and (not isinstance(slopes, list) or len(slopes) != len(widths) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in slopes)):
        return "'slopes' must be a finite number per hidden layer"
    per_step = meta.get("bytes_per_step")
    in_dim = meta.get("in_dim", 2)
    if not _is_int(in_dim) or in_dim not in (2, 3):
        return "'in_dim' must be 2 or 3"
    if not _is_int(per_step) or per_step != flat_size(widths, out_dim, in_dim):
        return (f"'bytes_per_step' must be {flat_size(widths, out_dim, in_dim):,} for widths {widths} and "
                f"{out_dim} outputs (it is {per_step!r})")
    classes = meta.get("classes")
    if classes is not None and (not isinstance(classes, list) or not all(isinstance(c, str) for c in classes)):
        return "'classes' must be a list of colours"
    return None
