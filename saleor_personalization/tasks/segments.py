"""Recompute customer segments (daily by beat; on demand from the CLI)."""

import logging

from celery import shared_task
from django.core.cache import cache

from ..segments.compute import compute_segments
from ..segments.learned import compute_learned_segments
from ..segments.rules import SegmentRules
from ..shop import get_shop
from .dispatch import enqueue
from .offers import issue_offers_task

logger = logging.getLogger(__name__)

REFRESH_PENDING = "saleor_personalization:segments-refresh-pending"


@shared_task(name="saleor_personalization.compute_segments", time_limit=3600)
def compute_segments_task() -> dict:
    config, _ = get_shop().configuration.load()
    rules = SegmentRules(
        lapse_days=config.lapse_days, abandoner_min_carts=config.abandoner_min_carts
    )
    with get_shop().database.writer():
        report = compute_segments(rules=rules)
        try:
            learned = compute_learned_segments()
        except Exception:
            # Rule segments (and the offers that follow them) must not wait for the
            # learned ones; the failure is logged and the next run tries again.
            logger.exception("Learned segments failed")
            learned = None
        written = get_shop().customers.write_segments()
    # Offers follow membership: new members of targeted segments get their codes.
    enqueue(issue_offers_task)
    return {
        "entered": report.entered,
        "left": report.left,
        "clusters": learned.k if learned else None,
        "propensity_auc": learned.propensity_auc if learned else None,
        "metadata_written": written,
    }


def request_segment_refresh(delay_seconds: int = 600) -> None:
    """Recompute segments soon after behaviour changed (an order, a lapse), debounced.

    RFM groups are quantiles over all customers, so one order can move others too:
    the whole computation reruns, at most once per ``delay_seconds``.
    """
    if cache.add(REFRESH_PENDING, "1", timeout=delay_seconds):
        compute_segments_task.apply_async(countdown=delay_seconds)
