"""Ranks with numpy alone: average ranks (ties share the mean of their places), as
``scipy.stats.rankdata`` gives, and each row's largest entries.

Importing ``scipy.stats`` costs seconds at every start of a worker or command, and
these callers only need ranks.
"""

import numpy as np


def average_ranks(values) -> np.ndarray:
    """1-based ranks of ``values``; equal values get the average of their ranks."""
    values = np.asarray(values).ravel()
    if not len(values):
        return np.zeros(0, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    dense = np.empty(len(values), dtype=np.int64)
    dense[order] = np.cumsum(starts)
    bounds = np.r_[np.flatnonzero(starts), len(values)]
    return 0.5 * (bounds[dense] + bounds[dense - 1] + 1)


def largest_mask(values: np.ndarray, keep: int) -> np.ndarray:
    """Mask of each row's ``keep`` largest ``values``, equal values going to the earliest
    (as a stable sort would pick them); ``keep`` must not exceed the rows' width."""
    width = values.shape[1]
    threshold = np.partition(values, width - keep, axis=1)[:, width - keep, np.newaxis]
    above = values > threshold
    ties = values == threshold
    return above | (ties & (np.cumsum(ties, axis=1) <= keep - above.sum(axis=1, keepdims=True)))
