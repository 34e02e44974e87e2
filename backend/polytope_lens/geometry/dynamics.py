"""Region dynamics: the live exact region count and the density of regions near the target's edges.

Two numbers ride along with the live frames (docs/protocol.md, "Geometry header fields"):

Exact count (``LiveGeometry``)
    The exact partition (exact.py) of a trained 14x6 net takes ~0.05-0.1 s on
    the 2-core machine and a trained 64x4 ~1 s: more than a frame's budget. So
    while the session runs, the count is computed on a background thread from a
    frozen copy of the network (``core.network.FrozenNetwork``), at most once per
    ``max(LIVE_INTERVAL_S, duration / LIVE_DUTY)`` (so it costs at most ~15% of
    one core), with a deadline of ``LIVE_BUDGET_S``; frames carry the latest
    result with the step it belongs to. Frames drawn while paused (after
    ``step``, ``pause``, ``configure``, ``reset``) compute it inline, so a
    paused view always shows the count of the network on screen. An attempt
    that runs past the budget says "too large for live view"; while running,
    the next attempt waits, with back-off (``RETRY_FIRST_S`` doubling up to
    ``RETRY_MAX_S``), because a trained network may need only a little more
    than the budget. When a pause count runs past the budget and the owner gave
    ``pause_budget_s`` (the live session does), the count goes on on a thread
    of its own up to that longer budget ("counting", with ``exact_progress``),
    is cancelled by the next command that changes the network or by training,
    and ``on_update`` tells the owner when to send the new fields. Without it
    (the headless recorder) a paused "too large" stands until the network is
    replaced (``configure``/``reset``, or a step count that goes backwards).
    The exact partition stays available on demand through the REST endpoints.
    A frame of a network edited by hand while paused may ask for its count ``defer_exact``: the frame
    goes out at once with ``exact_status`` "pending", and once it is sent the owner calls
    ``start_deferred``: the count runs on that same thread of its own (cancelled by the next command as
    above, reported through ``on_update``), so the redrawn picture never waits for the count.
    The partition of the last count is kept (``exact_surface``), a paused count's too when it has
    at most ``KEEP_MAX_REGIONS`` regions: the live origami surface (surface.py) is drawn from it,
    never computed again.

Edge density (``edge_mask``, ``region_density``)
    Regions per unit area near the target's edges versus far from them, from the
    grid partition of the frame: the target's edges (a jump of more than
    ``EDGE_THRESHOLD`` between neighbouring pixels of the 1024x1024 target) are
    mapped to the grid and widened to a band of half-width
    ``NEAR_EDGE_DISTANCE`` (input units, max-norm); the density of a set of
    pixels is the number of distinct regions among them divided by their area.
    A region that straddles the band's border counts on both sides. Cheap
    (two bincounts over the grid), computed at most every
    ``DENSITY_INTERVAL_S`` while running.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple

import numpy as np

from ..core.network import freeze
from .decision import decision_regions
from .exact import ExactPartition, PartitionTooLarge, region_counts_and_patterns
from .patterns import pack_patterns

log = logging.getLogger("polytope_lens.dynamics")

LIVE_BUDGET_S = 0.3  # deadline of one live exact computation
LIVE_INTERVAL_S = 1.0  # at most this often (once a second: it shares a session's GIL with training) ...
LIVE_DUTY = 0.15  # ... and at most this fraction of wall time on one core
LIVE_MAX_REGIONS = 200_000
KEEP_MAX_REGIONS = LIVE_MAX_REGIONS  # a paused count past this keeps its counts, not its polygons
DENSITY_INTERVAL_S = 0.25
EDGE_THRESHOLD = 0.1  # a jump of the target (values in [0, 1]) between neighbouring pixels
NEAR_EDGE_DISTANCE = 0.04  # half-width of the near-edge band, input units ([-1, 1] square)
BOX_AREA = 4.0

STATUS_EXACT = "exact"
STATUS_PENDING = "pending"
STATUS_TOO_LARGE = "too large for live view"
STATUS_UNAVAILABLE = "unavailable"
STATUS_COUNTING = "counting"  # paused: a count past the live budget is running on its own thread

RETRY_FIRST_S = 2.0  # running: the first retry after a count that overran the live budget ...
RETRY_MAX_S = 60.0  # ... doubling up to this
PAUSE_PROGRESS_S = 0.5  # a paused count's progress is reported at most this often
DEFERRED_WAIT_S = 0.1  # a deferred count waits at most this long for its frame to leave


class _Cancelled(Exception):
    """A paused count that the next command made pointless."""

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _shared_executor() -> ThreadPoolExecutor:
    """One background thread for every session's live exact counts (they queue, never pile up:
    a session has at most one computation in flight)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exact-live")
        return _executor


# ---------------------------------------------------------------------------
# Edge density
# ---------------------------------------------------------------------------


def edge_mask(values: np.ndarray, resolution: int, threshold: float = EDGE_THRESHOLD,
              distance: float = NEAR_EDGE_DISTANCE) -> np.ndarray:
    """bool (R, R) grid mask of the pixels within ``distance`` (max-norm, input units) of a target edge.

    ``values`` (H, W) or (H, W, C) in [0, 1], row 0 at the top (the target). A
    target edge lies between two neighbouring pixels whose values differ by more
    than ``threshold`` in some channel; both pixels are marked, mapped to the
    grid cells that contain them, and the mark is widened by
    ``round(distance * R / 2)`` cells (at least 1).
    """
    v = np.asarray(values, dtype=np.float32)
    if v.ndim == 2:
        v = v[:, :, None]
    H, W = v.shape[:2]
    R = int(resolution)
    jump_x = (np.abs(np.diff(v, axis=1)) > threshold).any(axis=2)  # (H, W-1)
    jump_y = (np.abs(np.diff(v, axis=0)) > threshold).any(axis=2)  # (H-1, W)
    edge = np.zeros((H, W), dtype=bool)
    edge[:, :-1] |= jump_x
    edge[:, 1:] |= jump_x
    edge[:-1, :] |= jump_y
    edge[1:, :] |= jump_y
    rows, cols = np.nonzero(edge)
    mask = np.zeros((R, R), dtype=bool)
    mask[(rows * R) // H, (cols * R) // W] = True
    return dilate(mask, max(1, int(round(distance * R / 2))))


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square (max-norm) dilation of a bool image by ``radius`` cells, separable and O(pixels)."""
    out = np.asarray(mask, dtype=bool)
    for axis in (0, 1):
        n = out.shape[axis]
        c = np.cumsum(out, axis=axis, dtype=np.int32)
        c = np.concatenate([np.zeros_like(c.take([0], axis=axis)), c], axis=axis)  # c[i] = count before i
        hi = np.minimum(np.arange(n) + radius + 1, n)
        lo = np.maximum(np.arange(n) - radius, 0)
        out = (c.take(hi, axis=axis) - c.take(lo, axis=axis)) > 0
    return out


def region_density(region_ids: np.ndarray, near: np.ndarray, region_count: int | None = None,
                   box_area: float = BOX_AREA) -> tuple[float | None, float | None]:
    """(near, far): distinct regions per unit area among the pixels in ``near`` and the others.

    ``region_ids`` (R, R) ints from the grid partition; each pixel covers
    ``box_area / R**2``. None for a side with no pixels.
    """
    ids = np.asarray(region_ids).ravel()
    mask = np.asarray(near, dtype=bool).ravel()
    n = int(region_count) if region_count is not None else int(ids.max()) + 1 if ids.size else 0
    pixel_area = box_area / ids.size if ids.size else 0.0

    def density(sel: np.ndarray) -> float | None:
        pixels = int(sel.sum())
        if pixels == 0:
            return None
        distinct = int(np.count_nonzero(np.bincount(ids[sel], minlength=n)))
        return distinct / (pixels * pixel_area)

    return density(mask), density(~mask)


# ---------------------------------------------------------------------------
# Per-session live geometry
# ---------------------------------------------------------------------------


class _Counted(NamedTuple):
    """One exact pass: the region count after each hidden layer, the packed activation patterns (the
    live dynamics compare them between updates), the partition and a classifier's decision regions
    (the origami surface draws them; None when too many to keep), and a classifier's decision fields."""
    counts: list[int]
    patterns: np.ndarray | None
    kept: tuple[ExactPartition, object] | None
    decision: dict | None


def _count(model, max_regions: int | None, deadline: float, classify: bool, progress=None,
           keep_max: int | None = None) -> _Counted:
    """The exact partition of ``model`` once (exact.py), with all the live view reads from it; raises
    PartitionTooLarge past ``max_regions`` or ``deadline``. Past ``keep_max`` regions only the counts
    are kept (a paused count may reach a million regions)."""
    counts, patterns, part = region_counts_and_patterns(model, max_regions=max_regions, deadline=deadline,
                                                        progress=progress)
    regions = decision_regions(part) if classify else None
    decision = None if regions is None else {"boundary_length": round(regions.boundary_length, 4),
                                             "boundary_regions": regions.regions_crossed}
    if keep_max is not None and part.region_count > keep_max:
        return _Counted(counts, None, None, decision)
    return _Counted(counts, pack_patterns(patterns), (part, regions), decision)


class LiveGeometry:
    """The geometry fields of one session's frames (see the module docstring).

    Call :meth:`frame_fields` from the session's worker thread when drawing a
    frame; it returns the header fields to add. Thread-safe against its own
    background computations.
    """

    def __init__(self, executor=None, clock: Callable[[], float] = time.monotonic,
                 budget_s: float = LIVE_BUDGET_S, max_regions: int = LIVE_MAX_REGIONS,
                 pause_budget_s: float | None = None, pause_max_regions: int | None = None,
                 on_update: Callable[[], None] | None = None):
        self._executor = executor
        self._clock = clock
        self.budget_s = budget_s
        self.max_regions = max_regions
        self.pause_budget_s = pause_budget_s  # None: no count past the live budget when paused
        self.pause_max_regions = pause_max_regions
        self.on_update = on_update  # called (from the counting thread) when new fields are ready
        self._retry_at = 0.0
        self._retry_s = RETRY_FIRST_S
        # the paused count in progress: (generation, step, cancel event), its progress, and the
        # (generation, step) a paused count already failed for (not retried at that step)
        self._pause_job: tuple[int, int, threading.Event] | None = None
        self._pause_progress = 0.0
        self._pause_deferred_at: float | None = None  # a deferred count's start (pending within the live budget)
        self._deferred: tuple | None = None  # (model, step, generation, classify): a count asked for, not started
        self._pause_failed: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._model_ref: weakref.ref | None = None
        self._generation = 0
        self._last_step = -1
        self._in_flight = False
        self._next_exact_at = 0.0
        self._too_large = False
        self._failed = False
        self._result: tuple[int, list[int], float] | None = None  # (step, layer counts, seconds)
        self._patterns: np.ndarray | None = None  # packed patterns (regions, K) of the exact partition at _result's step
        self._decision: tuple[int, dict | None] | None = None  # a classifier's (step, boundary length and regions crossed)
        # the exact partition itself at _result's step (and a classifier's decision regions), kept for
        # the origami surface (surface.py) so that it is never computed twice; None when counted without it
        self._partition: tuple[ExactPartition, object] | None = None
        self._moment: float | None = None  # a clip's t of the network tracked now (output/moments.py), else None
        self._next_density_at = 0.0
        self._mask_key: tuple | None = None
        self._mask: np.ndarray | None = None

    # -- frames ------------------------------------------------------------------
    def frame_fields(self, trainer, partition, live: bool, defer_exact: bool = False) -> dict:
        """Header fields for a frame of ``trainer`` whose grid partition is ``partition``.

        ``live``: the session is running (more frames follow soon), so slow work
        goes to the background; otherwise it is done now, within the budget.
        ``defer_exact`` (paused, with ``pause_budget_s``): the exact count is not waited for (status
        "pending"); ``start_deferred`` starts it on a thread of its own, ``on_update`` says when done.
        """
        model, step = trainer.model, int(trainer.step_count)
        classify = getattr(trainer, "classes", None) is not None
        now = self._clock()
        self._deferred = None  # asked for by an earlier frame and never started: moot now
        with self._lock:
            # a frozen run (output/frozen.py) names the live model it was copied from
            generation = self._track(getattr(trainer, "source_model", model), step)
            self._moment = getattr(trainer, "t", None)  # a new t is a new generation: fixed within one
            job = self._pause_job
            if job is not None and (live or job[:2] != (generation, step)):
                job[2].set()  # training goes on, or another step is shown: that count is moot
                self._pause_job = None
            fresh = self._result is not None and self._result[0] == step
            # running, a count that overran the budget is tried again after the back-off
            blocked = self._too_large and (not live or now < self._retry_at)
            counting = self._pause_job is not None  # (of this network: any other was cancelled just above)
            want = not (blocked or self._failed or fresh or counting)
            background = want and live and not self._in_flight and now >= self._next_exact_at
            if background:
                self._in_flight = True
        if background:
            snapshot = freeze(model)
            (self._executor or _shared_executor()).submit(self._compute, snapshot, step, generation, True, classify)
        elif want and not live:
            if defer_exact and self.pause_budget_s is not None:
                self._deferred = (model, step, generation, classify)
            else:
                self._compute(model, step, generation, False, classify)
        if not live and self._deferred is None:
            self._maybe_count_paused(model, step, generation, classify)
        fields = self.exact_fields(classify)
        if not live or now >= self._next_density_at:
            self._next_density_at = now + DENSITY_INTERVAL_S
            fields.update(self._density_fields(trainer.target, partition))
        return fields

    def _track(self, model, step: int) -> int:
        """The generation of this network: a new model object or a step going backwards is a new one."""
        same = self._model_ref is not None and self._model_ref() is model
        if not same or step < self._last_step:
            self._generation += 1
            self._model_ref = weakref.ref(model)
            self._too_large = self._failed = False
            self._result = None
            self._patterns = None
            self._decision = None
            self._partition = None
            self._next_exact_at = 0.0
            self._retry_at, self._retry_s = 0.0, RETRY_FIRST_S
            if self._pause_job is not None:
                self._pause_job[2].set()
                self._pause_job = None
        self._last_step = step
        return self._generation

    def _compute(self, model, step: int, generation: int, background: bool, classify: bool = False) -> None:
        start = time.perf_counter()
        counted, status = None, STATUS_EXACT
        try:
            counted = _count(model, self.max_regions, time.monotonic() + self.budget_s, classify)
        except PartitionTooLarge:
            status = STATUS_TOO_LARGE
        except Exception:  # never let the count break a frame; say so instead
            log.exception("live exact region count failed")
            status = STATUS_UNAVAILABLE
        seconds = time.perf_counter() - start
        with self._lock:
            if background:
                self._in_flight = False
            if generation != self._generation:
                return  # a newer network: this answer is for one no longer shown
            self._next_exact_at = self._clock() + max(LIVE_INTERVAL_S, seconds / LIVE_DUTY)
            if status == STATUS_TOO_LARGE:
                self._too_large = True
                self._retry_at = self._clock() + self._retry_s
                self._retry_s = min(RETRY_MAX_S, 2 * self._retry_s)
            elif status == STATUS_UNAVAILABLE:
                self._failed = True
            else:
                if background:  # the live budget was enough again
                    self._too_large = False
                    self._retry_s = RETRY_FIRST_S
                if self._result is None or step >= self._result[0]:
                    self._keep_locked(step, counted, seconds)

    def _keep_locked(self, step: int, counted: "_Counted", seconds: float) -> None:
        """Make ``counted`` the result at ``step`` (the caller holds the lock)."""
        self._result = (step, counted.counts, seconds)
        self._decision = (step, counted.decision)
        self._patterns = counted.patterns
        self._partition = counted.kept

    def exact_patterns(self, step: int) -> np.ndarray | None:
        """Packed patterns (regions, K) of the exact partition when it is the one at ``step``, else None."""
        with self._lock:
            current = self._result is not None and self._result[0] == step and self._patterns is not None
            return self._patterns if current else None

    def exact_surface(self) -> tuple[int, int, float | None, ExactPartition, object] | None:
        """The exact partition of the network tracked now, when its count is current: (generation,
        step, a clip's t or None, the partition, a classifier's DecisionRegions or None); None while
        there is none (pending, past the budget, counted past it while paused without polygons)."""
        with self._lock:
            result, kept = self._result, self._partition
            if result is None or kept is None or self._status_locked() != STATUS_EXACT:
                return None
            return self._generation, result[0], self._moment, kept[0], kept[1]

    # -- the paused count past the live budget -----------------------------------------
    def network_changed(self) -> None:
        """The network was changed in place at the same step (an edit by hand): what was counted
        for it is moot, and the next frame starts a new generation."""
        with self._lock:
            self._model_ref = None

    def start_deferred(self, sent: Callable[[], bool] | None = None) -> None:
        """Start the count a ``defer_exact`` frame asked for (call it once that frame is put out: the
        count's thread would slow the frame down). ``sent``: whether the frame has left (the count
        waits for it, up to DEFERRED_WAIT_S, so that it does not take the CPU the frame's way to the
        page needs)."""
        deferred, self._deferred = self._deferred, None
        if deferred is not None:
            self._maybe_count_paused(*deferred, deferred=True, sent=sent)

    def cancel(self) -> None:
        """Stop a paused count in progress (a command that changes the network or its step)."""
        self._deferred = None
        with self._lock:
            if self._pause_job is not None:
                self._pause_job[2].set()
                self._pause_job = None

    def _maybe_count_paused(self, model, step: int, generation: int, classify: bool = False,
                            deferred: bool = False, sent: Callable[[], bool] | None = None) -> None:
        """Start the paused count on its own thread: past the live budget, or ``deferred`` (not waited for)."""
        if self.pause_budget_s is None:
            return
        with self._lock:
            fresh = self._result is not None and self._result[0] == step
            start = ((self._too_large or deferred) and not fresh and not self._failed and self._pause_job is None
                     and self._pause_failed != (generation, step))
            if not start:
                return
            cancel = threading.Event()
            self._pause_job = (generation, step, cancel)
            self._pause_progress = 0.0
            self._pause_deferred_at = None if self._too_large else self._clock()
        snapshot = freeze(model)
        threading.Thread(target=self._count_paused, args=(snapshot, step, generation, cancel, classify, sent),
                         name="exact-pause", daemon=True).start()

    def _count_paused(self, snapshot, step: int, generation: int, cancel: threading.Event,
                      classify: bool = False, sent: Callable[[], bool] | None = None) -> None:
        if sent is not None:
            until = time.monotonic() + DEFERRED_WAIT_S
            while not sent() and time.monotonic() < until and not cancel.is_set():
                time.sleep(0.002)
        start = time.perf_counter()
        told = [time.monotonic()]

        def progress(fraction: float, regions: int) -> None:
            if cancel.is_set():
                raise _Cancelled()
            self._pause_progress = float(fraction)
            if time.monotonic() - told[0] >= PAUSE_PROGRESS_S:
                told[0] = time.monotonic()
                self._notify()

        counted, failed = None, False
        try:
            counted = _count(snapshot, self.pause_max_regions, time.monotonic() + self.pause_budget_s, classify,
                             progress=progress, keep_max=KEEP_MAX_REGIONS)
        except _Cancelled:
            return
        except PartitionTooLarge:
            pass
        except Exception:
            log.exception("paused exact region count failed")
            failed = True
        seconds = time.perf_counter() - start
        with self._lock:
            if self._pause_job is None or self._pause_job[2] is not cancel:
                return  # cancelled meanwhile
            self._pause_job = None
            if counted is None:
                self._pause_failed = (generation, step)
                if generation == self._generation:  # a deferred count says why there is none
                    self._failed = self._failed or failed
                    self._too_large = self._too_large or not failed
            elif generation == self._generation and (self._result is None or step >= self._result[0]):
                self._keep_locked(step, counted, seconds)
        self._notify()

    def _notify(self) -> None:
        if self.on_update is not None:
            try:
                self.on_update()
            except Exception:  # the owner's trouble must not end the count
                log.exception("on_update failed")

    def _status_locked(self) -> str:
        """``exact_status`` now (the caller holds the lock)."""
        result = self._result
        fresh = result is not None and result[0] == self._last_step
        if fresh and self._too_large:
            return STATUS_EXACT  # counted past the live budget while paused
        if self._pause_job is not None:
            deferred = self._pause_deferred_at
            within = deferred is not None and self._clock() - deferred < self.budget_s
            return STATUS_PENDING if within else STATUS_COUNTING
        if self._too_large:
            return STATUS_TOO_LARGE
        if self._failed:
            return STATUS_UNAVAILABLE
        return STATUS_EXACT if result is not None else STATUS_PENDING

    def exact_fields(self, classify: bool = False) -> dict:
        """The exact-count header fields as they stand now (a classifier's: with its decision fields)."""
        with self._lock:
            result = self._result
            progress = self._pause_progress if self._pause_job is not None else None
            status = self._status_locked()
        if status != STATUS_EXACT:
            result = None
        return {
            "exact_regions": result[1][-1] if result else None,
            "exact_step": result[0] if result else None,
            "exact_status": status,
            "exact_layer_counts": list(result[1]) if result else None,
            "exact_ms": round(result[2] * 1000, 1) if result else None,
            "exact_progress": None if progress is None else round(progress, 3),
            **(self._decision_fields() if classify else {}),
        }

    def _decision_fields(self) -> dict:
        """A classifier's exact decision boundary at ``exact_step``: its length and the linear regions
        it crosses (geometry/decision.py); null until the first exact result."""
        with self._lock:
            result, kept = self._result, self._decision
            decision = kept[1] if kept is not None and result is not None and kept[0] == result[0] else None
        return {"boundary_length": decision["boundary_length"] if decision else None,
                "boundary_regions": decision["boundary_regions"] if decision else None}

    def _density_fields(self, target, partition) -> dict:
        R = partition.resolution
        key = (id(target), R)
        if self._mask_key != key or self._mask is None:
            self._mask = edge_mask(target.values, R)
            self._mask_key = key
            self._mask_target = target  # keeps id(target) from being reused while cached
        near, far = region_density(partition.region_ids, self._mask, partition.region_count)
        return {
            "edge_density_near": None if near is None else round(near, 3),
            "edge_density_far": None if far is None else round(far, 3),
        }
