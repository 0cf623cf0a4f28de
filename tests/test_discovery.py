"""*For you* is tuned on the list shoppers get: new products compete, first buyers count."""

import io
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from saleor_personalization.features.matrices import FeatureSource
from saleor_personalization.recommender.artifact import deserialise, serialise
from saleor_personalization.recommender.data import EventRows
from saleor_personalization.recommender.evaluation import list_quality, make_holdout
from saleor_personalization.recommender.model import BlendWeights, ModelParams
from saleor_personalization.recommender.ranking import NewProducts, rank, top_columns
from saleor_personalization.recommender.training import (
    first_buyer_vector,
    fit_model,
    history_as_of,
    tune_weights,
    weight_grid,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _purchase(customer: int, product: int, days_ago: float, order: str):
    return (customer, product, "purchase", order, NOW - timedelta(days=days_ago))


def test_first_buyers_count_customers_whose_first_purchase_fell_in_the_window():
    events = EventRows.from_tuples(
        [
            _purchase(1, 10, 3, "a"),  # first purchase of 10 in the window
            _purchase(1, 10, 2, "b"),  # ...and again: still one first buyer
            _purchase(2, 10, 40, "c"),  # first bought before the window...
            _purchase(2, 10, 5, "d"),  # ...so this is a reorder, not a discovery
            _purchase(3, 11, 40, "e"),  # outside the window
            _purchase(4, 12, 1, "f"),
            _purchase(5, 12, 6, "g"),
            _purchase(6, 12, -1, "h"),  # after as_of: not known yet
            _purchase(7, 99, 1, "i"),  # a product the model does not have
            (8, 11, "view", "", NOW - timedelta(days=1)),  # a view is no purchase
        ]
    )
    counts = first_buyer_vector(events, np.array([12, 10, 11]), NOW, days=14)
    assert counts.tolist() == [2.0, 1.0, 0.0]


def test_discovery_weights_can_count_first_buyers_and_buy_again_does_not():
    assert {w.first_buyers for w in weight_grid("all")} == {0.0}
    assert max(w.first_buyers for w in weight_grid("new")) > 0
    # Runs stored before the component load with it switched off.
    assert BlendWeights.from_dict({"repeat": 1.0}).first_buyers == 0.0


GROUPS, PER_GROUP, FRESH_PER_GROUP, CUSTOMERS = 4, 20, 3, 80


def _shop():
    """Customers who buy within one group of products (a word all its products share).

    Each group gets ``FRESH_PER_GROUP`` products first sold in the last 4 weeks, bought
    by the group's customers: to a model fitted before that window they are unknown,
    as products created after training are to a live model.
    """
    rng = np.random.default_rng(11)
    rows, group_of = [], {}
    for group in range(GROUPS):
        old = [group * PER_GROUP + k for k in range(PER_GROUP - FRESH_PER_GROUP)]
        fresh = [group * PER_GROUP + k for k in range(PER_GROUP - FRESH_PER_GROUP, PER_GROUP)]
        for product in old + fresh:
            group_of[product] = group
        for customer in range(group, CUSTOMERS, GROUPS):
            for visit in range(6):
                days = float(rng.uniform(1, 150))
                pool = old + (fresh if days < 28 else [])
                for product in rng.choice(pool, size=3, replace=False):
                    rows.append(_purchase(customer, int(product), days, f"{customer}-{visit}"))
    features = FeatureSource(
        items=lambda ids: [[f"item:{int(i)}", f"word:g{group_of[int(i)]}"] for i in ids],
        customers=lambda ids: [[f"user:{int(c)}"] for c in ids],
    )
    return EventRows.from_tuples(rows), features


def _bought_by(events: EventRows) -> dict[int, set[int]]:
    bought = defaultdict(set)
    purchases = events.purchases()
    for customer, product in zip(purchases.customers, purchases.products, strict=True):
        bought[int(customer)].add(int(product))
    return bought


def test_tuning_judges_for_you_with_the_windows_new_products_as_they_are_served():
    """The figure tuning records for the weights it chose is the NDCG of the lists
    :func:`rank` serves, products first sold in the window ranked among the rest from
    their features and their purchases counted; tuning once left them out of both."""
    events, features = _shop()
    params = ModelParams.from_dict(
        {"epochs": 10, "components": 8, "threads": 1, "holdout_weeks": 4, "seed": 3}
    )
    cut = NOW - timedelta(weeks=4)
    model, data = fit_model(events, cut, params, features=features)
    holdout = make_holdout(data, events.between(cut, NOW))
    assert len(holdout.cold_item_ids) > GROUPS * FRESH_PER_GROUP // 2  # bought in the window
    _, weights_new, details = tune_weights(
        model, holdout, events=events, features=features, max_users=10_000
    )

    rows = np.array(sorted(set(holdout.truth) | set(holdout.cold_truth)))
    users = data.user_ids[rows]
    history = history_as_of(model, events, cut, users)
    new = NewProducts.from_features(
        model, holdout.cold_item_ids, features.items(holdout.cold_item_ids)
    )
    served_model = replace(model, weights_new=weights_new)
    ranked = rank(served_model, history, np.arange(len(users)), features.customers(users), new=new)
    lists = {
        int(user): [int(ranked.item_ids[c]) for c in cols]
        for user, cols in zip(users, top_columns(ranked.for_you, 10), strict=True)
    }
    bought, owned = _bought_by(events.between(cut, NOW)), _bought_by(events.before(cut))
    truth = {int(u): bought[int(u)] for u in users}
    served = list_quality(lists, truth, catalogue=len(ranked.item_ids), owned=owned)

    assert details["new"]["ndcg"] == pytest.approx(served.mean, abs=1e-4)
    fresh = set(holdout.cold_item_ids.tolist())
    assert any(fresh & set(top) for top in lists.values())  # new products were listed


def test_first_buyers_are_stored_with_the_model_and_older_runs_load_without_them():
    events, features = _shop()
    params = ModelParams.from_dict({"epochs": 2, "components": 4, "threads": 1})
    model, _ = fit_model(events, NOW, params, features=features)
    assert model.first_buyers.sum() > 0
    blob, manifest = serialise(model)
    np.testing.assert_array_equal(deserialise(blob, manifest).first_buyers, model.first_buyers)

    with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
        older = {name: arrays[name] for name in arrays.files if name != "first_buyers"}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **older)
    loaded = deserialise(buffer.getvalue(), manifest)
    assert not loaded.first_buyers.any()
    assert len(loaded.first_buyers) == len(loaded.item_ids)
    parts = loaded.components(
        history_as_of(loaded, events, NOW, loaded.user_ids[:3]), None, np.arange(3)
    )
    assert not parts["first_buyers"].any()  # a flat row: it changes no ranking


def test_new_products_find_the_known_products_with_their_features_as_neighbours():
    """A new product is compared with known products' vectors made as its own is, from
    shared features: a variant with a known product's features finds that product first,
    which the known products' full vectors (their own id's embedding in them) missed."""
    events, _ = _shop()
    words = lambda i: [f"word:g{int(i) // PER_GROUP}", f"word:p{int(i)}"]  # noqa: E731
    features = FeatureSource(
        items=lambda ids: [[f"item:{int(i)}", *words(i)] for i in ids],
        customers=lambda ids: [[f"user:{int(c)}"] for c in ids],
    )
    params = ModelParams.from_dict({"epochs": 10, "components": 8, "threads": 1, "seed": 3})
    model, _ = fit_model(events, NOW, params, features=features)
    known = model.item_ids[:30]
    variants = NewProducts.from_features(
        model, known + 10_000, [[f"item:{int(i) + 10_000}", *words(i)] for i in known]
    )
    np.testing.assert_allclose(model.item_feature_vectors[:30], variants.vectors, rtol=1e-6)
    nearest, strengths = model.feature_neighbours(variants.vectors)
    first = nearest[np.arange(30), strengths.argmax(axis=1)]
    np.testing.assert_array_equal(first, np.arange(30))

    blob, manifest = serialise(model)
    np.testing.assert_array_equal(
        deserialise(blob, manifest).item_feature_vectors, model.item_feature_vectors
    )
    older = replace(model, item_feature_vectors=None)  # a run stored before them
    nearest, _ = older.feature_neighbours(variants.vectors)
    assert nearest.shape == (30, 10)
