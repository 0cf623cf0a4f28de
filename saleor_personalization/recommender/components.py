"""Non-parametric signals that complement the LightFM hybrid.

On real shop data (see ``benchmarks/quality.py``) plain LightFM is beaten by simple
signals: customers reorder what they bought, baskets repeat co-purchase patterns, and
seasonal trends move fast. Each function here returns one of those signals as arrays
a blended score can weigh.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from .data import InteractionData
from .ranks import largest_mask


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

    The long tail beyond ``max_items`` is not left out: a pair with a tail product gets
    the weight of the one-product ridge regression (``co-buys / (buys + regularisation)``)
    that EASE itself reduces to when the two products share no other signal, on the same
    scale and with the same shrinkage, so a product bought twice weighs little and a
    grocery shop's 60,000 products all have neighbours (see :func:`_long_tail_weights`).

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
    tail = np.empty(0, dtype=np.int64)
    if len(candidates) > max_items:
        ranked = candidates[np.argsort(-buyers[candidates], kind="stable")]
        candidates, tail = np.sort(ranked[:max_items]), np.sort(ranked[max_items:])
    head = _ease_weights(bought, candidates, n_items, regularisation, neighbours)
    if not len(tail):
        return head
    return _long_tail_weights(bought, head, tail, regularisation, neighbours)


def _ease_weights(
    bought: sp.csc_matrix,
    candidates: np.ndarray,
    n_items: int,
    regularisation: float,
    neighbours: int,
) -> sp.csr_matrix:
    if len(candidates) < 2:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    sub = bought[:, candidates]
    gram = (sub.T @ sub).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += regularisation
    weights = _symmetric_inverse(gram)
    weights /= -np.diag(weights).copy()
    np.fill_diagonal(weights, 0.0)
    weights = weights.astype(np.float32, order="C")
    del gram

    keep = min(neighbours, len(candidates) - 1)
    top = np.argpartition(-weights, keep, axis=1)[:, :keep]
    rows = np.repeat(candidates, keep)
    cols = candidates[top.ravel()]
    values = np.take_along_axis(weights, top, axis=1).ravel()
    positive = values > 0
    return sp.csr_matrix(
        (values[positive], (rows[positive], cols[positive])), shape=(n_items, n_items)
    )


def _symmetric_inverse(gram: np.ndarray) -> np.ndarray:
    """The inverse of a positive definite matrix from its Cholesky factor, in ``gram``'s
    memory (no copy of a 6,000-product matrix is made: fits may run side by side).

    Half the arithmetic of a general inverse: the six inverses of a training run
    (each fit's 6,000 products, the reorder features' 2,000) were a tenth of a run on a
    large catalogue.
    """
    # A symmetric matrix is its own transpose: the transpose is in LAPACK's (column)
    # order, so the factor and the inverse take its place instead of a copy's.
    factor, info = lapack.dpotrf(gram.T, lower=False, overwrite_a=True)
    if info == 0:
        factor, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:  # as np.linalg.inv refused such a matrix (no regularisation)
        raise np.linalg.LinAlgError("the co-purchase matrix is singular")
    size = len(factor)
    for start in range(0, size, 512):  # the lower triangle from the upper one
        stop = min(start + 512, size)
        factor[start:stop, :start] = factor[:start, start:stop].T
        block = factor[start:stop, start:stop]
        block[np.tril_indices(stop - start, -1)] = block.T[np.tril_indices(stop - start, -1)]
    return factor


TAIL_CHUNK = 4096


def _long_tail_weights(
    bought: sp.csc_matrix,
    head: sp.csr_matrix,
    tail: np.ndarray,
    regularisation: float,
    neighbours: int,
) -> sp.csr_matrix:
    """Add the pairs that involve a long-tail product to the EASE weights of the head.

    For a tail product ``a`` and any ``b``: ``W[a, b] = G[a, b] / (G[a, a] + λ)``, and for a
    head product ``a`` and a tail ``b`` the same with ``a``'s own count, where ``G`` is the
    (recency-weighted) co-purchase count. Tail products are taken a chunk at a time, so
    memory stays bounded by ``(items + chunk) * neighbours`` however long the tail. Each
    pair comes from one place only: a tail product's row is whole in its own chunk and
    keeps its strongest ``neighbours`` there; a head product's row gains tail columns
    from every chunk and keeps its strongest after each. Only the rows a chunk changes
    are pruned, so a long tail costs one pass over its rows, not one per chunk.
    """
    n_items = head.shape[0]
    bought_rows = bought.tocsr()
    own = np.asarray(bought.multiply(bought).sum(axis=0)).ravel() + regularisation
    head_rows = np.ones(n_items, dtype=np.float32)
    head_rows[tail] = 0.0
    only_head_rows = sp.diags(head_rows)
    head = head.tocsr()
    tail_rows = []
    for start in range(0, len(tail), TAIL_CHUNK):
        chunk = tail[start : start + TAIL_CHUNK]
        gram = (bought[:, chunk].T @ bought_rows).tocsr().astype(np.float32)  # chunk by items
        # Rows of the tail products: their co-buys over their own count, less themselves.
        from_tail = (sp.diags(1.0 / own[chunk]).astype(np.float32) @ gram).tocoo()
        other = from_tail.col != chunk[from_tail.row]
        from_tail = sp.csr_matrix(
            (from_tail.data[other], (from_tail.row[other], from_tail.col[other])),
            shape=from_tail.shape,
        )
        from_tail.eliminate_zeros()
        kept = keep_strongest(from_tail, neighbours).tocoo()
        tail_rows.append((kept.data, chunk[kept.row], kept.col))
        # Tail products as the target of every product bought with them.
        to_tail = (gram @ sp.diags(1.0 / own).astype(np.float32)).T.tocsr()
        to_tail = only_head_rows @ _scatter_columns(to_tail, chunk, n_items)
        combined = (head + to_tail).tocsr()
        combined.eliminate_zeros()
        head = keep_strongest(combined, neighbours)
    head = head.tocoo()
    data, rows, cols = (np.concatenate(parts) for parts in zip(*tail_rows, strict=True))
    return sp.csr_matrix(
        (np.r_[head.data, data], (np.r_[head.row, rows], np.r_[head.col, cols])),
        shape=(n_items, n_items),
        dtype=np.float32,
    )


def _scatter_columns(matrix: sp.csr_matrix, cols: np.ndarray, n_cols: int) -> sp.csr_matrix:
    coo = matrix.tocoo()
    return sp.csr_matrix((coo.data, (coo.row, cols[coo.col])), shape=(matrix.shape[0], n_cols))


def keep_strongest(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's ``keep`` largest entries; among equal values, those of the lowest columns.

    Only rows longer than ``keep`` are cut, each by a partition around its ``keep``-th
    largest value: a sort of every entry of a co-purchase matrix with a long tail
    (tens of millions) took most of a training run's co-purchase time.
    """
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    counts = np.diff(matrix.indptr)
    if not matrix.nnz or counts.max() <= keep:
        return matrix.astype(np.float32)
    chosen = np.ones(matrix.nnz, dtype=bool)
    long = np.flatnonzero(counts > keep)
    long = long[np.argsort(counts[long], kind="stable")]
    start = 0
    while start < len(long):  # rows of similar length together, as one padded block
        lengths = counts[long[start : start + max(1, STRONGEST_BLOCK // counts[long[start]])]]
        size = max(1, int(np.sum(np.arange(1, len(lengths) + 1) * lengths <= STRONGEST_BLOCK)))
        rows = long[start : start + size]
        chosen[_positions(matrix.indptr, rows, counts)] = _largest_rows(
            matrix.data, matrix.indptr, rows, counts, keep
        )
        start += size
    return sp.csr_matrix(
        (
            matrix.data[chosen].astype(np.float32),
            matrix.indices[chosen],
            np.r_[0, np.cumsum(np.minimum(counts, keep))],
        ),
        shape=matrix.shape,
    )


# Entries of long rows cut at once by :func:`keep_strongest` (a row per loop was 124,587
# partitions on the 20x benchmark's catalogue).
STRONGEST_BLOCK = 1 << 22


def _positions(indptr: np.ndarray, rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The entries of ``rows``, row after row."""
    lengths = counts[rows]
    first = np.repeat(indptr[rows] - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    return first + np.arange(lengths.sum())


def _largest_rows(
    data: np.ndarray, indptr: np.ndarray, rows: np.ndarray, counts: np.ndarray, keep: int
) -> np.ndarray:
    """Mask of each row's ``keep`` largest entries, ties going to the earliest, for the
    entries of ``rows`` row after row: the rows padded into one block and partitioned."""
    lengths = counts[rows]
    width = int(lengths.max())
    offsets = np.arange(width)
    valid = offsets < lengths[:, np.newaxis]
    at = np.minimum(indptr[rows][:, np.newaxis] + offsets, len(data) - 1)
    values = np.where(valid, data[at], -np.inf)
    return largest_mask(values, keep)[valid]


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
