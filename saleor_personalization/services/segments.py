"""Refresh customer segments: rules, learned clusters, the shop's mirror, then offers.

The daily task and the ``segment`` command run this same sequence, so memberships
reach the shop's customer metadata and new members get their offers whichever ran.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from ..segments.compute import compute_segments
from ..segments.learned import LearnedReport, compute_learned_segments
from ..segments.rules import SegmentRules
from ..shop import get_shop
from .offers import OfferRun, issue_offers
from .queueing import ISSUE_OFFERS, enqueue

logger = logging.getLogger(__name__)


@dataclass
class SegmentRefresh:
    """One refresh: rule-segment sizes and moves, learned segments, what was written."""

    sizes: dict[str, int] = field(default_factory=dict)
    entered: int = 0
    left: int = 0
    learned: LearnedReport | None = None
    metadata_written: int = 0  # memberships mirrored on the shop's customers
    offers: OfferRun | None = None  # when issued in this process
    offers_queued: bool = False

    def as_dict(self) -> dict:
        return {
            "entered": self.entered,
            "left": self.left,
            "clusters": self.learned.k if self.learned else None,
            "propensity_auc": self.learned.propensity_auc if self.learned else None,
            "metadata_written": self.metadata_written,
        }


def refresh_segments(
    as_of: datetime | None = None, *, offers_inline: bool = False
) -> SegmentRefresh:
    """Recompute segments as of ``as_of`` (now), mirror them, then issue offers.

    Offers follow membership: queued as their own task (their own lock and time
    limit), or issued here with ``offers_inline`` (the command).
    """
    config, _ = get_shop().configuration.load()
    rules = SegmentRules(
        lapse_days=config.lapse_days, abandoner_min_carts=config.abandoner_min_carts
    )
    with get_shop().database.writer():
        report = compute_segments(as_of=as_of, rules=rules)
        try:
            learned = compute_learned_segments(as_of=as_of)
        except Exception:
            # Rule segments (and the offers that follow them) must not wait for the
            # learned ones; the failure is logged and the next run tries again.
            logger.exception("Learned segments failed")
            learned = None
        written = get_shop().customers.write_segments()
    refresh = SegmentRefresh(
        sizes=report.sizes,
        entered=report.entered,
        left=report.left,
        learned=learned,
        metadata_written=written,
    )
    if offers_inline:
        refresh.offers = issue_offers()
    else:
        enqueue(ISSUE_OFFERS)
        refresh.offers_queued = True
    return refresh
