"""Training and scoring tasks: thin callers of ``services.training`` and ``services.scoring``.

Training runs on its own queue (``PERSONALIZATION_TRAINING_QUEUE``) so LightFM never
starves Saleor's webhook and email queues; the services choose the queue, hold the
single-flight lock and recover stale runs.
"""

from celery import shared_task

from ..services import scoring, training
from ..services.errors import TrainingBusy
from ..services.scoring import SCORE_CHUNK, scoring_time
from ..services.training import TRAINING_LOCK

__all__ = [
    "SCORE_CHUNK",
    "TRAINING_LOCK",
    "score_all_task",
    "score_customers_task",
    "scoring_time",
    "train_model_task",
    "training_tick_task",
]


@shared_task(
    name="saleor_personalization.train_model", time_limit=4 * 3600, soft_time_limit=3 * 3600
)
def train_model_task(
    run_id: int | None = None, params: dict | None = None, score: bool = True
) -> dict:
    """Train (a queued run, or a new one), evaluate, promote if good, then score lists."""
    try:
        run = training.train(run_id, params, score=score)
    except TrainingBusy:
        return {"skipped": "another training is running"}
    return {"run": run.pk, "status": run.status, "live": run.is_live}


@shared_task(name="saleor_personalization.score_all", time_limit=3 * 3600)
def score_all_task(run_id: int | None = None, changed_only: bool = False) -> dict:
    """Shop-wide and product lists here; personal lists fanned out in chunks."""
    return scoring.score_all(run_id=run_id, changed_only=changed_only)


@shared_task(name="saleor_personalization.score_customers", time_limit=3600)
def score_customers_task(
    customer_ids: list[int], run_id: int | None = None, now: str | None = None
) -> int:
    """Personal lists for these customers from the live model (skipped if it changed)."""
    return scoring.score_customers(customer_ids, run_id=run_id, now=now)


@shared_task(name="saleor_personalization.training_tick")
def training_tick_task() -> dict:
    """Cheap and frequent: start a training when the Dashboard's interval has passed."""
    return training.training_tick()
