"""Keep freed activation buffers in the process instead of giving them back to the OS at every step.

glibc serves an allocation of more than its mmap threshold with fresh pages from the OS and trims
free memory at the top of the heap past its trim threshold; both adapt, but a training step of a
wide layer frees and allocates several activations of a few MB each (one layer of 1,024 at batch
1,024: 4 MB each), and they went back to the OS and were faulted in again page by page: ~800-1,500
page faults a step for the `lazy` experiment, about a fifth of its step time on the 2-core VM
(docs/benchmarks.md, issue 28). Fixed thresholds of 32 MB (mmap) and 64 MB (trim) keep such
buffers in the heap; a process keeps at most ~64 MB it does not use, and anything larger than
32 MB still goes straight back to the OS when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 64 << 20
_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3


def keep_freed_buffers() -> bool:
    """Set glibc's thresholds for this process (and the processes it forks); False where the C
    library is not glibc (nothing changed)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
