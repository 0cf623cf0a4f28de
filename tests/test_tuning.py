"""Weight tuning ranks shortlists; its lists and figures must be those of the whole catalogue."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from saleor_personalization.recommender.data import EventRows, build_interactions
from saleor_personalization.recommender.evaluation import (
    Holdout,
    ListTally,
    TruthBatch,
    _auc,
    evaluate,
    evaluate_protocols,
    top_k,
)
from saleor_personalization.recommender.for_you_shortlist import for_you_shortlist
from saleor_personalization.recommender.model import RecommenderModel
from saleor_personalization.recommender.ranking import (
    buy_again_scores,
    buy_again_shortlist,
    for_you_scores,
    top_columns,
)
from saleor_personalization.recommender.training import weight_grid

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CUSTOMERS, PRODUCTS = 40, 500


def _history(seed: int = 3):
    """40 customers with 1-30 purchases each (some last week) over 500 products."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(CUSTOMERS):
        for product in rng.choice(PRODUCTS, size=int(rng.integers(1, 31)), replace=False):
            when = NOW - timedelta(days=int(rng.integers(1, 120)))
            rows.append((customer, int(product), "purchase", f"o{customer}-{when:%j}", when))
    return build_interactions(EventRows.from_tuples(rows), as_of=NOW, item_ids=np.arange(PRODUCTS))


def _parts(seed: int = 5) -> dict[str, np.ndarray]:
    """Standardised-looking component scores without ties (ties rank either way)."""
    rng = np.random.default_rng(seed)
    return {
        "repeat": rng.standard_normal((CUSTOMERS, PRODUCTS)).astype(np.float32),
        "copurchase": rng.standard_normal((CUSTOMERS, PRODUCTS)).astype(np.float32),
        "factorisation": rng.standard_normal((CUSTOMERS, PRODUCTS)).astype(np.float32),
        "trend": rng.standard_normal((1, PRODUCTS)).astype(np.float32),
        "popularity": rng.standard_normal((1, PRODUCTS)).astype(np.float32),
        "first_buyers": rng.standard_normal((1, PRODUCTS)).astype(np.float32),
    }


def _as_lists(top: np.ndarray) -> list[list[int]]:
    return [[int(c) for c in row if c >= 0] for row in top]


def _shop_like(parts: dict[str, np.ndarray], levels: int) -> dict[str, np.ndarray]:
    """Parts as a shop's are: the shared components take ``levels`` values (a long tail
    alike: one buyer, no sales lately), most products have no co-purchase score (one
    value), and the hybrid's scores repeat."""
    rng = np.random.default_rng(levels)
    shaped = dict(parts)
    for name in ("trend", "popularity", "first_buyers"):
        shaped[name] = rng.integers(0, levels, size=(1, PRODUCTS)).astype(np.float32)
    copurchase = np.full((CUSTOMERS, PRODUCTS), -0.25, dtype=np.float32)
    linked = rng.random((CUSTOMERS, PRODUCTS)) < 0.1
    copurchase[linked] = parts["copurchase"][linked]
    shaped["copurchase"] = copurchase
    shaped["factorisation"] = np.round(parts["factorisation"], 1)
    return shaped


@pytest.mark.parametrize("levels", [None, 1, 2, 4, 30])
def test_for_you_shortlists_give_the_whole_catalogues_lists(levels):
    # None: every product its own group (shared scores without ties); 1: one group.
    history, parts = _history(), _parts()
    if levels is not None:
        parts = _shop_like(parts, levels)
    rows = np.arange(CUSTOMERS)
    grid = weight_grid("new")
    assert any(w.popularity < 0 for w in grid)
    shortlist = for_you_shortlist(parts, history, rows, grid)
    for weights in grid:
        whole = top_columns(for_you_scores(parts, weights, history, rows), 10)
        assert _as_lists(shortlist.top(weights, 10)) == [c.tolist() for c in whole], weights


def test_for_you_shortlists_rank_near_ties_over_the_whole_catalogue():
    """Per-customer parts a rounding apart can blend to equal scores, which go in column
    order: a group's best by that part are then not certain, and the customer is ranked
    over the whole catalogue."""
    history, parts = _history(), _shop_like(_parts(), 2)
    rows = np.arange(CUSTOMERS)
    owned = history.baskets.tocsr()
    shared = np.stack([parts[n][0] for n in ("trend", "popularity", "first_buyers")])
    group = np.flatnonzero((shared == shared[:, :1]).all(axis=0))  # product 0's group
    for row in rows:  # eleven products of a group a hair apart, the lower columns lower
        free = np.setdiff1d(group, owned[row].indices)[:11]
        parts["copurchase"][row, free] = 5.0 + np.arange(11, 0, -1) * 1e-7
        parts["factorisation"][row, free] = 0.0
    grid = weight_grid("new")
    shortlist = for_you_shortlist(parts, history, rows, grid)
    for weights in grid:
        whole = top_columns(for_you_scores(parts, weights, history, rows), 10)
        assert _as_lists(shortlist.top(weights, 10)) == [c.tolist() for c in whole], weights


def test_buy_again_shortlists_give_the_whole_catalogues_lists():
    history, parts = _history(), _parts()
    rows = np.arange(CUSTOMERS)
    reorder = np.random.default_rng(1).random(PRODUCTS) < 0.3
    shortlist = buy_again_shortlist(parts, history, rows, reorder, 30)
    lengths = set()
    for weights in weight_grid("all"):
        scores = buy_again_scores(parts, weights, history, rows, reorder, PRODUCTS, 30)
        whole = [c.tolist() for c in top_columns(scores, 10)]
        assert _as_lists(shortlist.top(weights, 10)) == whole, weights
        lengths.update(len(c) for c in whole)
    assert min(lengths) < 10 < max(lengths) + 1  # short lists stay short: nothing is padded


def test_buy_again_shortlists_keep_the_customers_own_recent_reorders():
    """A product the customer bought in two orders, the latest recent, stays on their
    written list; tuning's shortlist must keep it too, or it ranks other lists."""
    rng = np.random.default_rng(8)
    rows = []
    for customer in range(CUSTOMERS):
        for product in rng.choice(PRODUCTS, size=12, replace=False):
            days = [int(rng.integers(1, 29))]  # each bought in the last 4 weeks...
            if rng.random() < 0.5:  # ...half of them in an earlier order too
                days.append(int(rng.integers(40, 120)))
            for day in days:
                when = NOW - timedelta(days=day)
                rows.append((customer, int(product), "purchase", f"o{customer}-{day}", when))
    events = EventRows.from_tuples(rows)
    history = build_interactions(events, as_of=NOW, item_ids=np.arange(PRODUCTS))
    parts, rows = _parts(), np.arange(CUSTOMERS)
    reorder = np.zeros(PRODUCTS, dtype=bool)
    shortlist = buy_again_shortlist(parts, history, rows, reorder, 30)
    kept = 0
    for weights in weight_grid("all"):
        scores = buy_again_scores(parts, weights, history, rows, reorder, PRODUCTS, 30)
        whole = [c.tolist() for c in top_columns(scores, 10)]
        assert _as_lists(shortlist.top(weights, 10)) == whole, weights
        kept += sum(len(c) for c in whole)
    assert kept  # the own reorders are what the lists hold: every purchase is recent


def test_list_tally_gives_evaluates_ndcg_and_coverage():
    history = _history()
    rng = np.random.default_rng(2)
    truth = {r: set(rng.choice(PRODUCTS, size=int(rng.integers(1, 6))).tolist()) for r in range(30)}
    holdout = Holdout(data=history, truth=truth, cold_truth={}, cold_item_ids=np.zeros(0))
    scores = rng.standard_normal((CUSTOMERS, PRODUCTS)).astype(np.float32)

    def scorer(data, chunk):
        return scores[chunk]

    expected = evaluate(holdout, scorer, protocol="all", with_auc=False, with_overlap=False)
    tally = ListTally(PRODUCTS)
    rows = holdout.rows
    for start in (0, 17):  # two batches
        batch = rows[start : start + 17]
        tally.add(top_k(scores[batch]), TruthBatch.of([truth[int(r)] for r in batch], PRODUCTS))
    assert tally.ndcg == pytest.approx(expected.ndcg)
    assert tally.coverage == pytest.approx(expected.coverage)
    assert tally.users == expected.users == 30


def test_both_protocols_in_one_pass_give_each_protocols_metrics():
    history = _history()
    rng = np.random.default_rng(4)
    truth = {r: set(rng.choice(PRODUCTS, size=int(rng.integers(1, 8))).tolist()) for r in range(35)}
    holdout = Holdout(data=history, truth=truth, cold_truth={}, cold_item_ids=np.zeros(0))
    scores = {
        "all": rng.standard_normal((CUSTOMERS, PRODUCTS)).astype(np.float32),
        "new": rng.standard_normal((CUSTOMERS, PRODUCTS)).astype(np.float32),
    }
    together = evaluate_protocols(
        holdout, lambda data, rows: {p: s[rows] for p, s in scores.items()}, batch=16
    )
    for protocol, matrix in scores.items():
        alone = evaluate(holdout, lambda data, rows, m=matrix: m[rows], protocol=protocol, batch=16)
        assert together[protocol] == alone
    assert together["all"] != together["new"]


def test_auc_is_the_share_of_bought_over_not_bought_pairs_ties_half():
    rng = np.random.default_rng(6)
    scores = rng.integers(0, 6, PRODUCTS).astype(np.float32)  # many ties
    scores[rng.random(PRODUCTS) < 0.2] = -np.inf  # not rankable: left out
    truth = set(rng.choice(PRODUCTS, size=25, replace=False).tolist())
    finite = np.isfinite(scores)
    bought = [scores[c] for c in truth if finite[c]]
    others = [scores[c] for c in range(PRODUCTS) if finite[c] and c not in truth]
    pairs = [(b > o) + 0.5 * (b == o) for b in bought for o in others]
    assert _auc(scores, truth) == pytest.approx(np.mean(pairs), abs=1e-12)


def test_buy_again_is_the_blend_at_owned_products_less_recent_ones():
    history, parts = _history(), _parts()
    rows = np.arange(5, CUSTOMERS)
    batch = {name: part if len(part) == 1 else part[rows] for name, part in parts.items()}
    reorder = np.random.default_rng(1).random(PRODUCTS) < 0.3
    weights = weight_grid("all")[17]
    scores = buy_again_scores(batch, weights, history, rows, reorder, PRODUCTS, 30)
    blended = RecommenderModel.blend(batch, weights)
    owned = history.baskets[rows].toarray() > 0
    age = history.last_purchase_age[rows].toarray()
    hidden = (age > 0) & (age - 1 < 30) & ~reorder
    shown = owned & ~hidden
    assert hidden.any()
    assert shown.any()
    np.testing.assert_array_equal(scores[shown], blended[shown])
    assert np.isneginf(scores[~shown]).all()


def test_products_a_list_cannot_show_are_neither_hits_nor_coverage():
    """A buy-again list of 3 products is padded to 10 by -inf entries nobody is shown."""
    rng = np.random.default_rng(8)
    history = _history()
    scores = np.full((CUSTOMERS, PRODUCTS), -np.inf, dtype=np.float32)
    listed = {r: rng.choice(PRODUCTS, size=3, replace=False) for r in range(CUSTOMERS)}
    for row, products in listed.items():
        scores[row, products] = rng.random(3)
    # Each customer bought one of their 3 listed products and every product they were not shown.
    shown_products = set().union(*(set(p.tolist()) for p in listed.values()))
    truth = {
        row: {int(products[0])} | (set(range(PRODUCTS)) - set(products.tolist()))
        for row, products in listed.items()
    }
    holdout = Holdout(data=history, truth=truth, cold_truth={}, cold_item_ids=np.zeros(0))
    found = evaluate(holdout, lambda data, rows: scores[rows], protocol="all", batch=16)
    assert found.coverage == pytest.approx(len(shown_products) / PRODUCTS)
    assert found.precision == pytest.approx(0.1)  # one hit of 10 places, the padding never hits
