"""Where a sweep's runs execute.

- ``LocalEngine``: one process per run on this machine (``jobs`` at once, all cores by
  default), one torch thread each: small networks train fastest single-threaded, so the
  cores are better spent on runs side by side.
- ``RayEngine``: one Ray task per run, on a local Ray started for the sweep or on a cluster
  (``address``). A task trains into its node's temporary folder and returns the folder as
  a tar archive, unpacked by the driver into its own ``--out``: no shared disk assumed.

Both take ``RunTask``s and yield ``(run id, result)`` as runs finish, in any order.
The local engine spawns its workers (a fresh interpreter each), so a script that drives
``run_sweep`` itself needs the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .runner import RunTask, execute_run

RAY_MISSING = "the ray engine needs Ray: pip install 'polytope-lens[ray]' (or pip install ray)"


def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


class LocalEngine:
    name = "local"

    def __init__(self, jobs: int | None = None):
        self.jobs = max(1, jobs or os.cpu_count() or 1)

    def run(self, tasks: list[RunTask], out_dir: Path) -> Iterator[tuple[str, dict]]:
        if not tasks:
            return
        # spawn: a clean interpreter per worker (no copied threads or torch state from the driver)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(self.jobs, len(tasks)), mp_context=context, initializer=_one_torch_thread) as pool:
            futures = {pool.submit(execute_run, task, out_dir / task.id): task.id for task in tasks}
            try:
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield futures[future], _result_of(future)
            finally:
                for future in futures:
                    future.cancel()


def _result_of(future) -> dict:
    try:
        return future.result()
    except BrokenProcessPool:
        return {"status": "failed", "summary": {}, "error": "the run's worker process died (out of memory or killed)"}
    except Exception as exc:  # e.g. the task could not be sent to the worker
        return {"status": "failed", "summary": {}, "error": f"{type(exc).__name__}: {exc}"}


def pack_run(task: RunTask) -> tuple[dict, bytes]:
    """Run ``task`` in a temporary folder and return its result and the folder as a tar archive."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="polytope-sweep-") as tmp:
        run_dir = Path(tmp) / task.id
        result = execute_run(task, run_dir)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            if run_dir.is_dir():
                for path in sorted(run_dir.rglob("*")):
                    tar.add(path, arcname=str(path.relative_to(run_dir)), recursive=False)
        return result, buffer.getvalue()


def unpack_run(archive: bytes, run_dir: Path) -> None:
    """Replace ``run_dir`` with the folder packed by ``pack_run`` (plain files and folders only)."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
        tar.extractall(run_dir, filter="data")  # refuses absolute paths, links out of the folder


class RayEngine:
    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_run: float = 1.0, gpus_per_run: float = 0.0,
                 init_options: dict | None = None):
        try:
            import ray  # noqa: F401
        except ModuleNotFoundError:
            raise RuntimeError(RAY_MISSING) from None
        self.address = address
        self.cpus_per_run = cpus_per_run
        self.gpus_per_run = gpus_per_run
        self.init_options = init_options or {}

    def run(self, tasks: list[RunTask], out_dir: Path) -> Iterator[tuple[str, dict]]:
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, **self.init_options)
        pending: list = []
        try:
            remote = ray.remote(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, max_retries=0)(pack_run)
            refs = {remote.remote(task): task for task in tasks}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                task = refs[done[0]]
                try:
                    result, archive = ray.get(done[0])
                    unpack_run(archive, out_dir / task.id)
                except Exception as exc:  # the task's worker died, or the archive did not arrive
                    result = {"status": "failed", "summary": {}, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
                yield task.id, result
        finally:
            for ref in pending:  # the sweep was stopped: do not leave its tasks running on the cluster
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
            if started_here:
                ray.shutdown()
