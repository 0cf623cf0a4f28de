"""Issue segment offers (after every segment recompute, and when a voucher is targeted)."""

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from ..offers.issuing import issue_offers
from ..offers.redemption import catch_up_redemptions
from ..shop import get_shop

ISSUE_LOCK = "saleor_personalization:issue-offers"


@shared_task(name="saleor_personalization.issue_offers", time_limit=1800)
def issue_offers_task() -> dict:
    """One issuing run at a time; the database's one-open-offer rule backs the lock."""
    config, active = get_shop().configuration.load()
    if not active:
        return {"skipped": "plugin inactive"}
    if not cache.add(ISSUE_LOCK, "1", timeout=1800):
        return {"skipped": "another issuing run is in progress"}
    try:
        with get_shop().database.writer():
            codes = get_shop().vouchers.codes()
            # Before the status is written: its "redeemed" counts orders made while
            # the plugin was off too.
            redeemed = catch_up_redemptions(codes)
            campaigns = get_shop().vouchers.campaigns(config)
            report = issue_offers(campaigns, config, timezone.now(), codes)
            get_shop().vouchers.report(campaigns, report)
        return {
            "issued": report.issued,
            "held_out": report.held_out,
            "skipped": report.skipped,
            "closed": report.closed,
            "redeemed_while_off": redeemed,
        }
    finally:
        cache.delete(ISSUE_LOCK)
