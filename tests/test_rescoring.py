"""Rescoring after an order: one customer's lists, as a scoring of the whole log writes them.

The rescoring reads the customer's own events and takes other customers' purchases (the
links behind "Because you bought X") from the process's copy of them
(:class:`~saleor_personalization.recommender.data.PurchaseLog`); the lists it writes
must be those of the path that reads the whole log (``pipeline.score_lists``), on the
same data at the same time, also for orders recorded after the copy was read.
"""

import re
import time
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from saleor_personalization.events.recording import record_order
from saleor_personalization.events.types import LineSnapshot, OrderSnapshot
from saleor_personalization.models import (
    Interaction,
    InteractionKind,
    ListKind,
    ModelRun,
    RecommendationList,
    SubjectType,
)
from saleor_personalization.recommender.data import EventRows, PurchaseLog, purchase_log
from saleor_personalization.recommender.lists import (
    JsonTexts,
    RankedChunk,
    scoring_context,
    with_log_buyers,
)
from saleor_personalization.recommender.pipeline import (
    live_model,
    score_lists,
    start_run,
    train_run,
)
from saleor_personalization.services.scoring import score_customers

from .shop import CHANNEL, END, FAST, build_shop, trained_shop
from .worker import celery_worker

pytestmark = pytest.mark.django_db

KINDS = (ListKind.PERSONAL, ListKind.BUY_AGAIN)
WHEN = END + timedelta(days=1)


@pytest.fixture
def live(media):
    return trained_shop()


def _order(order_id: str, customer_id: int, products: list[int], at) -> None:
    """An order recorded as the order hook's task records it."""
    record_order(_snapshot(order_id, customer_id, products, at))


def _snapshot(order_id: str, customer_id: int, products: list[int], at) -> OrderSnapshot:
    return OrderSnapshot(
        order_id=order_id,
        channel=CHANNEL,
        occurred_at=at,
        customer_id=customer_id,
        currency="USD",
        lines=tuple(
            LineSnapshot(product_id=p, variant_id=None, quantity=1, unit_price=Decimal(5))
            for p in products
        ),
    )


def _rows(customer_id: int) -> dict[str, RecommendationList]:
    return {
        row.kind: row
        for row in RecommendationList.objects.filter(
            kind__in=KINDS, subject_type=SubjectType.CUSTOMER, subject_id=customer_id
        )
    }


def _written(customer_id: int) -> dict[str, tuple]:
    """Both personal lists as written: entries (scores and reasons) and the run."""
    return {kind: (row.ranked(), row.model_run_id) for kind, row in _rows(customer_id).items()}


def _owned(customer_id: int) -> set[int]:
    return set(
        Interaction.objects.filter(
            customer_id=customer_id, kind=InteractionKind.PURCHASE
        ).values_list("product_id", flat=True)
    )


def test_rescoring_a_customer_writes_the_lists_a_scoring_of_the_whole_log_writes(live):
    # Scored as of a time when fewer products shared a buyer, so that other customers'
    # orders decide some links.
    when = END - timedelta(weeks=16)
    customers = [1, 2, 3, 100, 200]
    assert score_customers([customers[0]], now=when) == 1  # the process reads its copy here
    # Orders recorded after that read, placed before the scoring time: one of a scored
    # customer, one of another customer who buys what customer 3 owns.
    _order("late-2", 2, sorted(_owned(1))[:3], when - timedelta(hours=2))
    _order("late-7", 7, sorted(_owned(3))[:4], when - timedelta(hours=3))

    full, fast = {}, {}
    for customer in customers:
        score_lists(customer_ids=[customer], now=when, product_lists=False)  # the whole log
        full[customer] = _written(customer)
        written_at = {kind: row.generated_at for kind, row in _rows(customer).items()}
        assert score_customers([customer], now=when) == 1
        assert all(row.generated_at > written_at[kind] for kind, row in _rows(customer).items())
        fast[customer] = _written(customer)
    assert set(fast[1]) == set(KINDS)
    assert fast == full
    reasons = [
        entry.reason
        for lists in full.values()
        for entries, _ in lists.values()
        for entry in entries
    ]
    # Not vacuous: the lists name the links that depend on other customers' purchases.
    assert sum(reason.startswith("Because you bought") for reason in reasons) >= 5
    assert "You bought this before" in reasons


def test_a_chunk_of_every_customer_writes_what_the_whole_log_scoring_writes(live):
    ids = sorted(
        Interaction.objects.filter(customer_id__isnull=False)
        .values_list("customer_id", flat=True)
        .distinct()
    )
    score_lists(customer_ids=ids, now=WHEN, product_lists=False)
    full = {customer: _written(customer) for customer in ids}
    assert score_customers(ids, now=WHEN) == len(ids)
    assert {customer: _written(customer) for customer in ids} == full


def _shared_buyer_pairs(model, events: EventRows) -> np.ndarray:
    """Whether some customer bought both products, for every pair of the model's
    products (columns), from ``events`` as read: the definition, spelled out."""
    purchases = events.purchases()
    column = {int(p): k for k, p in enumerate(model.item_ids)}
    bought = np.zeros((len(model.item_ids), len(purchases)), dtype=bool)
    customers = {int(c): k for k, c in enumerate(np.unique(purchases.customers))}
    for customer, product in zip(purchases.customers, purchases.products, strict=True):
        if int(product) in column:
            bought[column[int(product)], customers[int(customer)]] = True
    counts = bought.astype(np.int64) @ bought.T.astype(np.int64)
    return counts > 0


def test_links_come_from_orders_recorded_after_the_copy_was_read(live):
    """At a time when few pairs had a shared buyer, a late-recorded order of another
    customer makes one: the copy catches up, and whether an owned product shares a
    buyer with any product is what every customer's orders say."""
    run, model = live_model()
    early = END - timedelta(weeks=20)
    log = purchase_log(model.item_ids, run.pk)
    customer = (
        Interaction.objects.filter(occurred_at__lt=early, customer_id__isnull=False)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .first()
    )
    ctx = scoring_context(model, EventRows.for_scoring([customer], until=early), [customer], early)
    owned = np.unique(ctx.history.baskets.indices)
    before = _shared_buyer_pairs(model, EventRows.from_database(until=early))
    weights = model.copurchase.tocsr()
    pair = next(
        (a, b)
        for a in owned
        for b in weights[a].indices
        if weights[a, b] > 0 and not before[a, b] and b not in owned
    )
    other = next(c for c in range(1, 241) if c != customer)
    products = [int(model.item_ids[k]) for k in pair]
    _order("imported-late", other, products, early - timedelta(hours=1))

    after = _shared_buyer_pairs(model, EventRows.from_database(until=early))
    assert after[pair]  # the order made the link
    buyers = with_log_buyers(ctx, purchase_log(model.item_ids, run.pk)).buyers
    assert purchase_log(model.item_ids, run.pk) is log  # the same copy, caught up
    sources, targets = np.meshgrid(owned, np.arange(len(model.item_ids)), indexing="ij")
    shared = buyers.shared(sources.ravel(), targets.ravel()).reshape(sources.shape)
    assert shared[list(owned).index(pair[0]), pair[1]]
    assert np.array_equal(shared, after[owned])


def test_a_caught_up_copy_equals_a_fresh_read(live):
    _, model = live_model()
    log = PurchaseLog.read(model.item_ids)
    known = [int(p) for p in model.item_ids[:3]]
    # A few orders go into place: a new pair, a pair held already (an earlier first
    # purchase), a customer the copy has not seen, a product the model does not know.
    _order("few-1", 5, known, END - timedelta(weeks=30))
    _order("few-2", 9001, [known[0], 424242], END)
    assert log.catch_up() == 5
    assert 9001 in log.co_buyers([0], until=WHEN)
    _assert_same(log, PurchaseLog.read(model.item_ids))
    # Many rows at once are merged by sorting again.
    Interaction.objects.bulk_create(
        Interaction(
            customer_id=10_000 + k // 3,
            product_id=int(model.item_ids[k % len(model.item_ids)]),
            channel=CHANNEL,
            kind=InteractionKind.PURCHASE,
            basket_ref=f"bulk-{k // 3}",
            occurred_at=END,
            source_key=f"bulk:{k}",
        )
        for k in range(1500)
    )
    assert log.catch_up() == 1500
    _assert_same(log, PurchaseLog.read(model.item_ids))
    # Guests' orders are nobody's purchases here (they feed bought-together lists).
    record_order(
        OrderSnapshot(
            order_id="guest-1",
            channel=CHANNEL,
            occurred_at=END,
            email="guest@example.com",
            lines=(LineSnapshot(product_id=known[1], variant_id=None, quantity=1),),
        )
    )
    assert log.catch_up() == 0


def _assert_same(log: PurchaseLog, fresh: PurchaseLog) -> None:
    assert log.last_pk == fresh.last_pk
    assert np.array_equal(log.customers, fresh.customers)
    assert np.array_equal(log.cols, fresh.cols)
    assert np.array_equal(log.first, fresh.first)


def test_an_order_rescores_the_customers_lists_without_training(live):
    """Through the order task as the hook queues it (eager Celery in this process)."""
    from saleor_personalization.tasks.events import record_order_task

    customer = 11
    assert score_customers([customer]) == 1
    before = _rows(customer)
    entries = before[ListKind.PERSONAL].ranked()
    bought = [entries[0].product_id, entries[1].product_id]  # "for you": never bought
    assert not set(bought) & _owned(customer)
    runs = ModelRun.objects.count()

    payload = _snapshot("o-11", customer, bought, timezone.now()).to_payload()
    assert record_order_task.apply(args=[payload]).get() == 2

    after = _rows(customer)
    assert ModelRun.objects.count() == runs  # no training
    for kind in KINDS:
        assert after[kind].generated_at > before[kind].generated_at
    # Bought now, they are no discovery any more; they were just bought and are no
    # reorder products either (the recent-purchase rule).
    assert not set(bought) & {e.product_id for e in after[ListKind.PERSONAL].ranked()}
    assert after[ListKind.PERSONAL].ranked() != entries


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_rescores_once_for_orders_in_quick_succession(tmp_path, media):
    """The order task on a real worker queues one debounced rescoring, seconds later."""
    build_shop()
    assert train_run(start_run(FAST)).is_live
    customer = 12
    assert score_customers([customer]) == 1
    before = _rows(customer)
    entries = before[ListKind.PERSONAL].ranked()
    first, second = entries[0].product_id, entries[1].product_id
    runs = ModelRun.objects.count()

    # Unbuffered, so the pool processes' log lines are in the file when it is read.
    with celery_worker(tmp_path, env={"PYTHONUNBUFFERED": "1"}) as client:
        for order, product in (("w-1", first), ("w-2", second)):
            payload = _snapshot(order, customer, [product], timezone.now()).to_payload()
            client.send_task("saleor_personalization.record_order", args=[payload]).get(timeout=180)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            after = _rows(customer)
            if all(after[kind].generated_at > before[kind].generated_at for kind in KINDS):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the list was not rescored within 180 s")
        time.sleep(2)  # a second rescoring, were one queued, would have run by now

    log = (tmp_path / "worker.log").read_text()
    done = re.findall(r"Task saleor_personalization\.rescore_customer\[[^]]+\] succeeded", log)
    assert len(done) == 1, log[-3000:]
    assert ModelRun.objects.count() == runs
    served = {e.product_id for e in _rows(customer)[ListKind.PERSONAL].ranked()}
    assert not {first, second} & served


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_lists_json_text_is_what_its_entries_serialise_to(dtype):
    """The writer's JSON from a chunk's blocks and ListEntry.to_json (what serving reads
    back) agree, to the character, on scores at the edges of their formatting."""
    import json

    from saleor_personalization.recommender.lists import _entry

    edges = [0, -0.0, 1e-5, -1e-5, 5e-6, -5e-6, 1.5e-5, 2.5e-5, 9.5e-5, 1e-4, 0.5, 1.0]
    edges += [1.234567891, -0.5, 2e-7, 999.99999, 1000.0, 123456.7, 1e10, 1e15, 3e38]
    rng = np.random.default_rng(0)
    scores = np.concatenate(
        [np.array(edges), rng.standard_normal(3000) * np.repeat([1e-4, 1.0, 1e3], 1000)]
    ).astype(dtype)
    width = 20
    scores = scores[: len(scores) // width * width].reshape(-1, width)
    columns = rng.integers(0, 3, scores.shape)
    codes = rng.integers(0, 5, scores.shape)
    texts = np.array(
        [
            "New in the shop",
            "You bought this before",
            "Trending now",
            "Picked for you",
            'Because you bought "Tea" \\ Co',
        ],
        dtype=object,
    )
    lengths = rng.integers(0, width + 1, len(scores))
    lengths[0] = width
    chunk = RankedChunk(columns, lengths, scores, codes, texts)
    item_ids = np.array([7, 12, 3])
    for row, text in enumerate(JsonTexts(item_ids).rows(chunk)):
        expected = [
            _entry(item_ids[c], float(score), texts[code], is_new=code == 0).to_json()
            for c, score, code in zip(
                columns[row, : lengths[row]],
                scores[row, : lengths[row]],
                codes[row, : lengths[row]],
                strict=True,
            )
        ]
        assert text == json.dumps(expected)
