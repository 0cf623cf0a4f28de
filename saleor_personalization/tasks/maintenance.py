"""Periodic upkeep: reconcile with Saleor's tables every night."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from ..shop import get_shop

logger = logging.getLogger(__name__)

RECONCILE_WINDOW = timedelta(days=2)


@shared_task(name="saleor_personalization.reconcile", time_limit=3 * 3600)
def reconcile_task() -> dict:
    """Catch what hooks missed: recent orders, catalogue changes, deleted accounts.

    Runs only inside Saleor and only while the plugin is active.
    """
    if get_shop().name != "saleor":  # interim: moves into the reconcile service
        return {"skipped": "standalone mode has no Saleor tables to reconcile"}
    _, active = get_shop().configuration.load()
    if not active:
        return {"skipped": "plugin inactive"}
    from ..offers.redemption import catch_up_redemptions
    from ..saleor_adapter.backfill import run_backfill

    with get_shop().database.writer():
        report = run_backfill(since=timezone.now() - RECONCILE_WINDOW)
        # Codes Saleor took while the plugin was off, whenever that was.
        redeemed = catch_up_redemptions(get_shop().vouchers.codes())
    return {**dict(report.as_rows()), "offers redeemed while the plugin was off": redeemed}
