"""Scoring: write the precomputed lists from the live model.

Product and shop-wide lists (bestsellers, trending, bought together, similar, reorder)
are written at once; personal lists either in this process (a command) or fanned out
in chunks of customers to workers (the task), which several workers can take in
parallel. Writes are upserts on each list's unique key, so a retried chunk changes
nothing twice. List length and the recent-purchase rule come from the one
configuration, whoever asks for the scoring.
"""

import logging
from datetime import datetime

import numpy as np
from celery.result import AsyncResult
from django.utils import timezone

from ..models import Interaction
from ..recommender.data import EventRows, purchase_log
from ..recommender.lists import (
    ListOptions,
    scoring_context,
    write_personal_lists,
)
from ..recommender.pipeline import changed_customers, live_model, score_lists
from ..shop import get_shop
from .queueing import SCORE_CUSTOMERS, task_named

logger = logging.getLogger(__name__)

SCORE_CHUNK = 2000


def list_options() -> ListOptions:
    """List length and recent-purchase window as the admin set them."""
    config, _ = get_shop().configuration.load()
    return ListOptions(size=config.list_size, recently_bought_days=config.recently_bought_days)


def scoring_time(value: str | datetime | None = None) -> datetime:
    """One reference time per scoring run, so a retried chunk computes the same lists."""
    if isinstance(value, datetime):
        return value
    if value:
        return datetime.fromisoformat(value)
    return timezone.now()


def _all_customers() -> list[int]:
    return sorted(
        Interaction.objects.filter(customer_id__isnull=False)
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )


def score_all(
    run_id: int | None = None,
    changed_only: bool = False,
    *,
    now: datetime | None = None,
    inline: bool = False,
) -> dict[str, int]:
    """Every list from the live model; personal ones for everyone or for who changed.

    ``run_id``: the run this scoring is for (after a promotion or rollback); if another
    run is live by now, its own scoring covers personal lists and they are not queued.
    ``changed_only``: personal lists only for customers whose data changed since their
    list was written (or whose list came from another model).
    ``inline``: personal lists in this process (commands); else chunks go to workers.
    """
    options = list_options()
    now = scoring_time(now)
    with get_shop().database.writer():
        loaded = live_model()
        if loaded is None:
            customers: list[int] = []  # nothing to score them with: bestsellers are served
        elif run_id is not None and loaded[0].pk != run_id:
            customers = []
        else:
            customers = changed_customers() if changed_only else _all_customers()
        if inline:
            return score_lists(options=options, customer_ids=customers, now=now)
        # Product and shop-wide lists only: personal lists are the chunks' work.
        written = score_lists(
            options=options, customer_ids=[], now=now, events=EventRows.from_tuples([])
        )
    if loaded is None or not customers:
        written["personal_chunks"] = 0
        return written
    written["personal_chunks"] = len(queue_personal_lists(customers, loaded[0].pk, now))
    return written


def queue_personal_lists(
    customers: list[int], run_id: int, now: datetime, chunk: int = SCORE_CHUNK
) -> list[AsyncResult]:
    """Chunks of ``customers`` queued for the workers, one scoring task each."""
    score_customers_task = task_named(SCORE_CUSTOMERS)
    return [
        score_customers_task.apply_async(
            args=[customers[start : start + chunk]],
            kwargs={"run_id": run_id, "now": now.isoformat()},
        )
        for start in range(0, len(customers), chunk)
    ]


def score_customers(
    customer_ids: list[int], run_id: int | None = None, now: str | datetime | None = None
) -> int:
    """Personal lists for these customers from the live model (none if it changed).

    Reads only these customers' events. The other data their lists depend on, which
    products some customer bought together (the links behind "Because you bought X"),
    comes from the process's copy of every customer's purchases
    (:func:`~..recommender.data.purchase_log`), and only for the products these
    customers own. The lists are those a scoring over the whole log writes; one
    customer's rescoring after an order takes milliseconds instead of seconds.
    A customer named twice is scored once: one chunk's rows are upserted by one
    statement, which may write a row once.
    """
    customer_ids = list(dict.fromkeys(int(customer) for customer in customer_ids))
    with get_shop().database.writer():
        loaded = live_model()
        if loaded is None:
            return 0
        run, model = loaded
        if run_id is not None and run.pk != run_id:
            return 0  # a newer promotion scores everyone again
        when = scoring_time(now)
        events = EventRows.for_scoring(customer_ids, until=when)
        log = purchase_log(model.item_ids, run.pk)
        ctx = scoring_context(model, events, customer_ids, when, log=log)
        return write_personal_lists(run, ctx, np.arange(len(customer_ids)), list_options(), when)


def rescore_customer(customer_id: int) -> int:
    """One customer's personal list from the live model, now (after an order, say).

    The same scoring as a training run's, on the customer's history as it is now: what
    they just bought counts toward their neighbours and leaves the list (unless it is a
    product customers reorder). No training; the live model's artifact and the copy of
    every customer's purchases are loaded once per worker process, so this reads one
    customer's events (``benchmarks/rescore.py``: milliseconds on Online Retail).
    """
    return score_customers([int(customer_id)])


def place_new_products(product_ids: list[int]) -> int:
    """Neighbours for products created or changed since the live model was trained.

    Each gets an embedding from its features (words, category, type, attributes, price
    band) and its nearest products, and joins their similar lists and neighbour rows
    where it is close enough, so it is recommended before the next training. Products
    the model was trained on keep their trained neighbours.
    """
    from ..recommender.neighbours import place_new_product

    with get_shop().database.writer():
        loaded = live_model()
        if loaded is None:
            return 0
        run, model = loaded
        config, _ = get_shop().configuration.load()
        placed = 0
        for product_id in product_ids:
            if place_new_product(run, model, int(product_id), size=config.list_size):
                placed += 1
        return placed
