"""Recompute customer segments (daily by beat; on demand from the CLI)."""

from celery import shared_task

from ..saleor_adapter.configuration import load_configuration
from ..saleor_adapter.db import allow_writer
from ..segments.compute import compute_segments
from ..segments.rules import SegmentRules


@shared_task(name="saleor_personalization.compute_segments", time_limit=3600)
def compute_segments_task() -> dict:
    config, _ = load_configuration()
    rules = SegmentRules(
        lapse_days=config.lapse_days, abandoner_min_carts=config.abandoner_min_carts
    )
    with allow_writer():
        report = compute_segments(rules=rules)
    return {"entered": report.entered, "left": report.left}
