"""Non-parametric signals that complement the LightFM hybrid.

On real shop data (see ``benchmarks/quality.py``) plain LightFM is beaten by simple
signals: customers reorder what they bought, baskets repeat co-purchase patterns, and
seasonal trends move fast. Each function here returns one of those signals as arrays
a blended score can weigh.
"""

import numpy as np
import scipy.sparse as sp

from .data import InteractionData


def popularity(data: InteractionData) -> np.ndarray:
    """Buyers per product."""
    return np.asarray((data.baskets > 0).sum(axis=0), dtype=np.float32).ravel()


def repeat_rate(data: InteractionData, prior_buyers: float = 5.0) -> np.ndarray:
    """Smoothed share of a product's buyers who bought it in more than one basket."""
    buyers = np.asarray((data.baskets > 0).sum(axis=0)).ravel()
    repeaters = np.asarray((data.baskets > 1).sum(axis=0)).ravel()
    return ((repeaters + 1.0) / (buyers + prior_buyers)).astype(np.float32)


def recent_popularity(data_events_per_item: np.ndarray) -> np.ndarray:
    top = data_events_per_item.max() if len(data_events_per_item) else 0
    return (data_events_per_item / top).astype(np.float32) if top else data_events_per_item


def copurchase_weights(
    data: InteractionData,
    *,
    regularisation: float = 50.0,
    max_items: int = 6000,
    neighbours: int = 200,
    half_life_days: float = 120.0,
) -> sp.csr_matrix:
    """Item-to-item weights of a ridge-regularised co-purchase model (EASE).

    ``W[a, b]`` says how much having bought ``a`` predicts buying ``b``. The closed form
    needs the inverse of an items-by-items matrix, so only the ``max_items`` most-bought
    products take part (memory grows with its square) and each row keeps its strongest
    ``neighbours`` so the stored matrix stays small.

    Purchases count by how recent they are (``half_life_days``; 0 counts them all
    alike), so the associations of this season can outweigh last year's; whether they
    should, and how much, is a parameter to judge on a validation window.
    """
    n_items = data.shape[1]
    if half_life_days > 0:
        bought = data.last_purchase_age.tocsr(copy=True).astype(np.float32)
        bought.data = np.exp2(-(bought.data - 1.0) / half_life_days).astype(np.float32)
        bought = bought.tocsc()
    else:
        bought = (data.baskets > 0).astype(np.float32).tocsc()
    buyers = np.asarray((bought > 0).sum(axis=0)).ravel()
    candidates = np.flatnonzero(buyers > 0)
    if len(candidates) > max_items:
        candidates = candidates[np.argsort(-buyers[candidates], kind="stable")[:max_items]]
        candidates.sort()
    if len(candidates) < 2:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    sub = bought[:, candidates]
    gram = (sub.T @ sub).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += regularisation
    precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    weights = weights.astype(np.float32)
    del gram, precision

    keep = min(neighbours, len(candidates) - 1)
    top = np.argpartition(-weights, keep, axis=1)[:, :keep]
    rows = np.repeat(candidates, keep)
    cols = candidates[top.ravel()]
    values = np.take_along_axis(weights, top, axis=1).ravel()
    positive = values > 0
    return sp.csr_matrix(
        (values[positive], (rows[positive], cols[positive])), shape=(n_items, n_items)
    )


def recency_history(
    data: InteractionData, rows: np.ndarray, half_life_days: float
) -> sp.csr_matrix:
    """Customers' purchases weighted by how recent they are (1 today, 0.5 a half-life ago)."""
    ages = data.last_purchase_age[rows].tocsr(copy=True)
    ages.data = np.exp2(-(ages.data - 1.0) / half_life_days).astype(np.float32)
    return ages


def repeat_signal(
    data: InteractionData, rows: np.ndarray, rates: np.ndarray, half_life_days: float
) -> sp.csr_matrix:
    """How likely each customer is to reorder each product they bought (sparse)."""
    baskets = data.baskets[rows].tocsr()
    recency = recency_history(data, rows, half_life_days)
    signal = baskets.copy().astype(np.float32)
    signal.data = np.log1p(signal.data).astype(np.float32)
    return signal.multiply(recency).multiply(rates[np.newaxis, :]).tocsr()
