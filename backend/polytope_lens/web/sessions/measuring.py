"""A live session's measuring thread. With the page drawing, an update is only the weights; the
measurements it carries (losses, grid partition, geometry fields, the movie's small frames) are
taken from a frozen copy of the run on this thread, beside training. The latest copy handed over
wins: a measurement that cannot keep up skips copies, it never queues them.

In one process the two threads share one GIL, but a measurement is mostly numpy and torch kernels,
which let it go, so training keeps its pace.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from PIL import Image

from ...core.settings import ViewSettings
from ...geometry.grid import GridPartition
from ...output.frames import Frame, FrameProducer
from ...output.movie import movie_partition
from ...output.recording import FrozenRun

log = logging.getLogger("polytope_lens.web")

# After a measurement that took t seconds, rest MEASURE_REST * t before the next: a measurement
# takes at most 1 / (1 + MEASURE_REST) of the time (40%), so training and the weight updates keep
# the rest. A 14x6 (tens of ms) is unaffected (the session asks every 0.45 s); a very wide net,
# whose grid partition costs ~R^2 x width (one layer of 1,024: about a second at 512^2), is
# measured less often instead of starving the updates (issue 28).
MEASURE_REST = 1.5

# (the network's number, the frame measured, the movie's picture of it or None)
Deliver = Callable[[int, Frame, "Image.Image | None"], None]


class Measurer:
    """Measures frozen runs on a thread of its own and hands each result to ``deliver``.

    ``lock`` is held by whoever uses a frame producer (this thread, or the session drawing on its
    own thread): one user at a time. It may be taken while the session's lock is held, never the
    other way round: ``deliver`` is called after it is released.
    """

    def __init__(self, name: str, movie_due: Callable[[int], bool], deliver: Deliver):
        self.lock = threading.Lock()
        self._movie_due = movie_due
        self._deliver = deliver
        self._slot: tuple[int, FrameProducer, FrozenRun, ViewSettings, GridPartition | None] | None = None
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def hand(self, network: int, frames: FrameProducer, run: FrozenRun, view: ViewSettings,
             partition: GridPartition | None = None) -> None:
        """Measure ``run`` next (with ``frames``, for ``view``), in place of any copy still waiting;
        ``partition``: its live grid partition when already computed (a server-drawn update's)."""
        with self._wake:
            self._slot = (network, frames, run, view, partition)
            self._wake.notify()

    def close(self) -> None:
        """Stop after the measurement under way, if any."""
        with self._wake:
            self._closed = True
            self._wake.notify()

    def join(self, timeout: float) -> bool:
        """True when the thread has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while self._slot is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                (network, frames, run, view, partition), self._slot = self._slot, None
            started = time.perf_counter()
            try:
                with self.lock:
                    frame = frames.frame(run, view.resolution, live=True, t=view.t, partition=partition)
                    picture = None
                    if self._movie_due(frame.step):  # the movie's frames are small: drawn from a subsampled grid
                        picture = frames.picture(run, frame, view, partition=movie_partition(frame.partition))
                self._deliver(network, frame, picture)
            except Exception:  # noqa: BLE001 - a measurement lost; the next one comes an interval later
                log.exception("%s: a measurement failed", self._thread.name)
            rest = MEASURE_REST * (time.perf_counter() - started)
            with self._wake:  # a close ends the rest at once
                self._wake.wait_for(lambda: self._closed, timeout=rest)
