"""The learned reorder model behind the *buy again* list."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from saleor_personalization.recommender.components import popularity, repeat_rate
from saleor_personalization.recommender.data import EventRows, build_interactions
from saleor_personalization.recommender.reorder import fit_reorder

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


def test_staples_are_likelier_reorders_than_one_off_gifts():
    events = _shop()
    items = np.unique(events.products)
    model = fit_reorder(events, NOW, 2, items, decay_days=180.0)
    assert model is not None
    data = build_interactions(events, as_of=NOW, item_ids=items)
    rows = np.arange(data.shape[0])
    chance = model.probabilities(data, rows, repeat_rate(data), popularity(data)).toarray()
    owned = data.baskets.toarray() > 0
    staple = owned & (items < 100)[np.newaxis, :]
    gift = owned & (items >= 100)[np.newaxis, :]
    assert chance[staple].min() > chance[gift].max()
    assert chance[~owned].max() == 0  # never bought: no reorder chance


def test_too_few_reorders_to_learn_from_gives_no_model():
    events = _shop()
    recent = events.before(NOW - timedelta(weeks=18))
    items = np.unique(events.products)
    # Two weeks of history before the cut-off and none after it: nothing to learn.
    assert fit_reorder(recent, NOW - timedelta(weeks=10), 2, items, decay_days=180.0) is None


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
    assert np.array_equal(loaded.reorder.coefficients, model.reorder.coefficients)
    assert np.array_equal(loaded.reorder.scale, model.reorder.scale)
    # An artifact written before the reorder model still loads, with the fixed signal.
    old = deserialise(*serialise(replace(model, reorder=None)))
    assert old.reorder is None


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
