"""Periodic upkeep: reconcile with Saleor's tables every night."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from ..saleor_adapter.availability import saleor_available
from ..saleor_adapter.configuration import load_configuration
from ..saleor_adapter.db import allow_writer

logger = logging.getLogger(__name__)

RECONCILE_WINDOW = timedelta(days=2)


@shared_task(name="saleor_personalization.reconcile", time_limit=3 * 3600)
def reconcile_task() -> dict:
    """Catch what hooks missed: recent orders, catalogue changes, deleted accounts.

    Runs only inside Saleor and only while the plugin is active.
    """
    if not saleor_available():
        return {"skipped": "standalone mode has no Saleor tables to reconcile"}
    _, active = load_configuration()
    if not active:
        return {"skipped": "plugin inactive"}
    from ..offers.redemption import catch_up_redemptions
    from ..saleor_adapter.backfill import run_backfill
    from ..saleor_adapter.vouchers import voucher_codes

    with allow_writer():
        report = run_backfill(since=timezone.now() - RECONCILE_WINDOW)
        # Codes Saleor took while the plugin was off, whenever that was.
        redeemed = catch_up_redemptions(voucher_codes())
    return {**dict(report.as_rows()), "offers redeemed while the plugin was off": redeemed}
