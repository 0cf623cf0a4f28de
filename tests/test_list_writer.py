"""The list writer's fast path writes what the straight path says, entry by entry.

The writer explains a chunk of customers with array operations, makes each row's JSON
from arrays and upserts a chunk through a staging table. These tests hold it to the
plain definitions: ``personal_lists`` (ranked entries, ``ListEntry.to_json``) for what
is written, and the reason rule of :class:`~saleor_personalization.recommender.lists.
ReasonWriter` applied one entry at a time for why.
"""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest

from saleor_personalization.models import (
    ItemProfile,
    ListKind,
    RecommendationList,
    SubjectType,
)
from saleor_personalization.recommender.data import EventRows, purchase_log
from saleor_personalization.recommender.lists import (
    BECAUSE_YOU_BOUGHT,
    BOUGHT_BEFORE,
    NEW_IN_SHOP,
    PICKED,
    TRENDING,
    ListOptions,
    OwnedNames,
    personal_lists,
    ranked_personal_lists,
    scoring_context,
    write_personal_lists,
)
from saleor_personalization.recommender.model import COMPONENTS, BlendWeights
from saleor_personalization.recommender.pipeline import live_model
from saleor_personalization.recommender.ranking import rank
from saleor_personalization.services.scoring import score_customers

from .shop import END, trained_shop

pytestmark = pytest.mark.django_db

WHEN = END + timedelta(days=1)


@pytest.fixture
def live(media):
    run = trained_shop()
    # A product created since training: "New in the shop" entries, scored from features.
    ItemProfile.objects.create(
        product_id=999,
        name="Green teapot deluxe",
        category_id=1,
        category_path=["Kitchen", "Teapot"],
        product_type="Teapot",
        price_amount=Decimal(9),
        currency="USD",
        created_at=END,
    )
    return run


def _context(customers: list[int], *, from_log: bool):
    run, model = live_model()
    if from_log:
        events = EventRows.for_scoring(customers, until=WHEN)
        return scoring_context(
            model, events, customers, WHEN, log=purchase_log(model.item_ids, run.pk)
        )
    return scoring_context(model, EventRows.from_database(until=WHEN), customers, WHEN)


def _written() -> dict[tuple[str, int], list[dict]]:
    return {
        (row.kind, row.subject_id): row.entries
        for row in RecommendationList.objects.filter(
            kind__in=ListKind.per_customer(), subject_type=SubjectType.CUSTOMER
        )
    }


@pytest.mark.parametrize("customers", [240, 7], ids=["dense links", "sparse links"])
def test_written_rows_are_the_straight_paths_entries(live, customers):
    """Chunks of uneven size, rows upserted twice (the second time over existing rows)."""
    ids = list(range(1, customers + 1))
    ctx = _context(ids, from_log=True)
    rows = np.arange(len(ids))
    options = ListOptions(chunk=70)
    names = OwnedNames().of(ctx, rows)
    expected = {}
    # Chunk by chunk as the writer goes: float32 sums, and so the fifth decimal of a
    # score, may depend on how many customers are scored together.
    for start in range(0, len(rows), options.chunk):
        for lists in personal_lists(ctx, rows[start : start + options.chunk], options, names):
            customer = lists.customer_id
            expected[(ListKind.PERSONAL, customer)] = [e.to_json() for e in lists.for_you]
            expected[(ListKind.BUY_AGAIN, customer)] = [e.to_json() for e in lists.buy_again]
    assert any(e.get("new") for entries in expected.values() for e in entries)
    for _ in range(2):
        assert write_personal_lists(live, ctx, rows, options, WHEN) == len(ids)
        assert _written() == expected
    assert set(
        RecommendationList.objects.filter(kind__in=ListKind.per_customer()).values_list(
            "model_run", flat=True
        )
    ) == {live.pk}


def _links(model, events: EventRows) -> np.ndarray:
    """The co-purchase weights (float32) of pairs of products some customer bought both
    of in ``events``, zero elsewhere: the links "Because you bought X" may name."""
    purchases = events.purchases()
    column = {int(p): k for k, p in enumerate(model.item_ids)}
    customers = {int(c): k for k, c in enumerate(np.unique(purchases.customers))}
    bought = np.zeros((len(model.item_ids), len(customers)), dtype=np.int64)
    for customer, product in zip(purchases.customers, purchases.products, strict=True):
        if int(product) in column:
            bought[column[int(product)], customers[int(customer)]] = 1
    shared = (bought @ bought.T) > 0
    return np.where(shared, model.copurchase.toarray().astype(np.float32), 0)


def _reason(ctx, parts, weights: BlendWeights, row: int, col: int, owned: list[int], names, links):
    """The reason rule for one entry, spelled out."""
    model = ctx.model
    if col >= len(model.item_ids):
        return NEW_IN_SHOP
    if col in owned:
        return BOUGHT_BEFORE
    lifter, lift = None, None
    for name in COMPONENTS:
        weight = np.float32(getattr(weights, name))
        if name == "repeat" or weight <= 0:
            continue
        part = parts[name]
        value = (part[row] if len(part) > 1 else part[0])[col] * weight
        if lift is None or value > lift:
            lifter, lift = name, value
    if lift is None or lift <= 0:
        return PICKED
    if lifter == "copurchase":
        strongest = max(links[x, col] for x in owned) if owned else 0
        if strongest > 0:
            source = next(x for x in owned if links[x, col] == strongest)
            name = names.get(int(model.item_ids[source]), "a product you liked")
            return BECAUSE_YOU_BOUGHT.format(name)
    if lifter == "trend" and model.trend[col] > 0:
        return TRENDING
    if lifter == "first_buyers" and model.first_buyers[col] > 0:
        return TRENDING  # bought for the first time in the trend window: sold in it
    return PICKED


@pytest.mark.parametrize(
    "weights",
    [
        None,
        BlendWeights(repeat=1.0, copurchase=0.0, factorisation=0.3, trend=0.5),
        BlendWeights(repeat=1.0, copurchase=0.2, factorisation=0.3, trend=0.0, first_buyers=2.0),
    ],
    ids=["trained", "no co-purchase weight", "first buyers"],
)
def test_each_reason_is_the_rule_applied_to_its_entry(live, weights):
    ids = list(range(1, 61))
    ctx = _context(ids, from_log=False)
    if weights is not None:
        model = replace(ctx.model, weights_all=weights, weights_new=weights)
        ctx = replace(ctx, model=model)
    rows = np.arange(len(ids))
    names = OwnedNames().of(ctx, rows)
    users = ctx.history.user_ids[rows]
    ranked = rank(ctx.model, ctx.history, rows, ctx.features.customers(users), new=ctx.new)
    column = {int(p): k for k, p in enumerate(ctx.item_ids)}
    owned = ctx.history.baskets.tocsr()
    links = _links(ctx.model, EventRows.from_database(until=WHEN))
    seen = set()
    lists = ranked_personal_lists(ctx, rows, ListOptions(), names)
    for row, (_, for_you, buy_again) in enumerate(lists):
        own = sorted(owned.indices[owned.indptr[row] : owned.indptr[row + 1]].tolist())
        for ranked_list, weighting in (
            (for_you, ctx.model.weights_new),
            (buy_again, ctx.model.weights_all),
        ):
            for product, reason in zip(ranked_list.product_ids, ranked_list.reasons, strict=True):
                col = column[int(product)]
                assert reason == _reason(ctx, ranked.parts, weighting, row, col, own, names, links)
                seen.add(reason.split(" ")[0])
    expected = {"You", "Because", "New"} if weights is None else {"You", "New"}
    if weights is not None and weights.first_buyers:
        expected.add("Trending")  # said of the products first buyers lifted
    assert expected <= seen, seen


def test_a_customer_named_twice_is_scored_once(live):
    """One chunk's rows go in by one statement, which cannot write a row twice."""
    assert score_customers([3, 5, 3], now=WHEN) == 2
    twice = _written()
    assert {subject for _, subject in twice} == {3, 5}
    RecommendationList.objects.all().delete()
    assert score_customers([3, 5], now=WHEN) == 2
    assert _written() == twice


def test_a_chunk_written_at_once_is_each_customers_own_lists_on_the_export_sample(
    online_retail_sample, media
):
    """The real export (its sample), a model fitted on it and the writer's batch path:
    each customer's written rows are the lists ``personal_lists`` ranks and explains
    for that customer alone (same products, order, reasons and new flags; scores to
    their fifth decimal, which float32 sums over a block may move by one unit)."""
    from saleor_personalization.recommender.data import clear_purchase_log
    from saleor_personalization.recommender.factorisation import FactorisationParams
    from saleor_personalization.recommender.model import ModelParams
    from saleor_personalization.recommender.training import fit_model
    from saleor_personalization.standalone.importer import import_order_export

    report = import_order_export(online_retail_sample, channel="c")
    now = report.last_order_at + timedelta(seconds=1)
    params = ModelParams(factorisation=FactorisationParams(components=16, epochs=5, threads=1))
    model, data = fit_model(EventRows.from_database(until=now), now, params)
    # Products created since the model was fitted, each like one the model knows (the
    # ten most bought): "New in the shop" entries.
    counts = np.asarray(data.baskets.sum(axis=0)).ravel()
    for k, column in enumerate(np.argsort(-counts)[:10]):
        twin = ItemProfile.objects.get(product_id=int(data.item_ids[column]))
        twin.product_id, twin.external_ref = 10**9 + k, f"new-{k}"
        twin.created_at = now - timedelta(minutes=1)
        twin.save(force_insert=True)
    customers = [int(c) for c in data.user_ids]
    clear_purchase_log()
    try:
        log = purchase_log(model.item_ids, "export sample")
        events = EventRows.for_scoring(customers, until=now)
        ctx = scoring_context(model, events, customers, now, log=log)
    finally:
        clear_purchase_log()
    rows = np.arange(len(customers))
    options = ListOptions(chunk=150)
    assert len(customers) > options.chunk
    assert write_personal_lists(None, ctx, rows, options, now) == len(customers)
    written = _written()
    names = OwnedNames().of(ctx, rows)
    reasons, listed = set(), 0
    for row, customer in enumerate(customers):
        [alone] = personal_lists(ctx, np.array([row]), options, names)
        for kind, entries in (
            (ListKind.PERSONAL, alone.for_you),
            (ListKind.BUY_AGAIN, alone.buy_again),
        ):
            row_entries = written[(kind, customer)]
            assert [(e["product_id"], e["reason"], e.get("new", False)) for e in row_entries] == [
                (e.product_id, e.reason, e.is_new) for e in entries
            ], (kind, customer)
            assert np.allclose(
                [e["score"] for e in row_entries], [e.score for e in entries], rtol=0, atol=2e-5
            )
            reasons.update(e.reason.split(" ")[0] for e in entries)
            listed += len(entries)
    assert listed > len(customers) * 20
    assert {"You", "Because", "New"} <= reasons, reasons


@pytest.mark.parametrize("width", [1, 7, 16, 50, 51, 400, 3659])
def test_top_columns_are_each_rows_best_by_score_then_column(width):
    """Against the definition: every finite score of a row sorted by score (descending)
    and column, the first ``size``; blocks of ties, -inf and NaN included."""
    from saleor_personalization.recommender.ranking import top_columns

    rng = np.random.default_rng(width)
    scores = rng.standard_normal((40, width)).astype(np.float32)
    scores[:10] = np.round(scores[:10], 1)  # many equal scores
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    scores[10:20][rng.random((10, width)) < 0.9] = -np.inf  # buy again: mostly -inf
    scores[20, : width // 2] = np.nan
    scores[21] = -np.inf
    for size in (0, 1, 10, 50):
        got = top_columns(scores, size)
        for row, cols in zip(scores, got, strict=True):
            finite = [c for c in range(width) if np.isfinite(row[c])]
            expected = sorted(finite, key=lambda c: (-row[c], c))[:size]
            assert cols.tolist() == expected
