"""Recompute customer segments (daily by beat; on demand from the CLI)."""

import logging

from celery import shared_task
from django.core.cache import cache

from ..services.segments import refresh_segments

logger = logging.getLogger(__name__)

REFRESH_PENDING = "saleor_personalization:segments-refresh-pending"


@shared_task(name="saleor_personalization.compute_segments", time_limit=3600)
def compute_segments_task() -> dict:
    """Recompute, mirror on the shop's customers, queue offers (``services.segments``)."""
    return refresh_segments().as_dict()


def request_segment_refresh(delay_seconds: int = 600) -> None:
    """Recompute segments soon after behaviour changed (an order, a lapse), debounced.

    RFM groups are quantiles over all customers, so one order can move others too:
    the whole computation reruns, at most once per ``delay_seconds``.
    """
    if cache.add(REFRESH_PENDING, "1", timeout=delay_seconds):
        compute_segments_task.apply_async(countdown=delay_seconds)
