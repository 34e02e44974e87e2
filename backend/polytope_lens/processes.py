"""Worker processes: the one way this program starts them.

Training, drawing and exact geometry are CPU-bound Python + torch; threads of one
process share one GIL, so work that must run beside training (a live session's
trainer, the CLI's frame drawing, an exact partition for a route) runs in a
process of its own. All are started from one ``forkserver`` (spawn where there
is none): the server and the CLI have threads by then, so they must not
plain-fork. The fork server imports the numerics once (``PRELOAD``), so a new
worker starts in milliseconds instead of importing torch again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
import types

# Imported once by the fork server: every worker forked from it has them already.
PRELOAD = ["polytope_lens.geometry.tasks", "polytope_lens.output.recording"]

_CONTEXT = None
_MAIN_LOCK = threading.RLock()
_preload = list(PRELOAD)


def context(preload: list[str] | tuple[str, ...] = ()):
    """The forkserver context (spawn where there is none), preloading the numerics (and ``preload``)
    once: modules named after the fork server has started are imported by each worker instead."""
    global _CONTEXT
    if _CONTEXT is None:
        try:
            _CONTEXT = multiprocessing.get_context("forkserver")
        except ValueError:  # pragma: no cover - no forkserver on this platform
            _CONTEXT = multiprocessing.get_context("spawn")
    _preload.extend(m for m in preload if m not in _preload)
    if _CONTEXT.get_start_method() == "forkserver":
        _CONTEXT.set_forkserver_preload(_preload)  # takes effect if the fork server has not started yet
    return _CONTEXT


def start(preload: list[str] | tuple[str, ...] = (), wait: bool = True) -> None:
    """Start the fork server now, so that it imports the numerics and ``preload`` before the first
    worker is asked for; with ``wait``, return once it has (a server calls this at start-up without
    waiting: it answers at once, and a session asked for meanwhile waits for the imports)."""
    ctx = context(preload)

    def first_worker() -> None:
        with plain_main():
            first = ctx.Process(target=_ready, name="fork-server-ready")
            first.start()  # answered once the fork server has done its imports
        first.join()

    if wait:
        first_worker()
    else:
        threading.Thread(target=first_worker, name="fork-server-start", daemon=True).start()


def _ready() -> None:
    """The first worker: it does nothing; that it started says the fork server is ready."""


@contextlib.contextmanager
def plain_main():
    """Start worker processes without re-running the parent's main module in them.

    A forkserver or spawn child first imports the parent's ``__main__`` (the console script,
    ``python -m polytope_lens.cli``, a test runner), which would import the whole program into
    every worker, or run it again. The workers' code lives in importable modules, so they need
    none of it: while they are started, ``__main__`` is an empty module.
    """
    with _MAIN_LOCK:  # one swap at a time: threads start workers concurrently
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main
