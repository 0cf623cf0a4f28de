"""Staff fields: model runs, list coverage and attribution, segments, offers, emails.

Every field here is bound through the schema's ``staff(...)`` binder, which checks
the shop's manage permission (``MANAGE_PLUGINS`` in Saleor) before the resolver
runs; the resolvers never check for themselves. Reports are computed by the modules
that own their tables (:mod:`..recommender.status`, :mod:`..events.attribution`,
:mod:`..segments.compute`, :mod:`..offers.report`, :mod:`..emails.tracking`) and
only shaped for the schema here.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from ..emails.tracking import email_stats
from ..events.attribution import attribution_report
from ..offers.report import offer_report
from ..recommender.artifact import ArtifactError
from ..recommender.model import InvalidParameters
from ..recommender.status import list_coverage, recent_runs
from ..recommender.status import live_run as current_live_run
from ..segments.compute import SegmentSummary, active_segments
from ..services import training
from ..services.errors import QueueUnavailable, TrainingBusy
from .backend import ShopBackend
from .cost import MAX_FIRST
from .errors import ErrorCode, PersonalizationError
from .ids import database_id
from .types import PersonalizationModelRun

logger = logging.getLogger(__name__)

MAX_DAYS = 3650


def _days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, f"days must be between 1 and {MAX_DAYS}.", "days"
        )
    return days


# Model runs and list coverage --------------------------------------------------------


def model_runs(backend: ShopBackend, info, *, first=20) -> list[PersonalizationModelRun]:
    if first is not None and first < 1:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, f"first must be between 1 and {MAX_FIRST}.", "first"
        )
    size = min(first or 20, MAX_FIRST)
    return [PersonalizationModelRun.from_model(run) for run in recent_runs(size)]


def live_run(backend: ShopBackend, info) -> PersonalizationModelRun | None:
    run = current_live_run()
    return PersonalizationModelRun.from_model(run) if run else None


def stats(backend: ShopBackend, info, *, days=30) -> dict:
    since = timezone.now() - timedelta(days=_days(days))
    coverage = list_coverage(since)
    sources = attribution_report(since)
    return {
        "since": since,
        "active_customers": coverage.active_customers,
        "customers_with_lists": coverage.customers_with_lists,
        "personal_list_share": coverage.personal_list_share,
        "catalogue_coverage": coverage.catalogue_coverage,
        "lists": [{"kind": kind, "lists": n} for kind, n in coverage.lists_by_kind.items()],
        "sources": [
            {
                "source": s.source,
                "clicks": s.clicks,
                "attributed_orders": s.attributed_orders,
                "attributed_revenue": float(s.attributed_revenue),
            }
            for s in sources
        ],
        "clicks": sum(s.clicks for s in sources),
        "attributed_orders": sum(s.attributed_orders for s in sources),
        "attributed_revenue": float(sum(s.attributed_revenue for s in sources)),
    }


def train(backend, info, *, params=None) -> dict:
    """Queue a training for a worker (the training service); never train in the request."""
    try:
        run = training.request_training(params or None)
    except InvalidParameters as error:
        raise PersonalizationError(ErrorCode.INVALID_ARGUMENT, str(error), "params") from error
    except TrainingBusy as error:
        raise PersonalizationError(ErrorCode.INVALID_ARGUMENT, str(error)) from error
    except QueueUnavailable as error:
        raise PersonalizationError(
            ErrorCode.UNAVAILABLE, f"Training was not queued: {error}"
        ) from error
    run.refresh_from_db()
    return {"run": PersonalizationModelRun.from_model(run), "message": "Training queued."}


def rollback_model(backend, info, *, run=None) -> PersonalizationModelRun:
    run_id = None
    if run:
        run_id = database_id(run, "PersonalizationModelRun", "run")
    try:
        target = training.rollback(run_id)
    except ValueError as error:
        raise PersonalizationError(ErrorCode.NOT_FOUND, str(error), "run") from error
    except ArtifactError as error:
        # The artifact error names files on the server; the log has it, the client not.
        logger.warning("Rollback refused: %s", error)
        raise PersonalizationError(
            ErrorCode.NOT_FOUND,
            "The run's model file is missing or damaged; see the server log.",
            "run",
        ) from error
    return PersonalizationModelRun.from_model(target)


# Segments, offers and emails ---------------------------------------------------------


def segments(backend: ShopBackend, info) -> list[SegmentSummary]:
    """The summaries as they are: their fields are the type's (graphene reads attributes)."""
    return active_segments()


def offer_stats(backend: ShopBackend, info) -> list[dict]:
    return [
        {
            "campaign": r.campaign,
            "segment": r.segment_key,
            "issued": r.issued,
            "redeemed": r.redeemed,
            "held_out": r.held_out,
            "revenue_with_offer": float(r.revenue_with_offer),
            "revenue_holdout": float(r.revenue_holdout),
            "uplift": float(r.uplift),
        }
        for r in offer_report()
    ]


def email_stats_for(backend: ShopBackend, info, *, days=30) -> list[dict]:
    since = timezone.now() - timedelta(days=_days(days))
    return [
        {
            "step": s.step,
            "sent": s.sent,
            "opened": s.opened,
            "clicked": s.clicked,
            "recovered_orders": s.recovered_orders,
            "revenue": float(s.revenue),
            "skipped": s.skipped,
            "failed": s.failed,
        }
        for s in email_stats(since)
    ]
