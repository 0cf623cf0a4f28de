"""Co-purchase weights beyond the products the EASE inverse can hold (the long tail)."""

from datetime import UTC, datetime, timedelta

import numpy as np

from saleor_personalization.recommender.components import copurchase_weights, keep_strongest
from saleor_personalization.recommender.data import EventRows, build_interactions

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _shop(seed: int = 7):
    """120 customers over 300 products; products 0-29 popular, the rest a long tail where
    product 200 + k is always bought with product 100 + k."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(120):
        basket = f"o{customer}"
        when = NOW - timedelta(days=int(rng.integers(1, 60)))
        for product in rng.choice(30, size=4, replace=False):
            rows.append((customer, int(product), "purchase", basket, when))
        if customer < 100:
            pair = customer % 40
            rows.append((customer, 100 + pair, "purchase", basket, when))
            rows.append((customer, 200 + pair, "purchase", basket, when))
    events = EventRows.from_tuples(rows)
    return build_interactions(events, as_of=NOW)


def test_long_tail_products_get_neighbours_beyond_max_items():
    data = _shop()
    full = copurchase_weights(data, max_items=10_000, half_life_days=0)
    capped = copurchase_weights(data, max_items=30, half_life_days=0)
    index = data.item_index
    for pair in range(40):
        a, b = index[100 + pair], index[200 + pair]
        # Outside the 30 products the inverse holds, the partner is still the strongest link.
        row = capped[a].toarray().ravel()
        assert row[b] > 0, pair
        assert row[b] == row.max(), pair
        back = capped[b].toarray().ravel()
        assert back[a] > 0
        assert back[a] == back.max()
        # ... as under the full EASE model.
        assert full[a].toarray().ravel().argmax() == b
    # Every product anyone bought has neighbours.
    bought = np.flatnonzero(np.asarray((data.baskets > 0).sum(axis=0)).ravel())
    assert (np.diff(capped.indptr)[bought] > 0).all()
    assert capped.diagonal().max() == 0


def test_tail_weights_are_the_one_product_ridge_regression():
    data = _shop()
    capped = copurchase_weights(data, max_items=30, half_life_days=0, regularisation=50.0)
    index = data.item_index
    a, b = index[100], index[200]
    bought = (data.baskets > 0).astype(np.float32).tocsc()
    together = float((bought[:, a].T @ bought[:, b]).toarray()[0, 0])
    alone = float(bought[:, a].sum())
    assert np.isclose(capped[a, b], together / (alone + 50.0))


def test_the_head_is_unchanged_when_nothing_is_beyond_max_items():
    data = _shop()
    everything = copurchase_weights(data, max_items=10_000)
    assert everything.nnz
    again = copurchase_weights(data, max_items=len(data.item_ids))
    assert (everything != again).nnz == 0


def test_keep_strongest_keeps_each_rows_largest():
    import scipy.sparse as sp

    matrix = sp.csr_matrix(np.array([[0, 3, 1, 2], [5, 0, 0, 0], [0, 0, 0, 0], [1, 1, 4, 9]]))
    kept = keep_strongest(matrix, 2).toarray()
    assert kept.tolist() == [[0, 3, 0, 2], [5, 0, 0, 0], [0, 0, 0, 0], [0, 0, 4, 9]]
