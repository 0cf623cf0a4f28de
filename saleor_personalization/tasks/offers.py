"""Issue segment offers (after every segment recompute, and when a voucher is targeted)."""

from celery import shared_task

from ..services.offers import ISSUE_LOCK, issue_offers

__all__ = ["ISSUE_LOCK", "issue_offers_task"]


@shared_task(name="saleor_personalization.issue_offers", time_limit=1800)
def issue_offers_task() -> dict:
    """One issuing run at a time (see ``services.offers.issue_offers``)."""
    return issue_offers().as_dict()
