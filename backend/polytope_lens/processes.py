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
import types

# Imported once by the fork server: every worker forked from it has them already.
PRELOAD = ["polytope_lens.geometry.tasks", "polytope_lens.output.recording"]

_CONTEXT = None


def context():
    """The forkserver context (spawn where there is none), preloading the numerics once."""
    global _CONTEXT
    if _CONTEXT is None:
        try:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
        except ValueError:  # pragma: no cover - no forkserver on this platform
            ctx = multiprocessing.get_context("spawn")
        _CONTEXT = ctx
    return _CONTEXT


@contextlib.contextmanager
def plain_main():
    """Start worker processes without re-running the parent's main module in them.

    A forkserver or spawn child first imports the parent's ``__main__`` (the console script,
    ``python -m polytope_lens.cli``, a test runner), which would import the whole program into
    every worker, or run it again. The workers' code lives in importable modules, so they need
    none of it: while they are started, ``__main__`` is an empty module.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main
