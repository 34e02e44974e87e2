"""Worker processes for heavy exact geometry, and a thread pool that gives its threads back.

``GeometryPool`` runs the functions of ``geometry/tasks.py`` in a
``ProcessPoolExecutor`` (``forkserver`` start method: the server process has
threads, so it must not plain-fork). Neither the event loop nor the GIL of the
server is held while a partition is computed and encoded, so health checks,
frames and uploads go on.

- Started lazily, at the first job (server start-up stays fast); the fork
  server preloads the numerics, so a worker starts in milliseconds after that.
- At most ``workers`` jobs run at once (at lower CPU priority than the server);
  at most ``max_waiting`` more wait, each at most ``max_wait_s``. Past either,
  :class:`Busy` (the route answers 503 with ``Retry-After``): the truth is
  "busy, try again", not "too large".
- A job's own budget starts when it starts; it stops itself at its deadline.
  One that overruns its budget by ``grace_s`` anyway has its workers killed
  (the pool is replaced) and gets :class:`Overrun`.
- Shut down with the app (lifespan) and after ``idle_s`` without jobs, so its
  processes and threads go away when nobody needs them.

``IdleThreadPool`` is the event loop's default executor (``asyncio.to_thread``):
at most ``max_workers`` threads, each ending after ``idle_s`` without work, so a
burst of uploads leaves no threads behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import queue
import shutil
import tempfile
import threading
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool

from ..processes import context as _context, plain_main as _plain_main

log = logging.getLogger("polytope_lens.server")


class Busy(Exception):
    """No worker free within the wait, or too many jobs waiting already: try again later."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class Overrun(Exception):
    """A job ran past its budget and did not stop by itself: its worker was killed."""


class GeometryPool:
    def __init__(self, workers: int = 2, max_waiting: int = 8, max_wait_s: float = 10.0,
                 grace_s: float = 5.0, idle_s: float = 60.0, niceness: int = 5):
        self.workers = max(1, int(workers))
        self.max_waiting = max(0, int(max_waiting))
        self.max_wait_s = float(max_wait_s)
        self.grace_s = float(grace_s)
        self.idle_s = float(idle_s)
        self.niceness = int(niceness)
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0
        self._running = 0
        self._durations: deque[float] = deque(maxlen=20)
        self._idle_timer: asyncio.TimerHandle | None = None
        self._dir: str | None = None
        self._closed = False

    # -- state ----------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._executor is not None

    def stats(self) -> dict:
        return {"running": self._running, "waiting": self._waiting, "started": self.started}

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the typical job time times the jobs ahead."""
        typical = sorted(self._durations)[len(self._durations) // 2] if self._durations else 2.0
        ahead = self._waiting + self._running
        return max(1, math.ceil(typical * max(1, ahead) / self.workers))

    # -- running --------------------------------------------------------------------
    def progress_file(self) -> str:
        """A fresh, empty file for one job's progress (removed by :meth:`drop_progress_file`)."""
        if self._dir is None or not os.path.isdir(self._dir):
            self._dir = tempfile.mkdtemp(prefix="polytope-lens-jobs-")
        fd, path = tempfile.mkstemp(dir=self._dir, suffix=".progress")
        os.close(fd)
        return path

    @staticmethod
    def drop_progress_file(path: str | None) -> None:
        if path:
            with contextlib.suppress(OSError):
                os.unlink(path)

    async def run(self, fn, *args, limit_s: float, on_start=None, **kwargs):
        """Run ``fn(*args, **kwargs)`` in a worker process; its result, or its exception.

        Raises :class:`Busy` when the queue is full or no worker frees up within
        ``max_wait_s``, :class:`Overrun` when the job is still running ``grace_s`` after
        ``limit_s`` (the job's own budget: it should have stopped itself by then).
        ``on_start()`` is called when the job leaves the queue.
        """
        if self._closed:
            raise Busy("the server is shutting down", 5)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        if self._slots.locked() and self._waiting >= self.max_waiting:
            raise Busy(f"{self._running} exact computations are running and {self._waiting} are waiting "
                       "(the limit); try again shortly", self.retry_after())
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.max_wait_s)
        except asyncio.TimeoutError:
            raise Busy(f"no worker was free within {self.max_wait_s:g} s: other exact computations are "
                       "running; try again shortly", self.retry_after()) from None
        finally:
            self._waiting -= 1
        self._running += 1
        self._cancel_idle_timer()
        started = time.monotonic()
        future = None
        try:
            if on_start is not None:
                on_start()
            executor = self._ensure_executor()
            call = _Call(fn, args, kwargs)
            # submit() may start the forkserver and workers (~1 s): on a thread, never on the event loop
            try:
                future = asyncio.wrap_future(await asyncio.to_thread(_submit, executor, call))
            except RuntimeError:  # the pool was shut down under us (idle timer, overrun): a new one
                self._executor = None
                future = asyncio.wrap_future(await asyncio.to_thread(_submit, self._ensure_executor(), call))
            try:
                return await asyncio.wait_for(asyncio.shield(future), limit_s + self.grace_s)
            except asyncio.TimeoutError:
                self._kill(f"a job ran {limit_s + self.grace_s:g} s, past its budget of {limit_s:g} s")
                raise Overrun(f"the computation did not finish within its budget of {limit_s:g} s") from None
            except BrokenProcessPool:
                self._executor = None
                raise Busy("a worker process ended unexpectedly (the server may be short of memory); "
                           "try again", self.retry_after()) from None
        finally:
            if future is not None and not future.done():
                # the caller went away (cancelled) while its job still runs: the worker is busy
                # until it ends, so its slot is given back only then
                future.add_done_callback(lambda _: self._finished(started))
            else:
                self._finished(started)

    def _finished(self, started: float) -> None:
        self._durations.append(time.monotonic() - started)
        self._running -= 1
        self._slots.release()
        if self._running == 0 and self._waiting == 0:
            self._arm_idle_timer()

    def _ensure_executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            ctx = _context()
            from ..geometry import tasks

            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=tasks.worker_init,
                initargs=(self.niceness,),
            )
        return self._executor

    def _kill(self, why: str) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        log.warning("killing the exact-geometry workers: %s", why)
        processes = list(getattr(executor, "_processes", {}).values())  # no public way to stop one job
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    # -- idle and shutdown ------------------------------------------------------------
    def _arm_idle_timer(self) -> None:
        self._cancel_idle_timer()
        if self.idle_s > 0 and self._executor is not None:
            with contextlib.suppress(RuntimeError):
                self._idle_timer = asyncio.get_running_loop().call_later(self.idle_s, self._idle_shutdown)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle_shutdown(self) -> None:
        self._idle_timer = None
        if self._running == 0 and self._waiting == 0 and self._executor is not None:
            executor, self._executor = self._executor, None
            threading.Thread(target=executor.shutdown, name="geometry-pool-shutdown", daemon=True).start()

    def shutdown(self) -> None:
        """Stop the workers (running jobs are abandoned) and remove the progress files."""
        self._closed = True
        self._cancel_idle_timer()
        executor, self._executor = self._executor, None
        if executor is not None:
            for process in list(getattr(executor, "_processes", {}).values()):
                with contextlib.suppress(Exception):
                    if process.is_alive() and self._running:
                        process.kill()
            executor.shutdown(wait=True, cancel_futures=True)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


class _Call:
    """``fn(*args, **kwargs)`` as one picklable callable (run_in_executor takes no keywords)."""

    def __init__(self, fn, args, kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __call__(self):
        return self.fn(*self.args, **self.kwargs)


# -- threads that go away ----------------------------------------------------------------
_TIMEOUT = object()


class IdleThreadPool(concurrent.futures.Executor):
    """A bounded thread pool whose threads end after ``idle_s`` seconds without work.

    Used as the event loop's default executor: ``asyncio.to_thread`` (uploads being decoded,
    downloads being drawn, sessions being closed) then leaves no idle threads behind.
    """

    def __init__(self, max_workers: int = 8, idle_s: float = 2.0, name: str = "worker"):
        self.max_workers = max(1, int(max_workers))
        self.idle_s = float(idle_s)
        self.name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._idle = 0  # threads waiting for work
        self._pending = 0  # work not yet taken by a thread
        self._shutdown = False
        self._count = 0

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future: concurrent.futures.Future = concurrent.futures.Future()
            self._queue.put((future, fn, args, kwargs))
            self._pending += 1
            if self._pending > self._idle and len(self._threads) < self.max_workers:
                self._count += 1
                thread = threading.Thread(target=self._work, name=f"{self.name}-{self._count}", daemon=True)
                self._threads.add(thread)
                thread.start()
        return future

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                self._idle += 1
            try:
                item = self._queue.get(timeout=self.idle_s)
            except queue.Empty:
                item = _TIMEOUT
            with self._lock:
                self._idle -= 1
                if item is _TIMEOUT:
                    if self._queue.empty():  # nothing was put meanwhile (submit puts under the lock)
                        self._threads.discard(me)
                        return
                    continue
                if item is None:
                    self._threads.discard(me)
                    return
                self._pending -= 1
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del item, future, fn, args, kwargs

    def thread_count(self) -> int:
        with self._lock:
            return len(self._threads)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()


def _submit(executor: concurrent.futures.ProcessPoolExecutor, call) -> concurrent.futures.Future:
    with _plain_main():  # a worker started now must not re-run the server's __main__
        return executor.submit(call)
