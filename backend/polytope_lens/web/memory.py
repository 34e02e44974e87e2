"""Handing freed memory back to the system (glibc keeps freed arenas otherwise)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc


def _load_libc():
    try:
        name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:  # pragma: no cover - not glibc
        return None


_LIBC = _load_libc()


def give_back_memory() -> None:
    """Collect garbage and trim the heap, so RSS returns to baseline after a session or a big upload."""
    gc.collect()
    if _LIBC is not None:
        with contextlib.suppress(Exception):
            _LIBC.malloc_trim(0)


def trimmed(fn, *args):
    """``fn(*args)`` (a picture decoded: hundreds of MB for a few moments), then the memory handed
    back to the system, whether it succeeded or not (run it off the event loop)."""
    try:
        return fn(*args)
    finally:
        give_back_memory()
