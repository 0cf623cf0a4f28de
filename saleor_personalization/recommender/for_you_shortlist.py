"""*For you* lists of a batch of customers under many weightings: what weight tuning ranks.

Tuning ranks the same validation customers under every weighting of a grid (480 for
*for you*). Ranking the whole catalogue for each made tuning the longest part of a run
on a large catalogue (51,553 products: 378 s of a 632 s run), and a shortlist of each
component's best products decided few customers' lists (a bound from each component's
extreme sent 84 % of them to the whole catalogue): once a weighting pushes bestsellers
down, a product far down every per-customer order but bought by few can reach the top.

The blend adds per-customer components (co-purchase, the hybrid, ...) and components
that score a product alike for every customer (trend, popularity, first buyers: *shared*
below). Products with the same shared values form a group (a catalogue's long tail
shares a few: one buyer, no sales lately; 641 groups of 49,060 products on the 20x
benchmark's tuning model). Inside a group every weighting adds the same numbers to
each product's per-customer part, so it orders the group's products as that part does:
the only products of a group that can reach a top ``k`` are the ``k`` best of the
per-customer part, found once per distinct per-customer weighting (4 in the grid), not
once per weighting. And a group's best product is an actual product: a group whose
best falls below the ``k``-th best group's best holds no product of the top ``k``. So
each weighting ranks the candidates of the few groups left, and the lists are those
:func:`.ranking.rank` gives: float32 rounding is allowed for, and a customer for whom
a near tie leaves a group's candidates uncertain is ranked over the whole catalogue.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from .data import InteractionData
from .model import COMPONENTS, BlendWeights, RecommenderModel
from .ranking import best_positions
from .ranks import largest_mask

# Adding a number to two float32 values can make them equal only if they differ by
# less than the spacing of float32 numbers (1.2e-7 of the size of the sum) near them; the
# blend adds at most a few. Differences above this share of the sums' size are certain.
ROUNDING = 1e-6


@dataclass(frozen=True)
class _Groups:
    """The catalogue's columns grouped by equal shared component values."""

    columns: np.ndarray  # every column, group after group, ascending inside a group
    starts: np.ndarray  # (groups + 1,) where each group begins in ``columns``
    values: dict[str, np.ndarray]  # each shared component's value, per group
    size: np.ndarray  # per group, the largest its shared terms add up to in the grid
    small: np.ndarray  # (groups, k) members of groups of at most k products; -1 pads
    large: np.ndarray  # the groups of more than k products
    slot: np.ndarray  # (groups,) a large group's position in ``large``; -1 for small ones


@dataclass(frozen=True)
class _Candidates:
    """What one per-customer weighting leaves of each group, per customer."""

    best: np.ndarray  # (customers, groups) the group's best per-customer part; -inf: none
    large: np.ndarray  # (customers, large groups, k) their k best columns; -1 pads
    unsure: np.ndarray  # (customers, groups) a near tie: the k best are not certain


class ForYouShortlist:
    """A batch of customers' *for you* top lists under the weightings of a grid.

    ``parts`` are the batch's standardised components over the catalogue and ``owned``
    what each customer bought (never listed). :meth:`top` gives, for any weighting of
    ``weightings``, the top lists of :func:`.ranking.for_you_scores` (equal scores in
    column order, as :func:`.ranking.top_columns` gives them).
    """

    def __init__(
        self,
        parts: dict[str, np.ndarray],
        owned: sp.csr_matrix,
        weightings: Sequence[BlendWeights],
    ) -> None:
        self.parts = parts
        self.customers, self.width = owned.shape[0], max(p.shape[1] for p in parts.values())
        coo = owned.tocoo()
        self.owned = (coo.row.astype(np.int64), coo.col.astype(np.int64))
        self.owned_keys = np.sort(self.owned[0] * self.width + self.owned[1])
        self.limits = {
            name: max((abs(getattr(w, name)) for w in weightings), default=0.0)
            for name in COMPONENTS
        }
        used = [name for name in COMPONENTS if self.limits[name]]
        shared = [n for n in used if parts[n].shape[0] == 1 and self.customers > 1]
        personal = [n for n in used if n not in shared]
        # Inside a group the blend adds the shared terms after the per-customer ones
        # (the order of COMPONENTS), so equal per-customer parts give equal scores;
        # were it otherwise, each weighting ranks the whole catalogue (one group).
        if any(COMPONENTS.index(s) < COMPONENTS.index(p) for s in shared for p in personal):
            shared = []
        self.shared = shared
        self._groups: dict[int, _Groups] = {}
        self._prepared: tuple[tuple, _Candidates] | None = None

    def top(self, weights: BlendWeights, k: int) -> np.ndarray:
        """Each customer's best ``k`` columns under ``weights``, best first; -1 past the end."""
        everyone = np.arange(self.customers)
        if any(abs(getattr(weights, n)) > self.limits[n] for n in COMPONENTS) or k < 1:
            return self._whole_catalogue(weights, everyone, k)  # not a weighting of the grid
        groups = self._grouped(k)
        prepared = self._prepare(weights, k)
        shared = np.zeros(len(groups.starts) - 1)
        for name in self.shared:
            shared += getattr(weights, name) * groups.values[name]
        bound = prepared.best + shared  # each group's best blended score, up to rounding
        finite = np.isfinite(bound)
        count = bound.shape[1]
        floor = np.full(self.customers, -np.inf)
        if count >= k:  # the k-th best group's best: the k-th best score is no lower
            floor = np.partition(np.where(finite, bound, -np.inf), count - k, axis=1)[:, count - k]
        # Either bound may be off by rounding: a little of the size of its terms.
        size = np.abs(prepared.best) + groups.size
        slack = ROUNDING * (1.0 + 2 * np.where(finite, size, 0.0).max(axis=1, keepdims=True))
        needed = finite & (bound >= floor[:, np.newaxis] - slack)
        widest = int(needed.sum(axis=1).max(initial=0))
        if not widest:
            return np.full((self.customers, k), -1, dtype=np.int64)
        chosen = np.argsort(~needed, axis=1, kind="stable")[:, :widest]
        valid = np.take_along_axis(needed, chosen, axis=1)
        columns = groups.small[chosen]
        if len(groups.large):
            large = prepared.large[everyone[:, np.newaxis], np.maximum(groups.slot[chosen], 0)]
            columns = np.where((groups.slot[chosen] >= 0)[..., np.newaxis], large, columns)
        columns = np.where(valid[..., np.newaxis], columns, -1).reshape(self.customers, -1)
        columns = np.sort(columns, axis=1)  # equal scores: the lower column first
        scores = RecommenderModel.blend(self._at(columns, weights), weights)
        scores[(columns < 0) | self._is_owned(columns)] = -np.inf
        positions, values = best_positions(scores, k)
        top = np.where(np.isfinite(values), np.take_along_axis(columns, positions, axis=1), -1)
        unsure = np.flatnonzero((prepared.unsure & needed).any(axis=1))
        if len(unsure):
            top[unsure] = self._whole_catalogue(weights, unsure, k)
        return top

    def _grouped(self, k: int) -> _Groups:
        if k in self._groups:
            return self._groups[k]
        if self.shared:
            keys = np.stack([np.asarray(self.parts[n][0]) for n in self.shared])
            columns = np.lexsort(keys[::-1])  # stable: columns ascending inside a group
            ordered = keys[:, columns]
            change = np.flatnonzero(np.any(ordered[:, 1:] != ordered[:, :-1], axis=0)) + 1
        else:
            columns, change = np.arange(self.width), np.zeros(0, dtype=np.int64)
        starts = np.r_[0, change, self.width].astype(np.int64)
        sizes = np.diff(starts)
        group_of = np.repeat(np.arange(len(sizes)), sizes)
        offset = np.arange(self.width) - starts[group_of]
        small = np.full((len(sizes), k), -1, dtype=np.int64)
        fits = sizes[group_of] <= k
        small[group_of[fits], offset[fits]] = columns[fits]
        large = np.flatnonzero(sizes > k)
        slot = np.full(len(sizes), -1, dtype=np.int64)
        slot[large] = np.arange(len(large))
        values = {
            n: np.asarray(self.parts[n][0], dtype=np.float64)[columns[starts[:-1]]]
            for n in self.shared
        }
        size = sum((self.limits[n] * np.abs(v) for n, v in values.items()), np.zeros(len(sizes)))
        self._groups[k] = _Groups(columns, starts, values, size, small, large, slot)
        return self._groups[k]

    def _prepare(self, weights: BlendWeights, k: int) -> _Candidates:
        """The groups' best and ``k`` best columns under the per-customer part of
        ``weights``, kept for the weightings that share it (the grid's are adjacent)."""
        personal = replace(weights, **dict.fromkeys(self.shared, 0.0))
        key = (personal, k)
        if self._prepared is not None and self._prepared[0] == key:
            return self._prepared[1]
        groups = self._grouped(k)
        partial = RecommenderModel.blend(self.parts, personal)
        partial = np.broadcast_to(partial, (self.customers, self.width))
        ordered = partial[:, groups.columns]  # a copy: the owned ones are struck out next
        position = np.empty(self.width, dtype=np.int64)
        position[groups.columns] = np.arange(self.width)
        ordered[self.owned[0], position[self.owned[1]]] = -np.inf
        best = np.maximum.reduceat(ordered, groups.starts[:-1], axis=1).astype(np.float64)
        large = np.full((self.customers, len(groups.large), k), -1, dtype=np.int64)
        unsure = np.zeros(best.shape, dtype=bool)
        for slot, group in enumerate(groups.large):
            start, stop = groups.starts[group], groups.starts[group + 1]
            block = ordered[:, start:stop]
            large[:, slot], unsure[:, group] = _k_best(
                block, groups.columns[start:stop], k, groups.size[group]
            )
        self._prepared = (key, _Candidates(best, large, unsure))
        return self._prepared[1]

    def _at(self, columns: np.ndarray, weights: BlendWeights) -> dict[str, np.ndarray]:
        """The components ``weights`` counts at each row's ``columns`` (a blend reads no other)."""
        safe = np.maximum(columns, 0)
        flat = np.arange(self.customers)[:, np.newaxis] * self.width + safe
        unused = np.broadcast_to(np.float32(0.0), columns.shape)
        return {
            name: unused
            if not getattr(weights, name)
            else part[0][safe]
            if part.shape[0] == 1
            else np.ascontiguousarray(part).ravel()[flat]
            for name, part in self.parts.items()
        }

    def _is_owned(self, columns: np.ndarray) -> np.ndarray:
        if not len(self.owned_keys):
            return np.zeros(columns.shape, dtype=bool)
        keys = np.arange(self.customers)[:, np.newaxis] * self.width + columns
        found = np.minimum(np.searchsorted(self.owned_keys, keys), len(self.owned_keys) - 1)
        return self.owned_keys[found] == keys

    def _whole_catalogue(self, weights: BlendWeights, rows: np.ndarray, k: int) -> np.ndarray:
        parts = {name: part if len(part) == 1 else part[rows] for name, part in self.parts.items()}
        scores = RecommenderModel.blend(parts, weights)
        scores = np.broadcast_to(scores, (len(rows), self.width)).copy()
        at = np.isin(self.owned[0], rows)
        scores[np.searchsorted(rows, self.owned[0][at]), self.owned[1][at]] = -np.inf
        positions, values = best_positions(scores, k)
        return np.where(np.isfinite(values), positions, -1)


def _k_best(
    block: np.ndarray, columns: np.ndarray, k: int, shared: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` best of ``block`` (equal values: the lower column first), as
    ``columns`` (-1 for a struck-out one), and whether a near tie makes them uncertain.

    Adding the group's shared terms (at most ``shared`` in size) keeps the order of
    values further apart than rounding, and keeps equal values equal (so the lower
    column goes first, as in the whole catalogue's ranking). The ``k`` are certain when
    every other product of the row is that much lower than each, or equal to some and
    that much lower than the rest.
    """
    chosen = largest_mask(block, k)
    rows, positions = np.nonzero(chosen)  # k per row, by row
    values = block[rows, positions].reshape(len(block), k)
    picked = np.where(np.isfinite(values), columns[positions].reshape(len(block), k), -1)
    rest = np.where(chosen, -np.inf, block)
    runner_up = rest.max(axis=1, keepdims=True)
    below = np.where(rest < runner_up, rest, -np.inf).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):  # -inf less -inf: no product left to compare
        clear = (values - runner_up > _margin(values, runner_up, shared)).sum(axis=1)
        apart = (runner_up - below > _margin(runner_up, below, shared))[:, 0]
    level = (values == runner_up).sum(axis=1)
    sure = (clear == k) | ((clear + level == k) & apart) | np.isneginf(runner_up[:, 0])
    return picked, ~sure


def for_you_shortlist(
    parts: dict[str, np.ndarray],
    history: InteractionData,
    rows: np.ndarray,
    weightings: Sequence[BlendWeights],
) -> ForYouShortlist:
    """The *for you* lists of ``rows`` of ``history`` (what they own is never listed)."""
    return ForYouShortlist(parts, history.baskets[rows].tocsr(), weightings)


def _margin(high: np.ndarray, low: np.ndarray, shared: float) -> np.ndarray:
    """How far apart two values must be to stay apart after the shared terms are added:
    rounding is relative to the largest sum formed (a value, or an infinite one: none)."""
    size = np.maximum(np.abs(high), np.abs(low))
    return ROUNDING * (1.0 + np.where(np.isfinite(size), size, 0.0) + shared)
