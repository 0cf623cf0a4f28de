"""The learned reorder model behind the *buy again* list."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from saleor_personalization.recommender.components import copurchase_weights, recency_history
from saleor_personalization.recommender.data import EventRows, build_interactions
from saleor_personalization.recommender.model import ModelParams
from saleor_personalization.recommender.reorder import _columns_of, fit_reorder, purchase_history

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _shop(seed: int = 3) -> EventRows:
    """Each customer rebuys two staples (products 0-9) every week and buys one-off
    gifts (products 100-199) once, over 20 weeks."""
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(150):
        staples = rng.choice(10, size=2, replace=False)
        start = NOW - timedelta(weeks=20) + timedelta(days=int(rng.integers(0, 7)))
        for week in range(20):
            when = start + timedelta(weeks=week)
            basket = f"{customer}-{week}"
            for product in staples:
                rows.append((customer, int(product), "purchase", basket, when))
            if rng.random() < 0.5:
                gift = 100 + int(rng.integers(0, 100))
                rows.append((customer, gift, "purchase", basket, when))
    return EventRows.from_tuples(rows)


def _chances(events: EventRows, as_of: datetime, weeks: int = 2):
    """The reorder model fitted before ``as_of`` and its chances at ``as_of``."""
    items = np.unique(events.products)
    data = build_interactions(events, as_of=as_of, item_ids=items)
    model = fit_reorder(events, data, weeks, ModelParams())
    assert model is not None
    rows = np.arange(data.shape[0])
    together = recency_history(data, rows, 42.0) @ copurchase_weights(data)
    return data, model.probabilities(data, rows, together.toarray()).toarray()


def test_staples_are_likelier_reorders_than_one_off_gifts():
    events = _shop()
    data, chance = _chances(events, NOW)
    items = data.item_ids
    owned = data.baskets.toarray() > 0
    staple = owned & (items < 100)[np.newaxis, :]
    gift = owned & (items >= 100)[np.newaxis, :]
    assert chance[staple].min() > chance[gift].max()
    assert chance[~owned].max() == 0  # never bought: no reorder chance


def test_a_product_due_again_outranks_one_just_bought_on_the_same_rhythm():
    """The "when" of buy again: each customer buys two products every 4 weeks, one last
    bought 3 weeks ago (due in the next 2 weeks), the other 3 days ago. Count and
    recency put the one just bought first; the reorder model, which reads the time
    since the last purchase against the customer's own interval, the due one."""
    rng = np.random.default_rng(7)
    rows = []
    due, just_bought = {}, {}
    for customer in range(200):
        first, second = (int(p) for p in rng.choice(20, size=2, replace=False))
        due[customer], just_bought[customer] = first, second
        for product, last_days in (
            (first, int(rng.integers(19, 26))),
            (second, int(rng.integers(2, 6))),
        ):
            for cycle in range(8):
                when = NOW - timedelta(days=last_days + 28 * cycle)
                rows.append((customer, product, "purchase", f"{customer}-{product}-{cycle}", when))
    events = EventRows.from_tuples(rows)
    data, chance = _chances(events, NOW)
    ahead = [
        chance[data.user_index[c], data.item_index[due[c]]]
        > chance[data.user_index[c], data.item_index[just_bought[c]]]
        for c in due
    ]
    assert np.mean(ahead) > 0.9
    # Re-recommending by count and recency ranks them the other way round.
    ages = data.last_purchase_age.toarray()
    assert all(
        ages[data.user_index[c], data.item_index[due[c]]]
        > ages[data.user_index[c], data.item_index[just_bought[c]]]
        for c in due
    )


def test_the_compiled_trees_give_scikit_learns_predictions():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from saleor_personalization.recommender.reorder import DEPTH, compile_trees

    rng = np.random.default_rng(11)
    features = rng.standard_normal((3000, 6))
    features[:, 2] = rng.integers(0, 3, 3000)  # ties at the thresholds
    labels = features[:, 0] * features[:, 1] + features[:, 2] > 0.5
    fitted = HistGradientBoostingClassifier(
        max_iter=25, max_depth=DEPTH, max_leaf_nodes=2**DEPTH, min_samples_leaf=40
    ).fit(features, labels)
    model = compile_trees(fitted, np.zeros((1, 7)))
    unseen = rng.standard_normal((500, 6))
    unseen[:, 2] = rng.integers(0, 3, 500)
    assert np.allclose(model.log_odds(unseen), fitted.decision_function(unseen), atol=1e-9)
    assert model.log_odds(unseen[:0]).shape == (0,)


def test_training_histories_are_those_of_build_interactions():
    events = _shop()
    items = np.unique(events.products)[::2]  # some products are not the model's
    purchases = events.purchases()
    cols = _columns_of(items, purchases.products)
    cut = NOW - timedelta(weeks=6)
    lean = purchase_history(purchases, cols, cut, items)
    full = build_interactions(events, as_of=cut, item_ids=items)
    full_rows = [full.user_index[int(u)] for u in lean.user_ids]
    for name in ("baskets", "last_purchase_age", "first_purchase_age"):
        expected = getattr(full, name)[full_rows].toarray()
        assert np.allclose(getattr(lean, name).toarray(), expected), name
    assert np.array_equal(lean.orders, full.orders[full_rows])


def test_first_purchases_and_orders_are_counted_per_customer():
    events = EventRows.from_tuples(
        [
            (1, 10, "purchase", "a", NOW - timedelta(days=40)),
            (1, 11, "purchase", "a", NOW - timedelta(days=40)),
            (1, 10, "purchase", "b", NOW - timedelta(days=10)),
            (1, 10, "view", "", NOW - timedelta(days=2)),
            (2, 11, "purchase", "c", NOW - timedelta(days=3)),
        ]
    )
    data = build_interactions(events, as_of=NOW)
    one, ten = data.user_index[1], data.item_index[10]
    assert data.first_purchase_age[one, ten] == pytest.approx(41.0)  # days + 1
    assert data.last_purchase_age[one, ten] == pytest.approx(11.0)
    assert data.orders.tolist() == [2.0, 1.0]


def test_too_few_reorders_to_learn_from_gives_no_model():
    events = _shop()
    recent = events.before(NOW - timedelta(weeks=18))
    cut = NOW - timedelta(weeks=10)
    data = build_interactions(recent, as_of=cut, item_ids=np.unique(events.products))
    # Two weeks of history before the cut-off and none after it: nothing to learn.
    assert fit_reorder(recent, data, 2, ModelParams()) is None


@pytest.mark.django_db  # the default feature source reads the profile tables
def test_the_reorder_model_travels_with_the_artifact():
    from dataclasses import replace

    from saleor_personalization.recommender.artifact import deserialise, serialise
    from saleor_personalization.recommender.model import ModelParams
    from saleor_personalization.recommender.training import fit_model

    params = ModelParams()
    params = replace(params, factorisation=replace(params.factorisation, epochs=2))
    model, _ = fit_model(_shop(), NOW, params)
    assert model.reorder is not None
    loaded = deserialise(*serialise(model))
    for name, array in model.reorder.as_arrays().items():
        assert np.array_equal(loaded.reorder.as_arrays()[name], array), name
    # An artifact written before the reorder model still loads, with the fixed signal.
    old = deserialise(*serialise(replace(model, reorder=None)))
    assert old.reorder is None
    # ...and so does one with the logistic regression of earlier versions.
    from saleor_personalization.recommender.reorder import ReorderModel

    logistic = {"reorder_coefficients": np.zeros(10), "reorder_mean": np.zeros(9)}
    assert ReorderModel.from_arrays(logistic) is None


def test_a_run_says_when_buy_again_does_not_use_the_reorder_model():
    from saleor_personalization.recommender.report import reorder_unused

    used = {"reorder_model": True, "tuning": {"all": {"weights": {"repeat": 2.0}}}}
    assert reorder_unused(used) == ""
    unweighted = {"reorder_model": True, "tuning": {"all": {"weights": {"repeat": 0.0}}}}
    assert "got no weight" in reorder_unused(unweighted)
    assert "too few reorders" in reorder_unused({"reorder_model": False})
    assert reorder_unused({}) == ""  # a run from before the reorder model says nothing


def test_a_recent_purchase_stays_on_buy_again_when_the_customer_reorders_it():
    """Left out for 30 days after a purchase unless reordered: by customers in general
    (the product's rate) or by this customer (bought in two or more orders)."""
    from saleor_personalization.recommender.ranking import hide_recent_purchases

    events = EventRows.from_tuples(
        [
            (1, 10, "purchase", "a", NOW - timedelta(days=60)),
            (1, 10, "purchase", "b", NOW - timedelta(days=5)),  # their own reorder
            (1, 11, "purchase", "b", NOW - timedelta(days=5)),  # bought once, just now
            (1, 12, "purchase", "c", NOW - timedelta(days=40)),  # bought once, long ago
            (2, 11, "purchase", "d", NOW - timedelta(days=3)),
        ]
    )
    data = build_interactions(events, as_of=NOW)
    rows = np.arange(data.shape[0])
    scores = np.zeros(data.shape, dtype=np.float32)
    hide_recent_purchases(scores, data, rows, np.zeros(data.shape[1], dtype=bool), 30)
    first = scores[data.user_index[1]]
    shown = {int(data.item_ids[k]) for k in np.flatnonzero(np.isfinite(first))}
    assert {10, 12} <= shown
    assert 11 not in shown
    # A product customers reorder stays for everyone.
    scores = np.zeros(data.shape, dtype=np.float32)
    reorder = data.item_ids == 11
    hide_recent_purchases(scores, data, rows, reorder, 30)
    assert np.isfinite(scores[:, data.item_index[11]]).all()
