"""Model runs from start to live: train, evaluate, gate, promote, score; roll back.

Each step records itself on the :class:`ModelRun` row, so the Dashboard, the admin
GraphQL queries and the CLI show what happened and why.
"""

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..models import (
    Interaction,
    InteractionKind,
    ListKind,
    ModelRun,
    ModelRunStatus,
    RecommendationList,
    SubjectType,
)
from .artifact import ArtifactError, load_artifact, save_artifact
from .data import EventRows
from .lists import (
    ListOptions,
    scoring_context,
    write_bought_together_lists,
    write_personal_lists,
    write_popular_and_trending,
    write_reorder_list,
    write_similar_lists,
)
from .model import ModelParams, RecommenderModel
from .neighbours import write_neighbours
from .training import NotEnoughData, train_and_evaluate

logger = logging.getLogger(__name__)

# A candidate may trail the live model by this share of its NDCG@10 and still be
# promoted: retraining on fresh data is worth a hair of offline noise.
PROMOTION_TOLERANCE = 0.01


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def promotion_gate(metrics: dict) -> GateDecision:
    """Promote a run that beats bestsellers and is not worse than the live model.

    Without a model every shopper gets bestsellers (leaving out what they bought), so
    the run's *for you* list must find the products new to each customer at least as
    well ("new" protocol). *Buy again* holds only the customer's purchases and has no
    bestseller counterpart; it is judged, with *for you*, against the live model on the
    same holdout as the candidate, in the same run (:func:`.training._live_metrics`).
    """
    ndcg = metrics["new"]["ndcg"]
    popular = metrics["popularity_new"]["ndcg"]
    if ndcg < popular:
        return GateDecision(
            False, f"for you: NDCG@10 {ndcg:.4f} is below bestsellers' {popular:.4f}"
        )
    live = metrics.get("live")
    if not live:
        return GateDecision(
            True, f"for you: NDCG@10 {ndcg:.4f} vs bestsellers {popular:.4f}; no live model"
        )
    compared = []
    for protocol, label in (("all", "buy again"), ("new", "for you")):
        if protocol not in live or protocol not in metrics:
            continue
        mine, theirs = metrics[protocol]["ndcg"], live[protocol]["ndcg"]
        if mine < theirs * (1 - PROMOTION_TOLERANCE):
            return GateDecision(
                False,
                f"{label}: NDCG@10 {mine:.4f} is below the live model's {theirs:.4f} "
                "on the same holdout",
            )
        compared.append(f"{label} NDCG@10 {mine:.4f} vs live {theirs:.4f}")
    return GateDecision(True, "; ".join(compared) + " on the same holdout")


def start_run(params: dict | None = None) -> ModelRun:
    """Validate parameters and record a queued run (raises InvalidParameters)."""
    checked = ModelParams.from_dict(params)
    return ModelRun.objects.create(params=checked.as_dict())


def train_run(run: ModelRun, *, events: EventRows | None = None) -> ModelRun:
    """Train and evaluate ``run``; promote it if the gate allows. Never raises for data."""
    run.status = ModelRunStatus.TRAINING
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at"])
    try:
        params = ModelParams.from_dict(run.params)
        events = events if events is not None else EventRows.from_database()
        live_run = ModelRun.objects.filter(is_live=True).first()
        live_model = _try_load(live_run)
        outcome = train_and_evaluate(
            events,
            params,
            live_model=live_model,
        )
    except NotEnoughData as exc:
        return _fail(run, f"not enough data: {exc}; {_guest_orders()}")
    except Exception as exc:
        logger.exception("Model run %s failed", run.pk)
        return _fail(run, f"{type(exc).__name__}: {exc}")

    run.status = ModelRunStatus.EVALUATING
    run.metrics = outcome.metrics
    run.data_window_start = outcome.data_window_start
    run.data_window_end = outcome.data_window_end
    run.holdout_start = outcome.holdout_start
    try:
        run.artifact, run.artifact_sha256 = save_artifact(outcome.model, run.pk)
    except Exception as exc:
        # Storage full or unreachable: the run must end FAILED, not stay EVALUATING.
        logger.exception("Model run %s: the artifact could not be stored", run.pk)
        return _fail(run, f"artifact not stored: {type(exc).__name__}: {exc}")
    decision = promotion_gate(outcome.metrics)
    run.metrics["gate"] = {"promote": decision.promote, "reason": decision.reason}
    run.status = ModelRunStatus.SUCCEEDED if decision.promote else ModelRunStatus.REJECTED
    run.finished_at = timezone.now()
    run.save()
    if decision.promote:
        promote(run)
    logger.info("Model run %s: %s (%s)", run.pk, run.status, decision.reason)
    return run


def _guest_orders() -> str:
    guest = (
        Interaction.objects.filter(kind=InteractionKind.PURCHASE, customer_id__isnull=True)
        .values("basket_ref")
        .distinct()
        .count()
    )
    return (
        f"guest orders: {guest} (they feed the bestseller, trending and bought-together "
        "lists served until a model is live, not training)"
    )


def _fail(run: ModelRun, error: str) -> ModelRun:
    run.status = ModelRunStatus.FAILED
    run.error = error[:5000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run


def promote(run: ModelRun) -> ModelRun:
    """Make ``run`` the live model (exactly one live run, enforced by the database).

    The run's status is its history and stays as evaluated: a rejected run an admin
    rolls back to is live *and* still says it was rejected, and why.
    """
    if run.status != ModelRunStatus.SUCCEEDED and run.status != ModelRunStatus.REJECTED:
        raise ValueError(f"run {run.pk} is {run.status}; only trained runs can go live")
    with transaction.atomic():
        ModelRun.objects.select_for_update().filter(is_live=True).exclude(pk=run.pk).update(
            is_live=False
        )
        run.is_live = True
        run.promoted_at = timezone.now()
        run.save(update_fields=["is_live", "promoted_at"])
    clear_model_cache()
    return run


def rollback(to_run_id: int | None = None) -> ModelRun:
    """Put an earlier run back live: the given one, or the one live before the current."""
    current = ModelRun.objects.filter(is_live=True).first()
    if to_run_id is not None:
        target = ModelRun.objects.filter(pk=to_run_id).first()
        if target is None:
            raise ValueError(f"there is no model run {to_run_id}")
    else:
        earlier = ModelRun.objects.filter(promoted_at__isnull=False, is_live=False)
        if current is not None and current.promoted_at:
            earlier = earlier.filter(promoted_at__lt=current.promoted_at)
        target = earlier.order_by("-promoted_at").first()
        if target is None:
            raise ValueError("no earlier promoted run to roll back to")
    if not target.artifact:
        raise ValueError(f"run {target.pk} has no artifact ({target.status})")
    load_artifact(target.artifact, target.artifact_sha256)  # refuse a broken artifact
    return promote(target)


# Live model, cached per process ---------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[str, tuple[int, str, RecommenderModel]] = {}


def clear_model_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _try_load(run: ModelRun | None) -> RecommenderModel | None:
    if run is None or not run.artifact:
        return None
    try:
        return load_artifact(run.artifact, run.artifact_sha256)
    except ArtifactError:
        logger.exception("Artifact of model run %s cannot be loaded", run.pk)
        return None


def live_model() -> tuple[ModelRun, RecommenderModel] | None:
    """The live run and its model, loaded once per process and version; None if broken."""
    run = ModelRun.objects.filter(is_live=True).first()
    if run is None:
        return None
    with _cache_lock:
        cached = _cache.get("live")
        if cached and cached[0] == run.pk and cached[1] == run.artifact_sha256:
            return run, cached[2]
    model = _try_load(run)
    if model is None:
        return None
    with _cache_lock:
        _cache["live"] = (run.pk, run.artifact_sha256, model)
    return run, model


# Scoring ----------------------------------------------------------------------


def score_lists(
    *,
    options: ListOptions | None = None,
    customer_ids: list[int] | None = None,
    now: datetime | None = None,
    events: EventRows | None = None,
    product_lists: bool = True,
) -> dict[str, int]:
    """Write lists from the live model (personal for the given or all customers).

    Bestsellers, trending and bought-together lists need no model and count guest
    orders too, so a young shop serves them before its first model goes live.
    """
    options = options or ListOptions()
    now = now or timezone.now()
    events = events if events is not None else EventRows.from_database()
    loaded = live_model()
    run = loaded[0] if loaded else None
    written = write_popular_and_trending(None, now=now, size=options.size)
    purchases = EventRows.all_purchases(until=now) if product_lists else None
    if product_lists:
        written.update(write_bought_together_lists(run, purchases, options.size))
    if loaded is None:
        logger.warning("No usable live model: bestseller, trending and bought-together only")
        return written
    run, model = loaded
    written.update(write_reorder_list(run, model))
    ids = customer_ids if customer_ids is not None else sorted(set(map(int, events.customers)))
    if ids:
        ctx = scoring_context(model, events, ids, now)
        written["personal"] = write_personal_lists(run, ctx, np.arange(len(ids)), options, now)
    if product_lists:
        written.update(write_similar_lists(run, model, options.size))
        written.update(write_neighbours(run, model, purchases=purchases, now=now))
    return written


def changed_customers() -> list[int]:
    """Customers whose personal list is missing, from another model, or older than their data.

    After a run that was not promoted the live model is unchanged, but customers who
    ordered since their list was written must still see it (and the recent-purchase
    rule must apply to what they just bought).
    """
    live = ModelRun.objects.filter(is_live=True).values_list("pk", flat=True).first()
    written = {
        customer_id: (generated_at, run_id)
        for customer_id, generated_at, run_id in RecommendationList.objects.filter(
            kind=ListKind.PERSONAL, subject_type=SubjectType.CUSTOMER
        ).values_list("subject_id", "generated_at", "model_run_id")
    }
    latest = (
        Interaction.objects.filter(customer_id__isnull=False)
        .values("customer_id")
        .annotate(latest=Max("recorded_at"))
        .order_by()
        .values_list("customer_id", "latest")
    )
    changed = []
    for customer_id, recorded in latest:
        generated_at, run_id = written.get(customer_id, (None, None))
        if generated_at is None or run_id != live or recorded > generated_at:
            changed.append(int(customer_id))
    return sorted(changed)


def score_after_run(
    run: ModelRun | None,
    *,
    options: ListOptions | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """After any run, promoted or not: everyone if the live model changed, else who changed."""
    if run is not None and run.is_live:
        return score_lists(options=options, now=now)
    return score_lists(options=options, now=now, customer_ids=changed_customers())
