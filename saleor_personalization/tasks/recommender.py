"""Training and scoring tasks, and the tick that schedules them from the Dashboard.

Training runs on its own queue (``PERSONALIZATION_TRAINING_QUEUE``) so LightFM never
starves Saleor's webhook and email queues. Personal lists are scored in chunks of
customers that several workers can take in parallel; writes are upserts on each
list's unique key, so a retried chunk changes nothing twice.
"""

import logging
from datetime import datetime, timedelta

import numpy as np
from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from ..conf import get_settings
from ..models import ModelRun, ModelRunStatus
from ..recommender.data import EventRows
from ..recommender.lists import ListOptions, scoring_context, write_personal_lists
from ..recommender.pipeline import (
    changed_customers,
    live_model,
    score_lists,
    start_run,
    train_run,
)
from ..shop import get_shop

logger = logging.getLogger(__name__)

TRAINING_LOCK = "saleor-personalization:training"
SCORE_CHUNK = 2000


def _options() -> ListOptions:
    config, _ = get_shop().configuration.load()
    return ListOptions(size=config.list_size, recently_bought_days=config.recently_bought_days)


@shared_task(
    name="saleor_personalization.train_model", time_limit=4 * 3600, soft_time_limit=3 * 3600
)
def train_model_task(
    run_id: int | None = None, params: dict | None = None, score: bool = True
) -> dict:
    """Train (a queued run, or a new one), evaluate, promote if good, then score lists.

    Scoring follows every run, promoted or not: a promoted run rescores everyone; a
    rejected or failed one still rescores, with the live model, the customers whose
    data changed since their lists were written (and, before any model exists, writes
    the bestseller, trending and bought-together lists a young shop serves). Without
    this a customer's new orders never reached their list while retrains were rejected.

    A cache lock keeps two trainings from running at once (a tick and a manual
    ``train`` mutation, say); the second returns at once.
    """
    if not cache.add(TRAINING_LOCK, "1", timeout=4 * 3600):
        return {"skipped": "another training is running"}
    try:
        with get_shop().database.writer():
            run = ModelRun.objects.get(pk=run_id) if run_id else start_run(params)
            run = train_run(run)
            get_shop().configuration.write_model_status(run)
        if score and run.is_live:
            score_all_task.apply_async(kwargs={"run_id": run.pk})
        elif score:
            score_all_task.apply_async(kwargs={"changed_only": True})
        return {"run": run.pk, "status": run.status, "live": run.is_live}
    finally:
        cache.delete(TRAINING_LOCK)


def scoring_time(value: str | None = None) -> datetime:
    """One reference time per scoring run, so a retried chunk computes the same lists."""
    if value:
        return datetime.fromisoformat(value)
    return timezone.now()


@shared_task(name="saleor_personalization.score_all", time_limit=3 * 3600)
def score_all_task(run_id: int | None = None, changed_only: bool = False) -> dict:
    """Popular, trending and per-product lists here; personal lists fanned out in chunks.

    ``changed_only``: personal lists only for customers whose data changed since their
    list was written (or whose list came from another model).
    """
    with get_shop().database.writer():
        events = EventRows.from_database()
        options = _options()
        now = scoring_time()
        written = score_lists(options=options, customer_ids=[], events=events, now=now)
        loaded = live_model()
        if loaded is None:
            customers = []  # nothing to score them with: serving falls back to bestsellers
        elif changed_only:
            customers = changed_customers()
            run_id = loaded[0].pk
        else:
            customers = sorted(set(map(int, events.customers)))
    for start in range(0, len(customers), SCORE_CHUNK):
        score_customers_task.apply_async(
            args=[customers[start : start + SCORE_CHUNK]],
            kwargs={"run_id": run_id, "now": now.isoformat()},
        )
    written["personal_chunks"] = -(-len(customers) // SCORE_CHUNK)
    return written


@shared_task(name="saleor_personalization.score_customers", time_limit=3600)
def score_customers_task(
    customer_ids: list[int], run_id: int | None = None, now: str | None = None
) -> int:
    """Personal lists for these customers from the live model (skipped if it changed)."""
    with get_shop().database.writer():
        loaded = live_model()
        if loaded is None:
            return 0
        run, model = loaded
        if run_id is not None and run.pk != run_id:
            return 0  # a newer promotion will score everyone again
        when = scoring_time(now)
        events = EventRows.from_database()
        ctx = scoring_context(model, events, customer_ids, when)
        return write_personal_lists(run, ctx, np.arange(len(customer_ids)), _options(), when)


@shared_task(name="saleor_personalization.training_tick")
def training_tick_task() -> dict:
    """Cheap and frequent: start a training when the Dashboard's interval has passed."""
    config, active = get_shop().configuration.load()
    if not active:
        return {"skipped": "plugin inactive"}
    if not config.training_interval_hours:
        return {"skipped": "scheduled training is off"}
    with get_shop().database.writer():
        latest = (
            ModelRun.objects.exclude(status=ModelRunStatus.FAILED).order_by("-created_at").first()
        )
    due = latest is None or latest.created_at <= timezone.now() - timedelta(
        hours=config.training_interval_hours
    )
    if not due:
        return {"skipped": f"last run {latest.pk} is recent"}
    train_model_task.apply_async(queue=get_settings().training_queue)
    return {"queued": True}
