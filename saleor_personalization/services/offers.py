"""Issue segment offers: after every segment refresh, when a voucher is targeted, from
the command line. One issuing run at a time; nothing while the plugin is inactive."""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from ..offers import issuing
from ..offers.redemption import catch_up_redemptions
from ..shop import get_shop

logger = logging.getLogger(__name__)

ISSUE_LOCK = "saleor_personalization:issue-offers"
ISSUE_LOCK_SECONDS = 1800


@dataclass
class OfferRun:
    """What one issuing run did, or why it did nothing (``skipped_reason``)."""

    issued: dict[str, int] = field(default_factory=dict)
    held_out: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # campaign -> reason
    closed: int = 0
    redeemed_while_off: int = 0
    skipped_reason: str = ""

    def as_dict(self) -> dict:
        if self.skipped_reason:
            return {"skipped": self.skipped_reason}
        return {
            "issued": self.issued,
            "held_out": self.held_out,
            "skipped": self.skipped,
            "closed": self.closed,
            "redeemed_while_off": self.redeemed_while_off,
        }


def issue_offers(now: datetime | None = None) -> OfferRun:
    """Catch up redemptions, issue codes to new members of targeted segments, report.

    The cache lock keeps two runs apart; the database's one-open-offer rule backs it.
    """
    config, active = get_shop().configuration.load()
    if not active:
        return OfferRun(skipped_reason="plugin inactive")
    if not cache.add(ISSUE_LOCK, "1", timeout=ISSUE_LOCK_SECONDS):
        return OfferRun(skipped_reason="another issuing run is in progress")
    try:
        with get_shop().database.writer():
            codes = get_shop().vouchers.codes()
            # Before the status is written: its "redeemed" counts orders made while
            # the plugin was off too.
            redeemed = catch_up_redemptions(codes)
            campaigns = get_shop().vouchers.campaigns(config)
            report = issuing.issue_offers(campaigns, config, now or timezone.now(), codes)
            get_shop().vouchers.report(campaigns, report)
    finally:
        cache.delete(ISSUE_LOCK)
    return OfferRun(
        issued=report.issued,
        held_out=report.held_out,
        skipped=report.skipped,
        closed=report.closed,
        redeemed_while_off=redeemed,
    )
