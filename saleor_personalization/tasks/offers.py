"""Issue segment offers (after every segment recompute) and record redemptions."""

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from ..offers.issuing import issue_offers
from ..offers.redemption import mark_redeemed
from ..saleor_adapter.configuration import load_configuration
from ..saleor_adapter.db import allow_writer
from ..saleor_adapter.vouchers import targeted_campaigns, voucher_codes

ISSUE_LOCK = "saleor_personalization:issue-offers"


@shared_task(name="saleor_personalization.issue_offers", time_limit=1800)
def issue_offers_task() -> dict:
    """One issuing run at a time; the database's one-open-offer rule backs the lock."""
    config, active = load_configuration()
    if not active:
        return {"skipped": "plugin inactive"}
    if not cache.add(ISSUE_LOCK, "1", timeout=1800):
        return {"skipped": "another issuing run is in progress"}
    try:
        with allow_writer():
            report = issue_offers(
                targeted_campaigns(config), config, timezone.now(), voucher_codes()
            )
        return {
            "issued": report.issued,
            "held_out": report.held_out,
            "skipped": report.skipped,
            "closed": report.closed,
        }
    finally:
        cache.delete(ISSUE_LOCK)


@shared_task(name="saleor_personalization.redeem_offer")
def redeem_offer_task(code: str, order_ref: str) -> bool:
    """Record the order and switch the code off, whatever the voucher's own settings."""
    with allow_writer():
        redeemed = mark_redeemed(code, order_ref, timezone.now())
        if redeemed:
            voucher_codes().deactivate([code])
    return redeemed
