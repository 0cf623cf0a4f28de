"""Average ranks (ties share the mean of their places), as ``scipy.stats.rankdata`` gives.

Written with numpy alone: importing ``scipy.stats`` costs seconds at every start of
a worker or command, and these callers only need ranks.
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
