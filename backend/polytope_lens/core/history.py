"""A run's weight history: the network at many steps, bounded in bytes.

Weights are small (a 14x6 net is 4.4 KB), so thousands of steps fit in a few
MB: replay and scrubbing redraw from them, and exact geometry can be computed
for any kept step. Past the budget every other entry is dropped (the newest is
always kept), so what remains still spans the whole run evenly.

Entries are frozen networks (network.FrozenNetwork, sized by ``nbytes``); the
bookkeeping only needs each entry's size, so plain bytes serve as well.
"""

from __future__ import annotations

import bisect
import threading

from .network import FrozenNetwork

Entry = FrozenNetwork | bytes

DEFAULT_HISTORY_BYTES = 64 * 1024 * 1024
MAX_MARKS = 10_000  # edits by hand remembered per run (each a few words)


def _size(entry: Entry) -> int:
    """Bytes an entry holds."""
    return entry.nbytes if isinstance(entry, FrozenNetwork) else len(entry)


class WeightHistory:
    """(step, network) in step order; thread-safe (a session writes, web routes read)."""

    def __init__(self, max_bytes: int = DEFAULT_HISTORY_BYTES):
        self.max_bytes = max_bytes
        self._steps: list[int] = []
        self._data: list[bytes] = []
        self._bytes = 0
        self._gap = 0  # least step distance between kept entries (the newest excepted)
        self._marks: list[tuple[int, str]] = []  # (step, words): edits by hand, shown on the timeline
        self._lock = threading.Lock()

    def add(self, step: int, data: Entry) -> None:
        with self._lock:
            if self._steps and step <= self._steps[-1]:
                if step == self._steps[-1]:  # the same step again (e.g. paused): keep the newest copy
                    self._bytes += _size(data) - _size(self._data[-1])
                    self._data[-1] = data
                    return
                self._drop_from(bisect.bisect_left(self._steps, step))  # a reset went back: forget the future
                self._marks = [m for m in self._marks if m[0] < step]
            if len(self._steps) >= 2 and self._steps[-1] - self._steps[-2] < self._gap:
                self._drop_from(len(self._steps) - 1)  # the newest was kept only for being the newest
            self._steps.append(step)
            self._data.append(data)
            self._bytes += _size(data)
            while self._bytes > self.max_bytes and len(self._steps) > 2:
                keep = list(range(0, len(self._steps) - 1, 2)) + [len(self._steps) - 1]
                self._steps = [self._steps[i] for i in keep]
                self._data = [self._data[i] for i in keep]
                self._bytes = sum(_size(d) for d in self._data)
                # from now on keep steps at least this far apart, so the history stays even
                self._gap = min(b - a for a, b in zip(self._steps[:-2], self._steps[1:-1])) if len(self._steps) > 2 else 0

    def get(self, step: int) -> Entry | None:
        with self._lock:
            i = bisect.bisect_left(self._steps, step)
            return self._data[i] if i < len(self._steps) and self._steps[i] == step else None

    def mark(self, step: int, note: str) -> None:
        """Say that the network was edited by hand at ``step`` (the entry of that step is the edited one)."""
        with self._lock:
            self._marks.append((step, note))
            del self._marks[:-MAX_MARKS]

    def marks(self) -> list[tuple[int, str]]:
        """(step, words) of every edit by hand still in the run, oldest first."""
        with self._lock:
            return list(self._marks)

    def steps(self) -> list[int]:
        with self._lock:
            return list(self._steps)

    def clear(self) -> None:
        with self._lock:
            self._drop_from(0)
            self._marks.clear()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def _drop_from(self, index: int) -> None:
        del self._steps[index:]
        del self._data[index:]
        self._bytes = sum(_size(d) for d in self._data)
        if not self._steps:
            self._gap = 0
