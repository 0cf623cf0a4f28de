"""Periodic upkeep: reconcile with the shop's records every night."""

from celery import shared_task

from ..services.backfill import RECONCILE_WINDOW, reconcile

__all__ = ["RECONCILE_WINDOW", "reconcile_task"]


@shared_task(name="saleor_personalization.reconcile", time_limit=3 * 3600)
def reconcile_task() -> dict:
    """Catch what hooks missed (see ``services.backfill.reconcile``)."""
    return reconcile()
