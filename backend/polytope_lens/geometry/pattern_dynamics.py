"""How the partition moves between updates: pattern churn, region births and deaths, dead neurons.

Computed for every measured update from the grid partition the frame has
anyway (and the exact partition's patterns when it is the one at this step),
so it costs a few gathers and compares over the grid (a few ms at 512^2;
docs/protocol.md, "Dynamics header fields"):

``pattern_churn``
    Fraction of grid pixels whose activation pattern differs from the previous
    update's (``churn_since_step``): near 0 when training is lazy (the patterns
    stay, only the affine maps move), large when the partition is rebuilt.
    ``pattern_churn_total`` compares with the first update of this network
    (step 0 unless it was resumed; ``churn_total_since_step``). Null when there
    is nothing at the same resolution to compare with. Another architecture
    counts as every pixel changed.
``region_births``, ``region_deaths``
    Patterns present now and absent at the previous update, and the reverse;
    births - deaths is the change in the region count. From the exact
    partitions (``births_source: "exact"``) when both updates have theirs, else
    from the grids.
``dead_neurons``
    Per hidden layer, neurons off (pre-activation <= 0) on every region: from
    the exact partition when it is the one at this step
    (``dead_neurons_source: "exact"``), else from the grid (which may miss a
    region thinner than a pixel where a neuron is on). ``dead_pattern`` marks
    them as a pattern string ('1' = dead).

A new network (another model object, or the step going backwards) restarts the
since-the-start reference but is still compared with the previous update, so
re-initialising shows as churn 1.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..core.network import freeze
from .grid import GridPartition, compute_partition, exact_unique
from .patterns import pattern_hash, pattern_strings, unpack_patterns

SOURCE_EXACT = "exact"
SOURCE_GRID = "grid"


@dataclass
class _Table:
    """A grid's packed patterns (regions, K) with their hashes, made once: an update's table is
    labelled against the previous update's and the first one's, and a wide network's patterns are
    long (one layer of 1,024: 16 words a region, tens of thousands of regions at 256^2)."""
    words: np.ndarray
    hashes: np.ndarray

    @classmethod
    def of(cls, words: np.ndarray) -> "_Table":
        return cls(words, pattern_hash(words))


@dataclass
class _Update:
    step: int
    resolution: int
    hidden: int
    ids: np.ndarray  # int32 (R, R): every pixel's region on the grid
    regions: _Table  # the grid's patterns
    exact: np.ndarray | None  # uint64 (regions, K): the exact partition's patterns at this step, if known


def common_labels(words_a: np.ndarray, words_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One integer per distinct pattern across two packed pattern tables (regions, K): the label of
    every row of each. Equal labels mean equal bits (grid.exact_unique never merges two patterns)."""
    _, inverse = exact_unique(np.concatenate([words_a, words_b]))
    return inverse[: len(words_a)], inverse[len(words_a):]


def labels_of(tables: list[_Table]) -> list[np.ndarray]:
    """``common_labels`` of any number of tables whose hashes are known: one sort of the hashes, and
    the bits checked against each label's first row, so different patterns never share a label."""
    if len(tables) == 1 or tables[0].words.shape[1] == 1:  # one word: the word itself is the key
        _, inverse = exact_unique(np.concatenate([t.words for t in tables]))
    else:
        _, first, inverse = np.unique(np.concatenate([t.hashes for t in tables]), return_index=True,
                                      return_inverse=True)
        words = np.concatenate([t.words for t in tables])
        if not np.array_equal(words, words[first][inverse]):  # a 64-bit hash collision: sort the bits
            _, inverse = exact_unique(words)
    inverse = inverse.astype(np.int32).ravel()
    bounds = np.cumsum([0, *(len(t.words) for t in tables)])
    return [inverse[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _changed(labels_a: np.ndarray, ids_a: np.ndarray, labels_b: np.ndarray, ids_b: np.ndarray) -> float:
    a, b = ids_a.ravel(), ids_b.ravel()
    return float(np.count_nonzero(labels_a[a] != labels_b[b])) / a.size


def _born_and_died(old: np.ndarray, new: np.ndarray, labels: int) -> tuple[int, int]:
    """(labels in ``new`` only, labels in ``old`` only) of two tables labelled together."""
    present_before = np.zeros(labels, dtype=bool)
    present_before[old] = True
    present_after = np.zeros(labels, dtype=bool)
    present_after[new] = True
    return int(np.count_nonzero(~present_before[new])), int(np.count_nonzero(~present_after[old]))


def changed_fraction(ids_a: np.ndarray, words_a: np.ndarray, ids_b: np.ndarray, words_b: np.ndarray) -> float:
    """Fraction of grid pixels whose pattern differs between two grid partitions of the same size
    (given as region ids (R, R) and packed region patterns (regions, K)). Patterns are labelled
    once per region, so the per-pixel work is two integer gathers and a compare."""
    labels_a, labels_b = common_labels(words_a, words_b)
    return _changed(labels_a, ids_a, labels_b, ids_b)


def births_and_deaths(before: np.ndarray, after: np.ndarray) -> tuple[int, int]:
    """(patterns in ``after`` but not ``before``, patterns in ``before`` but not ``after``); rows distinct."""
    old, new = common_labels(before, after)
    return _born_and_died(old, new, len(before) + len(after))


def dead_mask(patterns: np.ndarray, hidden: int) -> np.ndarray:
    """bool (hidden,): neurons off in every one of the packed ``patterns`` (regions, K)."""
    on_somewhere = np.bitwise_or.reduce(patterns, axis=0, keepdims=True)
    return ~unpack_patterns(on_somewhere, hidden)[0]


def dead_per_layer(dead: np.ndarray, widths: list[int]) -> list[int]:
    bounds = np.cumsum([0, *widths])
    return [int(dead[s:e].sum()) for s, e in zip(bounds[:-1], bounds[1:])]


class PatternDynamics:
    """The dynamics fields of one run's updates, in order. Not thread-safe: one owner calls it."""

    def __init__(self):
        self._previous: _Update | None = None
        self._model_ref: weakref.ref | None = None
        self._start_step = 0
        self._start_model = None  # a frozen copy of the network at its first update, to redraw at another resolution
        self._start: tuple[np.ndarray, _Table] | None = None  # (region ids, patterns) of the first update
        self._start_resolution = 0

    def fields(self, trainer, partition: GridPartition, exact_patterns: np.ndarray | None) -> dict:
        """Header fields for the update of ``trainer`` (now) whose grid partition is ``partition``;
        ``exact_patterns``: the packed patterns of the exact partition at this step, or None."""
        model, step = trainer.model, int(trainer.step_count)
        widths = list(model.widths)
        hidden = sum(widths)
        R = partition.resolution
        ids, words = partition.region_ids, partition.region_words
        source_model = getattr(trainer, "source_model", model)  # a frozen copy names the live model
        table = _Table.of(words)
        previous = self._previous
        if self._model_ref is None or self._model_ref() is not source_model or (previous and step < previous.step):
            self._model_ref = weakref.ref(source_model)
            self._start_step, self._start_model = step, freeze(model)
            self._start, self._start_resolution = (ids, table), R
        if self._start_resolution != R:
            start = compute_partition(self._start_model, R)
            self._start, self._start_resolution = (start.region_ids, _Table.of(start.region_words)), R

        # one labelling of this update's patterns, the previous update's (same network, same grid)
        # and the first update's: churn, churn since the start and grid births and deaths
        same_net = previous is not None and previous.hidden == hidden
        with_previous = same_net and previous.resolution == R
        tables = [table, self._start[1]] + ([previous.regions] if same_net else [])
        labels = labels_of(tables)
        fields: dict = {"pattern_churn": None, "churn_since_step": None}
        if previous is not None and previous.resolution == R:
            churn = _changed(labels[2], previous.ids, labels[0], ids) if with_previous else 1.0
            fields["pattern_churn"] = round(churn, 6)
            fields["churn_since_step"] = previous.step
        fields["pattern_churn_total"] = round(_changed(labels[1], self._start[0], labels[0], ids), 6)
        fields["churn_total_since_step"] = self._start_step

        fields.update(region_births=None, region_deaths=None, births_source=None)
        if same_net:
            if previous.exact is not None and exact_patterns is not None:
                born, died = births_and_deaths(previous.exact, exact_patterns)
            else:
                born, died = _born_and_died(labels[2], labels[0], sum(len(t.words) for t in tables))
            exact = previous.exact is not None and exact_patterns is not None
            fields.update(region_births=born, region_deaths=died, births_source=SOURCE_EXACT if exact else SOURCE_GRID)

        exact = exact_patterns is not None
        dead = dead_mask(exact_patterns if exact else partition.region_words, hidden)
        fields["dead_neurons"] = dead_per_layer(dead, widths)
        fields["dead_neurons_source"] = SOURCE_EXACT if exact else SOURCE_GRID
        fields["dead_pattern"] = pattern_strings(dead[None, :], widths)[0]

        self._previous = _Update(step, R, hidden, ids, table, exact_patterns)
        return fields
