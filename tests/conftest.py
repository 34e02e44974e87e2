"""Shared fixtures: sample pictures, a ring target made in memory, small configs."""

from __future__ import annotations

import fcntl
import functools
import io
import os
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from hypothesis import settings
from PIL import Image

from polytope_lens.core.settings import IMAGE_SIZE, RunConfig
from polytope_lens.core.images import Target
from polytope_lens.core.samples import SAMPLES_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]

# Property-based tests draw the same examples on every run, so a CI result does not depend
# on luck; POLYTOPE_LENS_HYPOTHESIS=explore draws new ones each run (to hunt for bugs).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile(os.environ.get("POLYTOPE_LENS_HYPOTHESIS", "repeatable"))

# One torch thread: the tests run on a shared 2-core machine, where two OpenMP threads
# competing with other processes make small-network steps many times slower.
torch.set_num_threads(1)

# httpx's own calls give up after 5 s; on a loaded 2-core CI machine an exact-geometry route of a
# session in another process (a Ray actor) can take longer. A test that means a time limit says so.
for _verb in ("get", "post", "put", "delete"):
    setattr(httpx, _verb, functools.partial(getattr(httpx, _verb), timeout=60.0))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Under pytest-xdist, a test marked ``solo`` (timing-sensitive: latencies, frame rates) runs while
    no other worker runs a test; every other test may run beside any other but a solo one.

    A readers-writer lock on two files in the run's temp folder, held through a test's whole
    protocol (the module fixtures it sets up or tears down too): a test passes the turnstile and
    enters the room shared, a solo one exclusively; a solo test waiting holds the turnstile, so no
    new test enters before it.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # one process: nothing runs beside it
        yield
        return
    folder = item.config._tmp_path_factory.getbasetemp().parent  # the run's, above the workers' own
    solo = item.get_closest_marker("solo") is not None
    with open(folder / "solo-turnstile.lock", "a") as turnstile, open(folder / "solo-room.lock", "a") as room:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(room, fcntl.LOCK_EX if solo else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)


# -- the order in which pytest-xdist hands out test files ---------------------------------------
# scripts/test.sh runs two workers with --dist loadfile: a file's tests stay in one worker (its module
# fixtures are made once), and a worker takes the next file when it is nearly done with its own. The
# files that take longest go first, so that no worker is left alone with a long file at the end
# while the other core idles (longest-first scheduling). Rough seconds on this 2-core machine (their
# order is what matters); a file not listed counts one second per test.
FILE_SECONDS: dict[str, float] = {
    "test_experiments.py": 150,  # the post's three 6000-step runs
    "test_hardening.py": 100,
    "test_load.py": 80,
    "test_hardening_files.py": 80,
    "test_browser.py": 60,
    "test_browser_page.py": 60,
    "test_partition_fast.py": 50,
    "test_browser_renderer.py": 45,
    "test_browser_client.py": 40,
    "test_websocket.py": 40,
    "test_install.py": 30,
    "test_api.py": 30,
    "test_sweep.py": 30,
    "test_browser_classify.py": 30,
    "test_exact.py": 25,
    "test_browser_compare.py": 25,
    "test_browser_inspector.py": 25,
    "test_session_ray.py": 20,
    "test_cli.py": 20,
    "test_sweep_ray.py": 15,
    "test_session_contract.py": 10,
}
# The files that use a local Ray (the local_ray fixture) go to one worker together: one Ray start-up.
RAY_FILES = {"test_session_contract.py", "test_session_ray.py", "test_sweep_ray.py", "test_surface_api.py",
             "test_edit_engines.py"}


def _file_seconds(scope: str, tests: int) -> float:
    if scope == "ray":
        return sum(FILE_SECONDS.get(name, 0.0) for name in RAY_FILES) or float(tests)
    return FILE_SECONDS.get(scope.rsplit("/", 1)[-1], float(tests))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, the Ray files as one unit, handing out the longest unit first (FILE_SECONDS) instead of
    the one with most tests."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFileFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "ray" if scope.rsplit("/", 1)[-1] in RAY_FILES else scope

        def _assign_work_unit(self, node) -> None:
            longest = max(self.workqueue, key=lambda scope: _file_seconds(scope, len(self.workqueue[scope])))
            self.workqueue.move_to_end(longest, last=False)
            super()._assign_work_unit(node)

    return LongestFileFirst(config, log)


# -- servers shared by test files --------------------------------------------------------------
# Starting a server costs about 7 CPU-seconds (torch imported by the server and by its fork server)
# and a few seconds to stop: test files whose tests change no server-wide setting or state share
# one per test process (each xdist worker has its own), through their module's ``server`` fixture.
@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    """A server with default settings (``live_server.running_server``), uploads in a temp folder."""
    from live_server import running_server

    with running_server(data_dir=tmp_path_factory.mktemp("shared-server-data")) as url:
        yield url


@pytest.fixture(scope="session")
def shared_serve():
    """``polytope-lens serve`` with default settings (``browser.ServeProcess``), for the browser tests."""
    from browser import ServeProcess

    with ServeProcess() as server:
        yield server


def run_folder(tmp_path_factory) -> Path:
    """The temp folder of the whole run: above the workers' own under pytest-xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") is not None else base


@pytest.fixture(scope="session")
def mini_sweep(tmp_path_factory) -> Path:
    """The mini sweep folder of tests/sweep_fixture.py, made once per run whatever the number of workers
    (the first to ask makes it, under a lock; the others read it). Tests only read it."""
    from sweep_fixture import make_mini_sweep

    root = run_folder(tmp_path_factory)
    folder, done = root / "mini-sweep", root / "mini-sweep.done"
    with open(root / "mini-sweep.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            make_mini_sweep(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def local_ray() -> str:
    """A local Ray for this test process, started once (seconds of start-up and four processes) and
    shared by the Ray test files, which scripts/test.sh hands to one worker together; its address."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'polytope-lens[ray]')")
    # Small: two CPUs and a 100 MiB object store on a machine shared with other work.
    context = ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024,
                       log_to_driver=False, configure_logging=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLES_DIR


def ring_values(size: int = IMAGE_SIZE) -> np.ndarray:
    """The sample ring's geometry: black annulus 0.35 <= r <= 0.6 on white, (size, size, 1) in [0, 1]."""
    c = -1.0 + (2.0 * np.arange(size) + 1.0) / size
    r = np.hypot(c[None, :], c[::-1, None])
    return np.where((r >= 0.35) & (r <= 0.6), 0.0, 1.0).astype(np.float32)[:, :, None]


@pytest.fixture(scope="session")
def ring_target() -> Target:
    """A 1024x1024 grayscale ring made in memory (no file needed)."""
    return Target(ring_values())


@pytest.fixture
def small_config():
    """Factory for a RunConfig that trains in milliseconds: ``small_config(layers="8x2", ...)``."""

    def make(**overrides) -> RunConfig:
        base = dict(image="ring", layers="8x3", train_points=1000, val_points=200, batch_size=256)
        return RunConfig(**{**base, **overrides})

    return make


@pytest.fixture(scope="session")
def encode():
    """``encode(img, "PNG", **save_params) -> bytes``: a picture as the bytes of a file."""

    def _encode(img: Image.Image, fmt: str, **params) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **params)
        return buf.getvalue()

    return _encode
